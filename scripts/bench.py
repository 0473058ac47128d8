#!/usr/bin/env python3
"""Prints the console's size and speed figures. Not a test: it measures and prints.

    scripts/bench.sh            (builds first, then runs this)

Sizes: the hydration WASM, its JS glue and the CSS (raw and gzip -9), the server binary.
Speed: a console started in demo mode on a fresh data directory on loopback; set up, signed
in and activated through its HTTP API; then N sequential requests per route, timed on the
client (median and 99th percentile), plus the time of one sign-in (Argon2id, m=19 MiB, t=2).
First load: Chromium loads /login, / and /instances in fresh contexts (nothing cached) until
the WASM has hydrated the page, with the bytes transferred (end2end/bench/first-load.mjs).
The quota path: CREATES instance creations from WORKERS concurrent connections against a
large quota (each one BEGIN IMMEDIATE, quota check, three inserts, commit on a synchronous=FULL
database), then as many refused ones over the quota; creations per second, wall clock.
"""
import concurrent.futures, gzip, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.path.join(ROOT, "target", "site", "pkg")
# The splitter's loader, under the name Leptos links to (scripts/build.sh).
LOADER = "__wasm_split.______________________.js"
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release", "byoc-console"))
PORT = int(os.environ.get("BENCH_PORT", "18181"))
N = int(os.environ.get("BENCH_REQUESTS", "300"))
CREATES = int(os.environ.get("BENCH_CREATES", "400"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "16"))


def instance_form(name, size):
    return {"name": name, "description": "", "kafka_version": "3.9.0", "deployment": "single_zone",
            "vpc_id": "vpc-0a1b2c3d", "subnet_1": "subnet-0000aaaa", "data_bucket": "bench-data",
            "wal_mode": "object_storage", "client_auth": "sasl_scram", "transit_encryption": "tls",
            "endpoint_exposure": "vpc", "size_aku": str(size)}


def create_burst(cookie, prefix, count, size):
    """`count` creations over WORKERS connections; returns (seconds, statuses)."""
    local = __import__("threading").local()

    def one(i):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        _, response, _ = request(local.conn, "POST", "/api/instance_create",
                                 instance_form(f"{prefix}-{i}", size), cookie)
        return response.status

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        statuses = list(pool.map(one, range(count)))
    return time.perf_counter() - started, statuses


def p99_of_instances(cookie, n=300):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    times = []
    for _ in range(n):
        elapsed, response, _ = request(conn, "POST", "/api/instances", {}, cookie)
        assert response.status == 200, response.status
        times.append(elapsed * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+) kB", open(f"/proc/{pid}/status").read()).group(1))


