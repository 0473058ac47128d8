#!/usr/bin/env python3
"""Prints the broker provisioner's figures. Not a test: it measures and prints.

    scripts/bench.sh            (builds first, then runs bench.py and this)

A console in demo mode with the broker provisioner (one nisshi process per instance) on a fresh
data directory, set up and activated through its HTTP API, then:
- create to produce: from the create request until a Kafka producer (confluent-kafka,
  acks=all) has a message acknowledged by the new instance's broker, with the topic created
  through the console in between; ROUNDS instances one after another; median and worst;
- memory: RSS of each idle broker, and of the console;
- many at once: instances created until MANY are running, then all of them answer a
  metadata request; the host's load and memory then;
- the control loop: a console SIGKILL and restart with MANY brokers running (time until it
  answers, brokers restarted: none expected), then how long a dead broker (kill -9) and a hung
  one (SIGSTOP) take to turn their instance abnormal.
"""
import http.client, json, os, shutil, statistics, subprocess, tempfile, time, urllib.parse

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release", "byoc-console"))
PORT = int(os.environ.get("BENCH_BROKER_CONSOLE_PORT", "18182"))
ROUNDS = int(os.environ.get("BENCH_BROKER_ROUNDS", "20"))
MANY = int(os.environ.get("BENCH_BROKER_MANY", "100"))
PORTS = os.environ.get("BENCH_BROKER_PORTS", "19800-20299")
PASSWORD = "Quiet-Harbor-Lamp-42"


def request(conn, path, body, cookie=None):
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["cookie"] = cookie
    conn.request("POST", path, body=urllib.parse.urlencode(body), headers=headers)
    response = conn.getresponse()
    return response, response.read()


def form(name):
    return {"name": name, "description": "", "kafka_version": "3.9.0", "deployment": "single_zone",
            "vpc_id": "vpc-0a1b2c3d", "subnet_1": "subnet-0000aaaa", "data_bucket": "bench-data",
            "wal_mode": "object_storage", "client_auth": "anonymous", "transit_encryption": "plaintext",
            "endpoint_exposure": "vpc", "size_aku": "3"}


