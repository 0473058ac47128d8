"""Produces the message browser's test messages with confluent-kafka (acks=all) and prints,
as one JSON line, where Kafka put each: partition, offset and timestamp.

    browse_produce.py BOOTSTRAP TOPIC FILLER

All to partition 0, in this order: a JSON value with a key and two headers; a text value; a
binary value (not UTF-8) with no key; a value of 6000 bytes (more than the browser shows);
then FILLER messages "filler-N" with keys "k-N".
"""

import json
import sys

from confluent_kafka import Producer


def main():
    bootstrap, topic, filler = sys.argv[1], sys.argv[2], int(sys.argv[3])
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    placed = []

    def delivered(err, msg):
        if err is not None:
            raise SystemExit(f"not delivered: {err}")
        placed.append({"partition": msg.partition(), "offset": msg.offset(),
                       "timestamp": msg.timestamp()[1]})

    messages = [
        (b"order-1", b'{"id":1,"paid":true,"items":["tea","cake"]}',
         [("source", b"web"), ("trace", b"abc-123")]),
        (b"order-2", b"hello world", []),
        (None, bytes([0x00, 0xFF, 0x10, 0x80]), []),
        (b"big", b"x" * 6000, []),
    ]
    messages += [(f"k-{n}".encode(), f"filler-{n}".encode(), []) for n in range(filler)]
    for key, value, headers in messages:
        producer.produce(topic, value=value, key=key, headers=headers, partition=0,
                         on_delivery=delivered)
        # One at a time, so the offsets follow this order.
        producer.flush(30)
    if len(placed) != len(messages):
        raise SystemExit(f"{len(placed)} of {len(messages)} delivered")
    print(json.dumps(placed))


if __name__ == "__main__":
    main()
