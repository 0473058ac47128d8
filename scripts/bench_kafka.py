#!/usr/bin/env python3
"""Prints the data plane's figures: a three-node Kafka 4.4 cluster made by the engine. Not a
test: it measures and prints.

    python3 scripts/bench_kafka.py      (scripts/bench.sh runs it; needs scripts/fetch_kafka.sh's
                                         Kafka, Java 17 and confluent-kafka)

It builds engine/examples/cluster.rs and runs it on a fresh directory (three combined nodes,
256 MiB heaps, the plaintext client listener on 127.0.0.1), one cluster at a time, then:
- create -> first produce accepted: from starting the example until confluent-kafka has one
  message acknowledged with acks=all, a topic of replication factor 3 created in between
  (storage format, three JVMs, listeners bound, topic, first acknowledgement);
- RSS of each node (/proc/PID/status VmRSS) idle, and its peak under the load below;
- produce throughput with Kafka's own ProducerPerformance (kafka-tools 4.4.0, the JVM of
  kafka-producer-perf-test.sh) against the cluster: a topic of replication factor 3 with
  acks=all (what an instance is), and side by side the same topic with acks=1 and a topic of
  replication factor 1 (no replication), BENCH_KAFKA_RECORDS records of 1,024 bytes each,
  unthrottled, after a warm-up run;
- the stall a producer sees when one node is SIGKILLed: engine/tests/clients/kafka_client.py's
  produce (confluent-kafka, acks=all, idempotent) runs, a node that is not the quorum's leader
  is killed, and the longest gap between two acknowledgements is what the client reports; then
  every acknowledged message is read back;
- the stop of the two nodes left (SIGTERM, controlled shutdown).

BENCH_KAFKA_RECORDS (default 200000), BENCH_KAFKA_EXAMPLE (a built example: skips the build).
The nodes, the producer tool and the clients share the machine's cores; the figures are of
the whole cluster on one host, not of a node on a machine of its own.
"""
import gc, json, os, platform, re, shutil, signal, subprocess, sys, tempfile, threading, time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAFKA_HOME = os.environ.get("BYOC_KAFKA_HOME", os.path.expanduser("~/.local/share/byoc/kafka-4.4.0"))
LIBS = os.path.join(KAFKA_HOME, "libs")
EXAMPLE = os.environ.get("BENCH_KAFKA_EXAMPLE")
RECORDS = int(os.environ.get("BENCH_KAFKA_RECORDS", "200000"))
CLIENT = os.path.join(ROOT, "engine", "tests", "clients", "kafka_client.py")
IDLE_SECONDS = 10
PARTITIONS = 6


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def mib(kb):
    return f"{kb / 1024:.0f} MiB"


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"{os.cpu_count()} cores ({model}), {mem / 1024 / 1024:.0f} GiB, {platform.system()} "
            f"{platform.release()}; {java}")


