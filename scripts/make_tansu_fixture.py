#!/usr/bin/env python3
"""Makes tests/fixtures/tansu-0.6.0/tansu.db: a storage file written by the real tansu 0.6.0
broker, which the upgrade tests (app/src/server/broker/upgrade.rs, tests/broker_upgrade.rs)
migrate to nisshi 0.8.1's schema and serve with nisshi.

What the file holds (the tests assert exactly this):
  - cluster `byoc-1`, topic `legacy` with 2 partitions;
  - 20 records, record i (0..19) in partition i % 2: key `key-NN`, value `legacy NN`, and two
    headers in this order: (`trace`, `NN`), (`app`, `fixture`) (not in key order, so a lost
    header order shows);
  - group `legacy-group` has committed offset 6 in partition 0 and 4 in partition 1.

Regenerate (needs tansu 0.6.0 with SQLite storage, which CI does not install:
`cargo install tansu --version 0.6.0 --locked --features libsql`, and confluent-kafka):

    python3 scripts/make_tansu_fixture.py [--tansu ~/.cargo/bin/tansu] [--port 19950]

The broker runs in a temporary directory on 127.0.0.1:PORT and is stopped with SIGTERM; the
file is then checkpointed (no -wal file left) and vacuumed, so one small file is committed.
"""
import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/tansu-0.6.0/tansu.db"
TOPIC = "legacy"
GROUP = "legacy-group"
MESSAGES = 20
# The offsets the group commits per partition (each partition holds 10 records).
COMMITTED = {0: 6, 1: 4}


def headers_of(i):
    return [("trace", f"{i:02d}".encode()), ("app", b"fixture")]


def wait_for_port(port, proc, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"tansu exited with {proc.returncode} before its port answered")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} did not answer in {seconds} s")


def fill(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)]).values():
        future.result(30)

    failed = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(MESSAGES):
        p.produce(TOPIC, partition=i % 2, key=f"key-{i:02d}".encode(), value=f"legacy {i:02d}".encode(),
                  headers=headers_of(i), on_delivery=lambda err, _m: err and failed.append(err))
        # One request per record: offsets 0..9 per partition in the order above.
        p.flush(30)
    if failed or len(p) != 0:
        sys.exit(f"produce failed: {failed}")

    # Read the committed part of each partition back (headers included: tansu serves them),
    # then commit those offsets for the group.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, part, 0) for part in COMMITTED])
    wanted = sum(COMMITTED.values())
    read = []
    deadline = time.monotonic() + 30
    while len(read) < MESSAGES and time.monotonic() < deadline:
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"consume error: {msg.error()}")
        read.append(msg)
    by_offset = {(m.partition(), m.offset()): m for m in read}
    for part, upto in COMMITTED.items():
        for offset in range(upto):
            m = by_offset[(part, offset)]
            i = offset * 2 + part
            assert m.value() == f"legacy {i:02d}".encode(), m.value()
            assert m.headers() == headers_of(i), m.headers()
    c.commit(offsets=[TopicPartition(TOPIC, part, upto) for part, upto in COMMITTED.items()],
             asynchronous=False)
    committed = c.committed([TopicPartition(TOPIC, part) for part in COMMITTED], timeout=10)
    c.close()
    got = {tp.partition: tp.offset for tp in committed}
    if got != COMMITTED:
        sys.exit(f"committed {got}, wanted {COMMITTED}")
    print(f"produced {MESSAGES}, read {len(read)} back with headers, committed {got} ({wanted} messages)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tansu", default=os.environ.get("TANSU_BIN", str(Path.home() / ".cargo/bin/tansu")))
    ap.add_argument("--port", type=int, default=19950)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    version = subprocess.run([args.tansu, "--version"], capture_output=True, text=True).stdout.strip()
    if version != "tansu 0.6.0":
        sys.exit(f"{args.tansu} says {version!r}, not tansu 0.6.0")

    bootstrap = f"127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="tansu-fixture-") as tmp:
        log = open(Path(tmp) / "broker.log", "wb")
        proc = subprocess.Popen(
            [args.tansu, "broker",
             "--listener-url", f"tcp://{bootstrap}", "--advertised-listener-url", f"tcp://{bootstrap}",
             "--storage-engine", "sqlite://tansu.db", "--cluster-id", "byoc-1"],
            cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(args.port, proc)
            fill(bootstrap)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        db = Path(tmp) / "tansu.db"
        conn = sqlite3.connect(db)
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            sys.exit("the checkpoint was blocked: is the broker still running?")
        conn.execute("VACUUM")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("record", "header", "consumer_offset")}
        conn.close()
        for suffix in ("-wal", "-shm"):
            leftover = Path(f"{db}{suffix}")
            if leftover.exists() and leftover.stat().st_size:
                sys.exit(f"{leftover} is not empty after the checkpoint")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(db, args.out)
    print(f"{args.out}: {args.out.stat().st_size} bytes, rows {counts}")


if __name__ == "__main__":
    main()
