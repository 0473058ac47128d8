"""A real Kafka client (confluent-kafka, bundling librdkafka) for the broker tests.

    client.py produce BOOTSTRAP TOPIC COUNT     -> prints the number acknowledged
    client.py consume BOOTSTRAP TOPIC GROUP EXPECTED
        -> prints the number of distinct messages read (stops at EXPECTED, or after 10 s
           without a message) and whether they are exactly 0..N-1
    client.py steady BOOTSTRAP TOPIC SECONDS
        -> produces one message every 10 ms for SECONDS (acks=all), then prints
           "SENT ACKED FAILED"; every failed delivery or refused produce counts
    client.py metadata BOOTSTRAP
        -> a Kafka metadata request (5 s timeout): prints the broker count, or fails
"""
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient


def produce(bootstrap, topic, count):
    acked = 0

    def on_delivery(err, _msg):
        nonlocal acked
        if err is None:
            acked += 1
        else:
            print(f"delivery failed: {err}", file=sys.stderr)

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        while True:
            try:
                p.produce(topic, key=str(i).encode(), value=f"message {i:06d}".encode(), on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(30)
    print(acked if remaining == 0 else f"{acked} ({remaining} unsent)")


def consume(bootstrap, topic, group, expected):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
    })
    c.subscribe([topic])
    seen = set()
    idle = 0
    while idle < 10 and len(seen) < expected:
        msg = c.poll(1.0)
        if msg is None:
            idle += 1
            continue
        if msg.error():
            print(f"consume error: {msg.error()}", file=sys.stderr)
            continue
        idle = 0
        seen.add(int(msg.key().decode()))
    if seen:
        c.commit(asynchronous=False)
    c.close()
    exact = seen == set(range(len(seen)))
    print(f"{len(seen)} {'exact' if exact else 'gaps'}")


def steady(bootstrap, topic, seconds):
    acked = failed = sent = 0

    def on_delivery(err, _msg):
        nonlocal acked, failed
        if err is None:
            acked += 1
        else:
            failed += 1
            print(f"delivery failed: {err}", file=sys.stderr)

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        due = start + sent * 0.010
        # poll serves callbacks and may return early; a negative timeout would wait forever
        while (pause := due - time.monotonic()) > 0:
            p.poll(pause)
        try:
            p.produce(topic, key=str(sent).encode(), value=f"message {sent:06d}".encode(),
                      on_delivery=on_delivery)
        except Exception as e:  # BufferError or KafkaException: a refused produce
            failed += 1
            print(f"produce refused: {e}", file=sys.stderr)
        sent += 1
        p.poll(0)
    remaining = p.flush(30)
    print(f"{sent} {acked} {failed + remaining}")


def metadata(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    cluster = admin.list_topics(timeout=5)
    print(len(cluster.brokers))


if __name__ == "__main__":
    mode, bootstrap = sys.argv[1:3]
    if mode == "metadata":
        metadata(bootstrap)
        sys.exit(0)
    topic, arg = sys.argv[3:5]
    if mode == "steady":
        steady(bootstrap, topic, float(arg))
    elif mode == "produce":
        produce(bootstrap, topic, int(arg))
    else:
        consume(bootstrap, topic, arg, int(sys.argv[5]))
