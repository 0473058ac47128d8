#!/usr/bin/env python3
"""The signed-in pages under load, each next to a bare axum server answering a body of the
same size (target/release/bare-axum, src/bin/bare-axum.rs) in the same run, and the console's
memory. Not a test: it measures and prints.

    scripts/bench.sh                   (builds first, then runs bench.py, bench_api.py and this)
    python3 scripts/bench_pages.py     (with target/release/byoc-console and bare-axum built)

One release console in demo mode (simulated provisioner) on a fresh data directory, set up,
signed in and activated as bench_api.py does. For each instance count (BENCH_PAGES_INSTANCES,
default 50, 1000 and 10000, created through the create server function: the service layer)
wrk (2 threads, 64 connections, BENCH_PAGES_SECONDS 10 s a row) loads GET /instances with the
session cookie, then the bare server with a body of the page's size. With the last count it
also loads /, /license and /account (signed in) and /login (no session). The console's
resident memory (VmRSS) is read idle after start and after the rows.
"""
import os, subprocess, sys, tempfile, time

sys.dont_write_bytecode = True
COUNTS = [int(n) for n in os.environ.get("BENCH_PAGES_INSTANCES", "50,1000,10000").split(",")]
# bench_api reads its sizes at import: the license must have room for the largest count.
os.environ["BENCH_API_INSTANCES"] = ",".join(str(c) for c in COUNTS)
os.environ.setdefault("BENCH_API_PORT", "18185")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_api  # noqa: E402  (its console, seeding and wrk)

SECONDS = int(os.environ.get("BENCH_PAGES_SECONDS", "10"))
BARE = os.path.join(bench_api.ROOT, "target", "release", "bare-axum")
BARE_PORT = bench_api.PORT + 10
LUA = os.path.join(bench_api.ROOT, "scripts", "bench_pages.lua")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wrk(port, path, cookie=None):
    env = dict(os.environ)
    env.pop("BENCH_COOKIE", None)
    if cookie:
        env["BENCH_COOKIE"] = cookie
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{SECONDS}s", "--timeout", "30s", "-s", LUA,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, env=env)
    lines = [l for l in out.stdout.splitlines() if l.startswith("BENCH_JSON ")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    import json
    f = json.loads(lines[0][len("BENCH_JSON "):])
    f["ok_per_s"] = (f["requests"] - f["non_2xx"]) / (f["duration_us"] / 1e6)
    return f


def page_size(path, cookie=None):
    conn = bench_api.connect()
    conn.request("GET", path, headers={"cookie": cookie} if cookie else {})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    return len(body)


def bare(size):
    """The reference server answering `size` bytes, and its figures for the same load."""
    server = subprocess.Popen([BARE, f"127.0.0.1:{BARE_PORT}", str(size)])
    try:
        for _ in range(100):
            try:
                import http.client
                c = http.client.HTTPConnection("127.0.0.1", BARE_PORT, timeout=5)
                c.request("GET", "/")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.05)
        wrk(BARE_PORT, "/", None)  # warm-up, not recorded
        return wrk(BARE_PORT, "/", None)
    finally:
        server.terminate()
        server.wait()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    for tool in ("wrk", BARE, bench_api.BIN):
        if not (os.path.exists(tool) or subprocess.run(["which", tool], capture_output=True).returncode == 0):
            raise SystemExit(f"{tool} is missing (scripts/bench.sh builds and installs what this needs)")
    data_dir = tempfile.mkdtemp(prefix="byoc-bench-pages-")
    server = None
    try:
        server, demo_key = bench_api.start_console(data_dir)
        time.sleep(2)
        idle = rss_mib(server.pid)
        cookie = bench_api.prepare(data_dir, demo_key)
        print(f"\nSigned-in pages under load: wrk, 2 threads, 64 connections, {SECONDS} s a row, release console"
              f" (demo, simulated provisioner) and bare-axum on loopback, one after the other")
        print(f"  {'page':<22} {'inst.':>6} {'body B':>8} {'req/s':>8} {'p99 ms':>8} {'bare req/s':>11}"
              f" {'bare p99':>9} {'share':>6}")
        have = 0
        for count in COUNTS:
            started = time.perf_counter()
            bench_api.seed(cookie, have, count)
            bench_api.wait_running(cookie, count)
            have = count
            print(f"  ({count} instances made and running in {time.perf_counter() - started:.0f} s)")
            pages = ["/instances"] + (["/", "/license", "/account"] if count == COUNTS[-1] else [])
            for path in pages:
                size = page_size(path, cookie)
                wrk(bench_api.PORT, path, cookie)  # warm-up, not recorded
                f = wrk(bench_api.PORT, path, cookie)
                b = bare(size)
                print(f"  GET {path:<18} {count:>6} {size:>8} {f['ok_per_s']:>8.0f} {f['p99_us'] / 1000:>8.1f}"
                      f" {b['ok_per_s']:>11.0f} {b['p99_us'] / 1000:>9.1f} {f['ok_per_s'] / b['ok_per_s']:>6.1%}"
                      + (f"  ({f['non_2xx']} non-2xx)" if f["non_2xx"] else ""))
        size = page_size("/login")
        f = wrk(bench_api.PORT, "/login")
        b = bare(size)
        print(f"  GET {'/login (no session)':<18} {'':>6} {size:>8} {f['ok_per_s']:>8.0f} {f['p99_us'] / 1000:>8.1f}"
              f" {b['ok_per_s']:>11.0f} {b['p99_us'] / 1000:>9.1f} {f['ok_per_s'] / b['ok_per_s']:>6.1%}")
        print(f"  share: the console's req/s over bare axum's with the same body size and load.")
        print(f"  console RSS: {idle:.0f} MiB idle after start; {rss_mib(server.pid):.0f} MiB after the rows"
              f" ({COUNTS[-1]} instances)")
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