def build_example():
    if EXAMPLE:
        return EXAMPLE
    subprocess.run(["cargo", "build", "--quiet", "-p", "byoc-engine", "--example", "cluster"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "debug", "examples", "cluster")


class Cluster:
    """engine/examples/cluster.rs running in `directory`: started, its JSON line read."""

    def __init__(self, binary, directory):
        self.directory = directory
        self.log = open(os.path.join(directory, "example.log"), "w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([binary, os.path.join(directory, "cluster")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        self.listening = time.perf_counter()
        if not line:
            self.proc.wait()
            self.log.flush()
            raise SystemExit("the example exited before its cluster listened:\n"
                             + open(self.log.name).read()[-3000:])
        self.info = json.loads(line)
        self.bootstrap = self.info["bootstrap"]
        self.pids = self.info["pids"]

    def stop(self):
        """Closes the example's stdin; answers the seconds until it has stopped every node."""
        started = time.perf_counter()
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
        return time.perf_counter() - started

    def kill_leftovers(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        root = os.path.realpath(self.directory)
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.path.realpath(f"/proc/{entry}/cwd").startswith(root + "/"):
                        os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass


# One Admin client per cluster, dropped before the cluster stops (else it logs each failed
# reconnection); librdkafka's informational lines (a client destroyed with an event unread)
# would fall between the figures.
ADMINS = {}


def create_topic(bootstrap, name, partitions, replicas, config=None, limit=120):
    """Creates the topic, retrying while the cluster is not ready (fewer brokers registered
    than replicas); answers when the create has succeeded."""
    if bootstrap not in ADMINS:
        ADMINS[bootstrap] = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    admin = ADMINS[bootstrap]
    deadline = time.monotonic() + limit
    while True:
        future = admin.create_topics([NewTopic(name, partitions, replicas, config=config or {})])[name]
        try:
            future.result(timeout=30)
            return
        except Exception as e:  # KafkaException: not enough brokers yet, timeouts
            code = e.args[0].name() if e.args and hasattr(e.args[0], "name") else ""
            if code == "TOPIC_ALREADY_EXISTS":
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def first_ack(bootstrap, topic, limit=120):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                         "message.timeout.ms": limit * 1000})
    results = []
    producer.produce(topic, value=b"hello", on_delivery=lambda err, _m: results.append(err))
    producer.flush(limit)
    if results != [None]:
        raise SystemExit(f"the first produce was not acknowledged: {results}")


def active_controller(bootstrap):
    """The quorum's leader, by Kafka's own tool (DescribeQuorum through a broker)."""
    out = subprocess.run(["java", "-Xmx256m", "-cp", f"{LIBS}/*", "org.apache.kafka.tools.MetadataQuorumCommand",
                          "--bootstrap-server", bootstrap, "describe", "--status"],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r"^LeaderId:\s*(\d+)", out.stdout, re.M)
    if not m:
        raise SystemExit(f"no LeaderId in the quorum's description: {out.stdout}{out.stderr[-2000:]}")
    return int(m.group(1))


SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                     r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")


def producer_performance(bootstrap, topic, records, acks, pids):
    """Kafka's ProducerPerformance; answers its summary figures and each node's peak RSS."""
    command = ["java", "-Xmx512m", "-cp", f"{LIBS}/*", "org.apache.kafka.tools.ProducerPerformance",
               "--topic", topic, "--num-records", str(records), "--record-size", "1024", "--throughput", "-1",
               "--bootstrap-server", bootstrap, "--command-property", f"acks={acks}"]
    peaks = {pid: rss_kb(pid) for pid in pids}
    done = threading.Event()

    def sample():
        while not done.wait(0.5):
            for pid in pids:
                peaks[pid] = max(peaks[pid], rss_kb(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    lines = [l for l in out.stdout.splitlines() if SUMMARY.search(l)]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"ProducerPerformance failed ({out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    m = SUMMARY.search(lines[-1])
    figures = {"records": int(m.group(1)), "records_s": float(m.group(2)), "mb_s": float(m.group(3)),
               "avg_ms": float(m.group(4)), "max_ms": float(m.group(5)), "p50_ms": int(m.group(6)),
               "p95_ms": int(m.group(7)), "p99_ms": int(m.group(8)), "p999_ms": int(m.group(9)),
               "line": lines[-1].strip(), "seconds": elapsed}
    return figures, peaks


def stall_when_killed(cluster, directory):
    """kafka_client.py produce under a SIGKILL of a node that is not the quorum's leader."""
    bootstrap = cluster.bootstrap
    create_topic(bootstrap, "stall", PARTITIONS, 3)
    leader = active_controller(bootstrap)
    victim = next(n for n in (1, 2, 0) if n != leader)
    stop_file, acked_file = os.path.join(directory, "stop"), os.path.join(directory, "acked")
    producing = time.perf_counter()
    producer = subprocess.Popen([sys.executable, CLIENT, "produce", bootstrap, "stall", stop_file, acked_file],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def acked():
        try:
            with open(acked_file, "rb") as f:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        except OSError:
            return 0

    def until(what, limit, check):
        deadline = time.monotonic() + limit
        while not check():
            if time.monotonic() > deadline or producer.poll() is not None:
                raise SystemExit(f"{what}: not within {limit} s")
            time.sleep(0.1)

    until("the producer's first acknowledgements", 60, lambda: acked() > 2000)
    time.sleep(3)  # a steady stream before the kill
    before = acked()
    os.kill(cluster.pids[victim], signal.SIGKILL)
    until("acknowledgements go on with one node down", 120, lambda: acked() > before + 1000)
    time.sleep(3)
    open(stop_file, "w").close()
    out, _ = producer.communicate(timeout=180)
    figures = json.loads(out)
    rate = figures["sent"] / (time.perf_counter() - producing)
    consumed = json.loads(subprocess.run([sys.executable, CLIENT, "consume", bootstrap, "stall", acked_file, "120"],
                                         capture_output=True, text=True, check=True).stdout)
    return victim, leader, rate, figures, consumed


def main():
    if not os.path.exists(os.path.join(LIBS, "kafka-tools-4.4.0.jar")):
        raise SystemExit(f"Kafka 4.4.0 is not in {LIBS}: run scripts/fetch_kafka.sh")
    binary = build_example()
    load = open("/proc/loadavg").read().split()[:3]
    print("The data plane: a three-node Kafka 4.4.0 cluster made by the engine (engine/examples/cluster.rs)")
    print(f"  machine: {machine()}")
    print(f"  load average before the run {' '.join(load)}: other work runs on this machine; the three nodes,")
    print("  ProducerPerformance and the Python clients share its cores")
    directory = tempfile.mkdtemp(prefix="byoc-bench-kafka-")
    cluster = None
    bench_started = time.perf_counter()
    try:
        cluster = Cluster(binary, directory)
        create_topic(cluster.bootstrap, "first", 1, 3)
        topic_at = time.perf_counter()
        first_ack(cluster.bootstrap, "first")
        acked_at = time.perf_counter()
        info = cluster.info
        print("\nCreate -> first produce accepted (acks=all, confluent-kafka; one cluster)")
        print(f"  storage formatted (3 StorageTool JVMs, one after another) {info['formatted_ms']:7,} ms")
        print(f"  3 node JVMs started -> every client port accepts          {info['started_ms']:7,} ms")
        print(f"  example started -> listening (both above, certificates)   "
              f"{(cluster.listening - cluster.started) * 1000:7,.0f} ms")
        print(f"  listening -> topic created (RF 3, 1 partition)            "
              f"{(topic_at - cluster.listening) * 1000:7,.0f} ms")
        print(f"  topic created -> first message acknowledged               {(acked_at - topic_at) * 1000:7,.0f} ms")
        print(f"  create -> first produce accepted                          "
              f"{(acked_at - cluster.started) * 1000:7,.0f} ms")

        time.sleep(IDLE_SECONDS)
        idle = [rss_kb(p) for p in cluster.pids]
        print(f"\nRSS per node, idle {IDLE_SECONDS} s after the first produce (heap 256 MiB, -Xms = -Xmx):"
              f" {', '.join(mib(k) for k in idle)}; together {mib(sum(idle))}")

        create_topic(cluster.bootstrap, "perf-rf3", PARTITIONS, 3)
        create_topic(cluster.bootstrap, "perf-rf1", PARTITIONS, 1, {"min.insync.replicas": "1"})
        warm_up = max(RECORDS // 4, 10000)
        producer_performance(cluster.bootstrap, "perf-rf3", warm_up, "all", cluster.pids)
        runs = [("RF 3, acks=all (an instance: min.insync.replicas 2)", "perf-rf3", "all"),
                ("RF 3, acks=1 (the leader's write only)", "perf-rf3", "1"),
                ("RF 1, acks=all (no replication)", "perf-rf1", "all")]
        results = []
        peaks_all = {p: 0 for p in cluster.pids}
        for label, topic, acks in runs:
            figures, peaks = producer_performance(cluster.bootstrap, topic, RECORDS, acks, cluster.pids)
            results.append((label, figures, peaks))
            for p in peaks:
                peaks_all[p] = max(peaks_all[p], peaks[p])
        print(f"\nProduce throughput, Kafka's ProducerPerformance (kafka-tools 4.4.0, -Xmx512m): {RECORDS:,} records"
              f" of 1,024 B, --throughput -1, {PARTITIONS} partitions, producer defaults; after a warm-up run of"
              f" {warm_up:,}")
        print(f"  {'':54} {'records/s':>10} {'MB/s':>7} {'avg ms':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
        for label, f, _ in results:
            print(f"  {label:54} {f['records_s']:10,.0f} {f['mb_s']:7.1f} {f['avg_ms']:7.0f} {f['p50_ms']:7}"
                  f" {f['p99_ms']:7} {f['max_ms']:7.0f}")
        base = results[0][1]["mb_s"]
        print(f"  replicated (RF 3, acks=all) / RF 1: {base / results[2][1]['mb_s'] * 100:.0f} % of the throughput;"
              f" acks=1 / acks=all on RF 3: {results[1][1]['mb_s'] / base * 100:.0f} %")
        print("  (MB/s as the tool prints it: 2^20 bytes; unthrottled, so latency is mostly the time a record waits"
              " in the producer's 32 MiB buffer)")
        for label, f, _ in results:
            print(f"    {label.split(' (')[0]}: {f['line']}")
        print(f"  RSS per node, peak under the RF 3 acks=all run: "
              f"{', '.join(mib(results[0][2][p]) for p in cluster.pids)}; peak over all three runs: "
              f"{', '.join(mib(peaks_all[p]) for p in cluster.pids)}")

        victim, leader, rate, figures, consumed = stall_when_killed(cluster, directory)
        print(f"\nOne node SIGKILLed under an acks=all producer (kafka_client.py produce: confluent-kafka,"
              f" idempotent, {PARTITIONS} partitions, RF 3, about {rate:,.0f} messages a second)")
        print(f"  killed node {victim} (a broker and voter; the quorum's leader was node {leader}, left running)")
        print(f"  longest gap between two acknowledgements: {figures['longest_gap_ms']:,} ms (the nodes' default"
              f" broker.session.timeout.ms is 9,000)")
        print(f"  sent {figures['sent']:,}, acknowledged {figures['acked']:,}, failed {figures['failed']};"
              f" read back {consumed['seen']:,} of {consumed['expected']:,} acknowledged"
              f" (missing: {len(consumed['missing'])})")

        ADMINS.clear()
        gc.collect()
        stopped_in = cluster.stop()
        print(f"\nThe two nodes left stopped (SIGTERM, controlled shutdown, Cluster::stop_all) in {stopped_in:.1f} s")
        print(f"Bench run time {time.perf_counter() - bench_started:.0f} s; load average after"
              f" {' '.join(open('/proc/loadavg').read().split()[:3])}")
    finally:
        ADMINS.clear()
        if cluster is not None:
            cluster.kill_leftovers()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