def wait_running(conn, cookie, instance_id):
    while True:
        response, body = request(conn, "/api/instance", {"id": instance_id}, cookie)
        summary = json.loads(body)["summary"]
        if summary["state"] == "running":
            return summary["bootstrap"]
        if summary["state"] == "abnormal":
            raise SystemExit(f"instance {instance_id} abnormal: {summary['state_reason']}")
        time.sleep(0.005)


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def brokers_under(data_dir):
    root = os.path.realpath(os.path.join(data_dir, "brokers"))
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.path.realpath(f"/proc/{entry}/cwd").startswith(root + "/"):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def main():
    data_dir = tempfile.mkdtemp(prefix="byoc-bench-brokers-")
    env = dict(os.environ, RUST_LOG="warn", LEPTOS_SITE_ROOT=os.path.join(ROOT, "target", "site"))
    server = subprocess.Popen([BIN, "demo", "--listen", f"127.0.0.1:{PORT}", "--data-dir", data_dir,
                               "--provisioner", "broker", "--broker-ports", PORTS],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        while True:
            line = server.stdout.readline()
            if not line:
                raise SystemExit("the console exited before printing its demo key")
            if line.startswith("BYOC1."):
                break
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for _ in range(200):
            try:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                break
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
                time.sleep(0.05)
        request(conn, "/api/setup", {"username": "admin", "password": PASSWORD, "password_confirm": PASSWORD,
                                     "environment_name": "Bench", "cloud_provider": "aws", "region": "us-east-1"})
        response, _ = request(conn, "/api/login", {"username": "admin", "password": PASSWORD})
        cookie = response.getheader("set-cookie").split(";")[0]
        installation_id = subprocess.run([BIN, "installation-id", "--data-dir", data_dir], capture_output=True,
                                         text=True, env=dict(os.environ, RUST_LOG="error")).stdout.strip()
        key = subprocess.run([BIN, "vendor", "issue", "--signing-key",
                              os.path.join(data_dir, "demo-vendor", "signing-key.json"),
                              "--installation-id", installation_id, "--customer", "Bench", "--billing", "prepaid",
                              "--aku", str(3 * (MANY + ROUNDS)), "--months", "12", "--license-id", "LIC-BROKERS"],
                             capture_output=True, text=True, check=True,
                             env=dict(os.environ, RUST_LOG="error")).stdout.strip().splitlines()[-1]
        response, body = request(conn, "/api/license_apply", {"key": key}, cookie)
        assert response.status == 200, body

        print(f"Create to a broker that accepts a produce request ({ROUNDS} instances, one after another)")
        to_running, to_ack = [], []
        for i in range(ROUNDS):
            started = time.perf_counter()
            response, body = request(conn, "/api/instance_create", form(f"speed-{i}"), cookie)
            assert response.status == 200, body
            instance_id = body.decode()
            bootstrap = wait_running(conn, cookie, instance_id)
            running = time.perf_counter()
            response, body = request(conn, "/api/topic_create",
                                     {"id": instance_id, "topic": "t", "partitions": "1"}, cookie)
            assert response.status == 200, body
            acked = []
            producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
            producer.produce("t", value=b"hello", on_delivery=lambda err, _m: acked.append(err is None))
            producer.flush(30)
            assert acked == [True], acked
            done = time.perf_counter()
            to_running.append((running - started) * 1000)
            to_ack.append((done - started) * 1000)
        print(f"  create -> running:                 median {statistics.median(to_running):7.0f} ms"
              f"   worst {max(to_running):7.0f} ms")
        print(f"  create -> topic -> first ack:      median {statistics.median(to_ack):7.0f} ms"
              f"   worst {max(to_ack):7.0f} ms")

        time.sleep(12)  # idle, a few traffic readings taken
        pids = brokers_under(data_dir)
        rss = [rss_kb(p) for p in pids]
        print(f"\nIdle: {len(pids)} brokers, RSS per broker median {statistics.median(rss)/1024:.1f} MiB"
              f" (min {min(rss)/1024:.1f}, max {max(rss)/1024:.1f}); console {rss_kb(server.pid)/1024:.1f} MiB")

        print(f"\nMany at once: instances created until {MANY} run")
        started = time.perf_counter()
        ids = []
        for i in range(MANY - ROUNDS):
            response, body = request(conn, "/api/instance_create", form(f"many-{i}"), cookie)
            assert response.status == 200, body
            ids.append(body.decode())
        bootstraps = [wait_running(conn, cookie, i) for i in ids]
        elapsed = time.perf_counter() - started
        answered = 0
        for b in bootstraps:
            admin = AdminClient({"bootstrap.servers": b})
            if admin.list_topics(timeout=10).brokers:
                answered += 1
        pids = brokers_under(data_dir)
        total = sum(rss_kb(p) for p in pids) / 1024
        load = open("/proc/loadavg").read().split()[:3]
        print(f"  {len(pids)} brokers running; {MANY - ROUNDS} more created and running in {elapsed:.1f} s;"
              f" {answered}/{len(bootstraps)} of them answered a metadata request")
        print(f"  brokers' RSS together {total:.0f} MiB; console {rss_kb(server.pid)/1024:.1f} MiB;"
              f" load average {' '.join(load)}")
        ticks = os.sysconf("SC_CLK_TCK")
        def cpu_seconds(pid):
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        before = cpu_seconds(server.pid)
        time.sleep(20)
        print(f"  console CPU while idle with {len(pids)} brokers (a traffic reading of each every 5 s):"
              f" {(cpu_seconds(server.pid) - before) / 20 * 100:.1f} % of a core")
        # The control loop: a console SIGKILL and restart with every broker running.
        log_path = os.environ.get("BENCH_CONSOLE_LOG", os.devnull)

        def start_console():
            log = open(log_path, "a")
            proc = subprocess.Popen([BIN, "demo", "--listen", f"127.0.0.1:{PORT}", "--data-dir", data_dir,
                                     "--provisioner", "broker", "--broker-ports", PORTS],
                                    stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(env, RUST_LOG="warn,app::server::reconciler=info"))
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
                    c.request("GET", "/healthz")
                    response = c.getresponse()
                    response.read()
                    if response.status == 200:
                        return proc, c
                except OSError:
                    pass
                time.sleep(0.005)

        before = sorted(brokers_under(data_dir))
        server.kill()
        server.wait()
        started = time.perf_counter()
        server, conn = start_console()
        serving_again = time.perf_counter() - started
        time.sleep(5)  # two passes of the control loop
        after = sorted(brokers_under(data_dir))
        states = [json.loads(request(conn, "/api/instance", {"id": i}, cookie)[1])["summary"]["state"]
                  for i in ids]
        print(f"\nConsole SIGKILL and restart with {len(before)} running brokers: answering /healthz after"
              f" {serving_again * 1000:.0f} ms; brokers restarted: {len(set(before) - set(after))};"
              f" instances running: {states.count('running')}/{len(ids)}")

        def time_to_abnormal(instance_id, pid, sig):
            os.kill(pid, sig)
            t0 = time.perf_counter()
            while True:
                summary = json.loads(request(conn, "/api/instance", {"id": instance_id}, cookie)[1])["summary"]
                if summary["state"] == "abnormal":
                    return time.perf_counter() - t0, summary["state_reason"]
                if time.perf_counter() - t0 > 30:
                    return None, summary["state"]
                time.sleep(0.01)

        def pid_of(instance_id):
            return int(open(os.path.join(data_dir, "brokers", f"instance-{instance_id}", "broker.pid")).read())

        # A broker adopted from the killed console (not this console's child): found by probes.
        dead, why = time_to_abnormal(ids[0], pid_of(ids[0]), 9)
        print(f"Dead broker (kill -9, adopted from the previous console) -> abnormal in {dead * 1000:.0f} ms: {why}")
        hung, why = time_to_abnormal(ids[1], pid_of(ids[1]), 19)  # SIGSTOP
        print(f"Hung broker (SIGSTOP) -> abnormal in {hung * 1000:.0f} ms: {why}")
        def healed(instance_id):
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 60:
                summary = json.loads(request(conn, "/api/instance", {"id": instance_id}, cookie)[1])["summary"]
                if summary["state"] == "running":
                    return time.perf_counter() - t0
                time.sleep(0.01)
            raise SystemExit(f"instance {instance_id} not healed in 60 s")

        for i in ids[:2]:
            print(f"  instance {i} running again {healed(i):.1f} s later")
        # Now both are this console's children: an exit is reaped and acted on at once.
        dead, why = time_to_abnormal(ids[0], pid_of(ids[0]), 9)
        print(f"Dead broker (kill -9, started by this console) -> abnormal in {dead * 1000:.0f} ms: {why}")
        print(f"  running again {healed(ids[0]):.1f} s later")

        started = time.perf_counter()
        server.terminate()
        server.wait(timeout=120)
        left = brokers_under(data_dir)
        print(f"Console stopped (SIGTERM) in {time.perf_counter() - started:.1f} s;"
              f" brokers left serving: {len(left)} (the data plane outlives the console)")
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=120)
        for pid in brokers_under(data_dir):
            os.kill(pid, 9)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
