#!/usr/bin/env python3
"""The instance list through the REST API next to the same list through the pages' server
function, under load. Not a test: it measures and prints.

    scripts/bench.sh                 (builds first, runs bench.py, then this)
    python3 scripts/bench_api.py     (with target/release/byoc-console built)

One release console in demo mode on a fresh data directory on loopback, set up, signed in
and activated as scripts/bench.py does, then a large-quota license. For each instance count
(BENCH_API_INSTANCES, default 50 and 1000; created through the create server function and
waited for until all run), wrk (BENCH_API_THREADS 2 threads, BENCH_API_CONNECTIONS 64
connections, BENCH_API_SECONDS 10 s a row, scripts/bench_api.lua) loads in turn:

  POST /api/instances (limit=100)      the pages' server function, with the session cookie
  GET  /api/v1/instances?limit=100     a viewer service account's bearer token

The REST API limits each service account to a burst of 100 requests, then 20 a second
(`serve --api-burst/--api-rate`; the demo this runs keeps the default). So the REST list is
loaded twice: with one token, as a
client would, where the limit answers most requests with 429; and with a pool of
BENCH_API_TOKENS viewer accounts taken in turn, each kept under its own limit, which is
the console's throughput for the list itself (the limiter still checks every request).
"""
import concurrent.futures, http.client, json, os, shutil, subprocess, sys, tempfile, threading, time

sys.dont_write_bytecode = True  # no scripts/__pycache__ from importing bench.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import instance_form, request  # noqa: E402  (the same form and client as bench.py)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release", "byoc-console"))
LUA = os.path.join(ROOT, "scripts", "bench_api.lua")
PORT = int(os.environ.get("BENCH_API_PORT", "18183"))
COUNTS = [int(n) for n in os.environ.get("BENCH_API_INSTANCES", "50,1000").split(",")]
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "10"))
THREADS = int(os.environ.get("BENCH_API_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_API_CONNECTIONS", "64"))
TOKENS = int(os.environ.get("BENCH_API_TOKENS", "400"))
SIZE_AKU = 3
RATE, BURST = 20, 100  # the REST API's limit per service account (Config::default().api_rate)
PASSWORD = "Quiet-Harbor-Lamp-42"


def connect():
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)


def call(conn, path, form, cookie):
    """A server function; its JSON answer (asserting 200)."""
    _, response, body = request(conn, "POST", path, form, cookie)
    assert response.status == 200, (path, response.status, body[:300])
    return json.loads(body)


def start_console(data_dir):
    """The demo console with its output in a file (never a pipe left unread); its key."""
    log = open(os.path.join(data_dir, "console.log"), "w")
    env = dict(os.environ, RUST_LOG="warn", LEPTOS_SITE_ROOT=os.path.join(ROOT, "target", "site"))
    server = subprocess.Popen([BIN, "demo", "--listen", f"127.0.0.1:{PORT}", "--data-dir", data_dir,
                               "--emulator-listen", f"127.0.0.1:{PORT + 1}", "--provisioner", "simulated"],
                              stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit("the console exited; see " + log.name)
        lines = [l.strip() for l in open(log.name) if l.startswith("BYOC1.")]
        if lines:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("no demo key within 60 s")
    for _ in range(200):
        try:
            request(connect(), "GET", "/healthz")
            return server, lines[0]
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the console does not answer")


def prepare(data_dir, demo_key):
    """Set up, sign in, activate, apply a license with room for every instance; the cookie."""
    conn = connect()
    request(conn, "POST", "/api/setup", {"username": "admin", "password": PASSWORD, "password_confirm": PASSWORD,
                                         "environment_name": "Bench", "cloud_provider": "aws", "region": "us-east-1"})
    _, response, _ = request(conn, "POST", "/api/login", {"username": "admin", "password": PASSWORD})
    cookie = response.getheader("set-cookie").split(";")[0]
    call(conn, "/api/license_apply", {"key": demo_key}, cookie)
    quiet = dict(os.environ, RUST_LOG="error")
    installation_id = subprocess.run([BIN, "installation-id", "--data-dir", data_dir], capture_output=True,
                                     text=True, check=True, env=quiet).stdout.strip()
    big = subprocess.run([BIN, "vendor", "issue", "--signing-key", os.path.join(data_dir, "demo-vendor", "signing-key.json"),
                          "--installation-id", installation_id, "--customer", "Bench", "--billing", "prepaid",
                          "--aku", str(max(COUNTS) * SIZE_AKU), "--months", "12", "--license-id", "LIC-BENCH-API"],
                         capture_output=True, text=True, check=True, env=quiet).stdout.strip().splitlines()[-1]
    call(conn, "/api/license_apply", {"key": big}, cookie)
    return cookie


def viewer_tokens(cookie, prefix, count):
    """`count` viewer service accounts (the admin's server function); their tokens."""
    conn = connect()
    return [call(conn, "/api/service_account_create", {"name": f"{prefix}-{i:04}", "role": "viewer", "expires": ""},
                 cookie)["token"] for i in range(count)]


def seed(cookie, first, last):
    """Instances first..last-1 through the create server function, 8 connections at a time."""
    local = threading.local()

    def one(i):
        if not hasattr(local, "conn"):
            local.conn = connect()
        call(local.conn, "/api/instance_create", instance_form(f"api-{i:04}", SIZE_AKU), cookie)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(first, last)))