def sign_ins(password, count, parallel):
    """`count` right-password sign-ins as admin, `parallel` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        _, response, _ = request(conn, "POST", "/api/login", {"username": "admin", "password": password})
        assert response.status == 200, response.status

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(count)))


def login_flood(cookie, sources, seconds=None):
    """Wrong-password sign-ins from `sources` loopback addresses (8 threads) while the
    instance list is timed; returns (median, p99, statuses seen)."""
    import threading
    stop = threading.Event()
    statuses = {}
    lock = threading.Lock()

    def flood(worker):
        conns = {}
        i = worker
        while not stop.is_set():
            source = f"127.0.0.{10 + i % sources}"
            conn = conns.get(source) or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30,
                                                                   source_address=(source, 0))
            conns[source] = conn
            try:
                _, response, _ = request(conn, "POST", "/api/login",
                                         {"username": "mallory", "password": "wrong-password-xyz"})
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            except OSError:
                conns.pop(source, None)
            i += 8

    threads = [threading.Thread(target=flood, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    try:
        median, p99 = p99_of_instances(cookie)
    finally:
        stop.set()
        for t in threads:
            t.join()
    return median, p99, statuses


def quota_path(data_dir, installation_id, cookie, conn):
    signing = os.path.join(data_dir, "demo-vendor", "signing-key.json")
    out = subprocess.run([BIN, "vendor", "issue", "--signing-key", signing, "--installation-id", installation_id,
                          "--customer", "Bench", "--billing", "prepaid", "--aku", str(CREATES * 3),
                          "--months", "12", "--license-id", "LIC-BENCH-BIG"],
                         capture_output=True, text=True, check=True, env=dict(os.environ, RUST_LOG="error"))
    big_key = out.stdout.strip().splitlines()[-1]
    _, response, body = request(conn, "POST", "/api/license_apply", {"key": big_key}, cookie)
    assert response.status == 200, body
    print(f"\nQuota path: {CREATES} creations of 3 AKU from {WORKERS} concurrent connections (quota {CREATES * 3} AKU)")
    seconds, statuses = create_burst(cookie, "fit", CREATES, 3)
    accepted = statuses.count(200)
    print(f"  accepted {accepted}/{CREATES} in {seconds:.2f} s: {accepted / seconds:.0f} creations/s")
    seconds, statuses = create_burst(cookie, "over", CREATES, 3)
    refused = statuses.count(422)
    print(f"  over the quota: refused {refused}/{CREATES} in {seconds:.2f} s: {refused / seconds:.0f} refusals/s")
    _, response, body = request(conn, "POST", "/api/instances", {}, cookie)
    listed = json.loads(body)
    print(f"  AKU in use afterwards: {listed['quota']['used_aku']} of {listed['quota']['quota']} (never more)")


def size_line(name, path):
    raw = open(path, "rb").read()
    print(f"  {name:<28} {len(raw)/1024:8.1f} KiB raw {len(gzip.compress(raw, 9))/1024:8.1f} KiB gzip")


def request(conn, method, path, body=None, cookie=None):
    headers = {}
    if body is not None:
        body = urllib.parse.urlencode(body)
        headers["content-type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["cookie"] = cookie
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return time.perf_counter() - start, response, data


def main():
    print("Sizes")
    size_line("WASM main module", os.path.join(SITE, "byoc-console_bg.wasm"))
    for label, prefix in [("WASM page modules", "split_"), ("WASM shared chunks", "chunk_")]:
        files = sorted(f for f in os.listdir(SITE) if f.startswith(prefix) and f.endswith(".wasm"))
        raw = sum(os.path.getsize(os.path.join(SITE, f)) for f in files)
        gz = sum(os.path.getsize(os.path.join(SITE, f + ".gz")) for f in files)
        print(f"  {label + f' ({len(files)})':<28} {raw/1024:8.1f} KiB raw {gz/1024:8.1f} KiB gzip (all of them)")
    size_line("WASM loader (__wasm_split.*.js)", os.path.join(SITE, LOADER))
    size_line("JS glue (byoc-console.js)", os.path.join(SITE, "byoc-console.js"))
    size_line("CSS", os.path.join(SITE, "byoc-console.css"))
    print(f"  {'server binary':<28} {os.path.getsize(BIN)/1024/1024:8.1f} MiB ({os.path.relpath(BIN, ROOT)})")

    data_dir = tempfile.mkdtemp(prefix="byoc-bench-")
    env = dict(os.environ, RUST_LOG="warn", LEPTOS_SITE_ROOT=os.path.join(ROOT, "target", "site"))
    server = subprocess.Popen([BIN, "demo", "--listen", f"127.0.0.1:{PORT}", "--data-dir", data_dir,
                               "--provisioner", "simulated"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        key = None
        started = time.perf_counter()
        while key is None:
            line = server.stdout.readline()
            if not line:
                raise SystemExit("the console exited before printing its demo key")
            if line.startswith("BYOC1."):
                key = line.strip()
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        for _ in range(100):
            try:
                request(conn, "GET", "/healthz")
                break
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
                time.sleep(0.05)
        print(f"\nStart-up to first answer: {(time.perf_counter() - started)*1000:.0f} ms (incl. migrations)")
        password = "Quiet-Harbor-Lamp-42"
        request(conn, "POST", "/api/setup", {"username": "admin", "password": password, "password_confirm": password,
                                             "environment_name": "Bench", "cloud_provider": "aws", "region": "us-east-1"})
        elapsed, response, _ = request(conn, "POST", "/api/login", {"username": "admin", "password": password})
        cookie = response.getheader("set-cookie").split(";")[0]
        print(f"One sign-in (Argon2id verify + session): {elapsed*1000:.0f} ms")
        # Each hash takes a 19 MiB block on a blocking-pool thread: is it given back?
        before = rss_kib(server.pid)
        sign_ins(password, count=12, parallel=4)
        print(f"Memory around 12 more sign-ins, 4 at a time: {before / 1024:.0f} MiB RSS before,"
              f" {rss_kib(server.pid) / 1024:.0f} MiB after")
        _, response, body = request(conn, "POST", "/api/license_apply", {"key": key}, cookie)
        assert response.status == 200, body

        # One instance (id 1 in this fresh database), for its page: the largest page module.
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        sys.dont_write_bytecode = True
        import bench_api  # noqa: E402  (its instance form)
        _, response, body = request(conn, "POST", "/api/instance_create",
                                    bench_api.instance_form("first-load", bench_api.SIZE_AKU), cookie)
        assert response.status == 200, body

        print("\nFirst load in Chromium, nothing cached (end2end/bench/first-load.mjs, 7 loads each)")
        subprocess.run(["node", os.path.join(ROOT, "end2end", "bench", "first-load.mjs"),
                        f"http://127.0.0.1:{PORT}", "admin", password, "7", "/instances/1"], check=True)

        print(f"\nLatency over {N} sequential requests on one keep-alive connection (client side)")
        for method, path in [("GET", "/healthz"), ("POST", "/api/session"), ("POST", "/api/license"),
                             ("GET", "/"), ("GET", "/license"), ("GET", "/pkg/byoc-console_bg.wasm")]:
            times = []
            for _ in range(N):
                elapsed, response, _ = request(conn, method, path, {} if method == "POST" else None, cookie)
                assert response.status == 200, (path, response.status)
                times.append(elapsed * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"  {method:<4} {path:<28} median {statistics.median(times):6.2f} ms   p99 {p99:6.2f} ms")
        for encoding in ["br", "gzip", "identity"]:
            conn.request("GET", "/pkg/byoc-console_bg.wasm", headers={"accept-encoding": encoding})
            response = conn.getresponse()
            body = response.read()
            served = response.getheader("content-encoding") or "identity"
            print(f"  WASM as sent for accept-encoding {encoding:<8}: {len(body)/1024:7.1f} KiB ({served})")
        installation_id = subprocess.run([BIN, "installation-id", "--data-dir", data_dir], capture_output=True,
                                         text=True, env=dict(os.environ, RUST_LOG="error")).stdout.strip()
        quota_path(data_dir, installation_id, cookie, conn)
        times = []
        for _ in range(N):
            elapsed, response, _ = request(conn, "POST", "/api/instances", {}, cookie)
            times.append(elapsed * 1000)
        times.sort()
        print(f"  POST /api/instances with {CREATES} instances: median {statistics.median(times):6.2f} ms"
              f"   p99 {times[min(len(times) - 1, int(len(times) * 0.99))]:6.2f} ms")
        print("\nA sign-in flood (8 threads of wrong passwords) against the instance list (300 sequential requests)")
        median, p99 = p99_of_instances(cookie)
        print(f"  no flood:                      median {median:6.2f} ms   p99 {p99:6.2f} ms")
        for sources in (1, 50):
            m, p, statuses = login_flood(cookie, sources)
            print(f"  flood from {sources:>2} address(es):     median {m:6.2f} ms   p99 {p:6.2f} ms"
                  f"   ({p / p99:.1f}x p99; sign-in answers {dict(sorted(statuses.items()))})")
        print(f"\nServer memory after the run: {rss_kib(server.pid)} kB RSS")
        server = metering_restart(server, data_dir, env)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


def metering_restart(server, data_dir, env):
    """Metering across a restart: kill -9 the console, move every instance's history a week
    back (as if the console had been down that long), start it again and time the back-fill;
    kill -9 it once more in the middle of the back-fill, start again, and check that every
    hour ends up metered exactly once."""
    import sqlite3
    days = int(os.environ.get("BENCH_BACKFILL_DAYS", "7"))
    server.kill()
    server.wait(timeout=10)
    db_path = os.path.join(data_dir, "console.db")
    db = sqlite3.connect(db_path)
    db.execute("UPDATE instance_history SET at = at - ?", (days * 86400,))
    db.execute("DELETE FROM metering_progress")
    db.execute("DELETE FROM usage_ledger")
    db.commit()
    instances = db.execute("SELECT COUNT(DISTINCT instance_id) FROM instance_history").fetchone()[0]
    db.close()
    target = int(time.time()) // 3600 * 3600

    def start():
        return subprocess.Popen([BIN, "demo", "--listen", f"127.0.0.1:{PORT}", "--data-dir", data_dir,
                               "--provisioner", "simulated"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def progress():
        db = sqlite3.connect(db_path, timeout=30)
        try:
            row = db.execute("SELECT metered_until FROM metering_progress WHERE id = 1").fetchone()
            return row[0] if row else 0
        finally:
            db.close()

    print(f"\nMetering across a restart: {instances} instances, history moved {days} days back, kill -9 and start")
    started = time.perf_counter()
    server = start()
    first = None
    while True:
        until = progress()
        if first is None and until:
            first = time.perf_counter() - started
        if until >= target:
            break
        # Once about half the hours are done, kill it in the middle of the back-fill.
        if until and until >= target - days * 86400 // 2 and server is not None and not getattr(server, "killed", False):
            server.kill()
            server.wait(timeout=10)
            killed_at = time.perf_counter() - started
            server = start()
            server.killed = True
            print(f"  killed -9 mid back-fill after {killed_at:.1f} s (metered up to {(target - until) // 3600} h ago), started again")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    db = sqlite3.connect(db_path, timeout=30)
    rows = db.execute("SELECT COUNT(*) FROM usage_ledger").fetchone()[0]
    dupes = db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM usage_ledger GROUP BY instance_id, hour_start, dimension HAVING COUNT(*) > 1)").fetchone()[0]
    hours = db.execute("SELECT COUNT(DISTINCT hour_start) FROM usage_ledger").fetchone()[0]
    db.close()
    print(f"  back-filled {hours} hours, {rows} records in {elapsed:.1f} s including the kill and two starts"
          f" ({rows / elapsed:.0f} records/s); records counted twice: {dupes}")
    return server


if __name__ == "__main__":
    main()
