"""A Kafka client nobody here wrote (confluent-kafka, librdkafka) for the engine's tests.

    kafka_client.py brokers BOOTSTRAP              -> JSON: broker ids seen by each node
    kafka_client.py create-topic BOOTSTRAP NAME N  -> creates N partitions, replication 3
    kafka_client.py leaders BOOTSTRAP NAME         -> JSON: partition -> leader
    kafka_client.py produce BOOTSTRAP TOPIC STOPFILE ACKEDFILE
        sends numbered messages with acks=all until STOPFILE exists; writes every acknowledged
        number to ACKEDFILE (one per line) and prints JSON figures: sent, acked, failed, and the
        longest stretch without an acknowledgement (ms)
    kafka_client.py alter-user BOOTSTRAP NEWUSER [USER PASSWORD]
        tries to create a SCRAM user, anonymously or as USER; prints JSON: ok, error
    kafka_client.py consume BOOTSTRAP TOPIC ACKEDFILE SECONDS
        reads the topic from the start until every acknowledged number is seen (or SECONDS
        pass); prints JSON: expected, seen, missing (first 20)
    kafka_client.py produce-n BOOTSTRAP TOPIC N PREFIX
        sends N messages (key i, value PREFIX + i), acks=all; prints JSON: acked
    kafka_client.py group-hold BOOTSTRAP TOPIC GROUP PROTOCOL COUNT DIR
        joins GROUP (group.protocol PROTOCOL: classic or consumer; client.id GROUP-client) from
        the earliest offset, reads COUNT messages, commits them, writes DIR/ready (JSON:
        consumed, assignment) and stays a member (polling) until DIR/stop exists; then closes
        without committing more and prints the same JSON
    kafka_client.py group-first BOOTSTRAP TOPIC GROUP PROTOCOL PARTITIONS SECONDS
        joins GROUP, reads until it has a message from each of PARTITIONS (comma-separated
        indexes; or SECONDS pass) and closes without committing; prints JSON: partition ->
        [first offset, its value], for every partition it read from
    kafka_client.py group-offsets BOOTSTRAP GROUP
        the group's committed offsets as confluent-kafka's AdminClient answers them; prints
        JSON: "topic-partition" -> offset
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def brokers(bootstrap):
    seen = {}
    for node in bootstrap.split(","):
        admin = AdminClient({"bootstrap.servers": node, "socket.timeout.ms": 5000})
        md = admin.list_topics(timeout=10)
        seen[node] = {
            "brokers": sorted(md.brokers.keys()),
            "controller": md.controller_id,
            "answered_by": md.orig_broker_id,
        }
    print(json.dumps(seen))


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, int(partitions), 3)])
    for future in futures.values():
        future.result(timeout=30)
    print(json.dumps({"created": name}))


def leaders(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(topic=name, timeout=10)
    topic = md.topics[name]
    print(json.dumps({str(p): {"leader": m.leader, "replicas": m.replicas, "isr": m.isrs}
                      for p, m in topic.partitions.items()}))


def alter_user(bootstrap, new_user, *login):
    """Tries to create SCRAM user NEW_USER, anonymously or as LOGIN (user, password, over
    SASL_PLAINTEXT with SCRAM-SHA-512); prints JSON: ok, error."""
    from confluent_kafka.admin import (ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)
    config = {"bootstrap.servers": bootstrap}
    if login:
        config.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                       "sasl.username": login[0], "sasl.password": login[1]})
    admin = AdminClient(config)
    upsert = UserScramCredentialUpsertion(
        new_user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), b"a-password-of-mallory")
    try:
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
        print(json.dumps({"ok": True, "error": None}))
    except Exception as e:  # the refusal is the answer
        print(json.dumps({"ok": False, "error": str(e)}))


def produce(bootstrap, topic, stop_file, acked_file):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.timeout.ms": 120000,
    })
    acked = open(acked_file, "w")
    figures = {"sent": 0, "acked": 0, "failed": 0, "longest_gap_ms": 0}
    last_ack = [time.monotonic()]

    def delivered(err, msg):
        if err is not None:
            figures["failed"] += 1
            return
        now = time.monotonic()
        figures["longest_gap_ms"] = max(figures["longest_gap_ms"], int((now - last_ack[0]) * 1000))
        last_ack[0] = now
        figures["acked"] += 1
        acked.write(msg.key().decode() + "\n")

    n = 0
    while not os.path.exists(stop_file):
        try:
            producer.produce(topic, key=str(n).encode(), value=("m%d" % n).encode(), on_delivery=delivered)
            n += 1
            figures["sent"] = n
        except BufferError:
            pass
        producer.poll(0.002)
    producer.flush(120)
    acked.close()
    print(json.dumps(figures))


def consume(bootstrap, topic, acked_file, seconds):
    expected = set(line.strip() for line in open(acked_file) if line.strip())
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "engine-test-%d" % os.getpid(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    seen = set()
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline and not expected <= seen:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        seen.add(msg.key().decode())
    consumer.close()
    missing = sorted(expected - seen, key=int)
    print(json.dumps({"expected": len(expected), "seen": len(seen & expected), "missing": missing[:20]}))


def produce_n(bootstrap, topic, n, prefix):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    acked = [0]

    def delivered(err, msg):
        if err is None:
            acked[0] += 1

    for i in range(int(n)):
        producer.produce(topic, key=str(i).encode(), value=("%s%d" % (prefix, i)).encode(),
                         on_delivery=delivered)
        producer.poll(0)
    producer.flush(60)
    print(json.dumps({"acked": acked[0]}))


def group_consumer(bootstrap, group, protocol):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": protocol,
        "client.id": group + "-client",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })


def group_hold(bootstrap, topic, group, protocol, count, directory):
    consumer = group_consumer(bootstrap, group, protocol)
    consumer.subscribe([topic])
    consumed = 0
    deadline = time.monotonic() + 120
    while consumed < int(count) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            consumed += 1
    consumer.commit(asynchronous=False)
    figures = {"consumed": consumed,
               "assignment": sorted(p.partition for p in consumer.assignment())}
    ready = os.path.join(directory, "ready")
    with open(ready + ".tmp", "w") as f:
        json.dump(figures, f)
    os.rename(ready + ".tmp", ready)
    stop = os.path.join(directory, "stop")
    deadline = time.monotonic() + 600
    while not os.path.exists(stop) and time.monotonic() < deadline:
        consumer.poll(0.2)
    consumer.close()
    print(json.dumps(figures))


def group_first(bootstrap, topic, group, protocol, partitions, seconds):
    consumer = group_consumer(bootstrap, group, protocol)
    consumer.subscribe([topic])
    first = {}
    wanted = set(p for p in partitions.split(",") if p)
    deadline = time.monotonic() + float(seconds)
    while not wanted <= set(first) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        first.setdefault(str(msg.partition()), [msg.offset(), msg.value().decode()])
    consumer.close()
    print(json.dumps(first))


def group_offsets(bootstrap, group):
    from confluent_kafka import ConsumerGroupTopicPartitions
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    result = futures[group].result(timeout=30)
    print(json.dumps({"%s-%d" % (tp.topic, tp.partition): tp.offset
                      for tp in result.topic_partitions if tp.offset >= 0}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"brokers": brokers, "create-topic": create_topic, "leaders": leaders, "alter-user": alter_user,
     "produce": produce, "consume": consume, "produce-n": produce_n, "group-hold": group_hold,
     "group-first": group_first, "group-offsets": group_offsets}[command](*args)