def wait_running(cookie, count, timeout=900):
    """Until `count` instances run (the list's counts per state: its page holds at most 100)."""
    conn = connect()
    deadline = time.time() + timeout
    while True:
        counts = dict(call(conn, "/api/instances", {"limit": "1"}, cookie)["counts"])
        if sum(counts.values()) == count and counts.get("running") == count:
            return
        if time.time() > deadline:
            raise SystemExit(f"not all {count} instances run after {timeout} s: {counts}")
        time.sleep(0.5)


def warm_tokens(tokens):
    """One request per token: each account's last use is written now, not during a row
    (it is written at most once a minute per account)."""
    conn = connect()
    for token in tokens:
        conn.request("GET", "/api/v1/instances?limit=1", headers={"authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status


# The server function asked for the page the REST row asks for (both answer 100 instances).
FN_FORM = "limit=100"


def body_of(method, path, cookie=None, token=None):
    conn = connect()
    headers = {"cookie": cookie, "content-type": "application/x-www-form-urlencoded"} if cookie else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, path, body=FN_FORM if method == "POST" else None, headers=headers)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    return body


def wrk(path, seconds, cookie=None, tokens_file=None):
    env = dict(os.environ)
    env.pop("BENCH_COOKIE", None)
    env.pop("BENCH_TOKENS", None)
    if cookie:
        env["BENCH_COOKIE"] = cookie
        env["BENCH_FORM"] = FN_FORM
    else:
        env["BENCH_TOKENS"] = tokens_file
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s",
                          "-s", LUA, f"http://127.0.0.1:{PORT}{path}"],
                         capture_output=True, text=True, env=env)
    lines = [l for l in out.stdout.splitlines() if l.startswith("BENCH_JSON ")]
    if out.returncode != 0 or not lines or out.stderr.strip():
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    figures = json.loads(lines[0][len("BENCH_JSON "):])
    seconds = figures["duration_us"] / 1e6
    figures["answers_per_s"] = figures["requests"] / seconds
    figures["ok_per_s"] = (figures["requests"] - figures["non_2xx"]) / seconds
    return figures


def main():
    sys.stdout.reconfigure(line_buffering=True)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing (scripts/bench.sh installs it: apt-get install wrk)")
    data_dir = tempfile.mkdtemp(prefix="byoc-bench-api-")
    server = None
    try:
        server, demo_key = start_console(data_dir)
        cookie = prepare(data_dir, demo_key)
        pool = viewer_tokens(cookie, "bench-pool", TOKENS)
        pool_file = os.path.join(data_dir, "pool-tokens.txt")
        open(pool_file, "w").write("\n".join(pool) + "\n")
        print(f"\nThe instance list under load: wrk, {THREADS} threads, {CONNECTIONS} connections, {SECONDS} s a row,"
              f" release console in demo mode ({os.path.relpath(BIN, ROOT)}), simulated provisioner, loopback")
        print(f"  REST rate limit: burst {BURST}, then {RATE}/s per service account (the demo's default),"
              f" left ON:\n  'one token' is throttled"
              f" (its non-2xx are 429s);\n  'pool of {TOKENS}' spreads the load over {TOKENS} viewer accounts, each under"
              f" its own limit (capacity {TOKENS * (BURST + RATE * SECONDS) // SECONDS}/s).")
        rows = []
        have = 0
        for count in COUNTS:
            started = time.perf_counter()
            seed(cookie, have, count)
            wait_running(cookie, count)
            have = count
            print(f"  {count} instances created and running in {time.perf_counter() - started:.1f} s;"
                  f" load average before the rows {os.getloadavg()[0]:.2f}")
            one_file = os.path.join(data_dir, f"one-token-{count}.txt")
            open(one_file, "w").write(viewer_tokens(cookie, f"bench-one-{count}", 1)[0] + "\n")
            rest_path = "/api/v1/instances?limit=100"
            rest_body = body_of("GET", rest_path, token=pool[0])
            fn_body = body_of("POST", "/api/instances", cookie=cookie)
            rest_items = len(json.loads(rest_body)["items"])
            fn_items = len(json.loads(fn_body)["instances"])
            warm_tokens(pool)
            wrk("/api/instances", 2, cookie=cookie)  # warm-up, not recorded
            time.sleep(1)
            fn = wrk("/api/instances", SECONDS, cookie=cookie)
            rows.append((f"POST /api/instances ({FN_FORM})", "session cookie", count, fn_items, len(fn_body), fn, None))
            time.sleep(1)
            pooled = wrk(rest_path, SECONDS, tokens_file=pool_file)
            rows.append(("GET " + rest_path, f"pool of {TOKENS}", count, rest_items, len(rest_body), pooled,
                         pooled["ok_per_s"] / fn["ok_per_s"]))
            time.sleep(1)
            one = wrk(rest_path, SECONDS, tokens_file=one_file)
            rows.append(("GET " + rest_path, "one token", count, rest_items, len(rest_body), one,
                         one["ok_per_s"] / fn["ok_per_s"]))
            if pooled["non_2xx"]:
                print(f"  the pool of {TOKENS} was throttled too ({pooled['non_2xx']} non-2xx): raise BENCH_API_TOKENS")
        print()
        header = (f"  {'route':<36} {'auth':<14} {'inst.':>5} {'items':>5} {'body B':>8} {'req/s':>8}"
                  f" {'non-2xx':>8} {'p50 ms':>7} {'p99 ms':>7} {'REST/fn':>7}")
        print(header)
        print("  " + "-" * (len(header) - 2))
        for route, auth, count, items, size, f, ratio in rows:
            print(f"  {route:<36} {auth:<14} {count:>5} {items:>5} {size:>8} {f['ok_per_s']:>8.0f}"
                  f" {f['non_2xx']:>8} {f['p50_us'] / 1000:>7.2f} {f['p99_us'] / 1000:>7.2f}"
                  f" {'' if ratio is None else f'{ratio:.2f}':>7}")
        print("  req/s: 2xx answers a second; non-2xx: answers refused in the row (429 by the rate limit);"
              " p50/p99 over all answers, client side.\n  REST/fn: the REST row's req/s over the server function's"
              " at the same instance count. Both answer a page of at most 100 instances\n  (the server function"
              " also counts per state and reads the quota).")
        for route, auth, count, _, _, f, _ in rows:
            if auth == "one token":
                print(f"  one token, {count} instances: {f['answers_per_s']:.0f} answers/s in all, of which"
                      f" {f['requests'] - f['non_2xx']} were 200 in {f['duration_us'] / 1e6:.1f} s"
                      f" (burst {BURST} + {RATE}/s)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
