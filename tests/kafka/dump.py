#!/usr/bin/env python3
"""What a Kafka cluster serves, read by confluent-kafka (a client nobody here wrote), as JSON.

  dump.py messages BOOTSTRAP TOPIC[,TOPIC...]
      every message of each topic, partition by partition from the earliest offset to the end
      offset: {"TOPIC": {"PARTITION": [{"offset", "key", "value_hex", "timestamp_ms",
      "timestamp_type", "headers": [[k, v]]}]}} (key as text, null when null)
  dump.py ends BOOTSTRAP TOPIC[,TOPIC...]
      each partition's low and high watermarks ({"TOPIC/PARTITION": [low, high]})
  dump.py groups BOOTSTRAP GROUP[,GROUP...] TOPIC[,TOPIC...]
      each group's committed offsets ({"GROUP": {"TOPIC/PARTITION": offset}}, -1001 when
      nothing is committed), then where a consumer of the group resumes: the offset and value
      of the first message it is given on each partition it has a committed offset on
      ({"GROUP": {"TOPIC/PARTITION": {"offset", "value_hex"} or null at the end}}).
Plaintext, no authentication (an anonymous instance's client listener)."""
import json, sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING


def consumer(bootstrap, group=None):
    conf = {"bootstrap.servers": bootstrap, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "group.id": group or "dump-reader",
            "enable.partition.eof": True}
    return Consumer(conf)


def partitions(c, topic):
    md = c.list_topics(topic, timeout=20)
    return sorted(md.topics[topic].partitions.keys())


def messages(bootstrap, topics):
    out = {}
    c = consumer(bootstrap)
    for topic in topics:
        out[topic] = {}
        for p in partitions(c, topic):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
            got = []
            if high > low:
                c.assign([TopicPartition(topic, p, OFFSET_BEGINNING)])
                deadline = time.time() + 60
                while time.time() < deadline:
                    m = c.poll(1.0)
                    if m is None:
                        continue
                    if m.error():
                        if m.error().code() == -191:  # _PARTITION_EOF
                            break
                        raise SystemExit(f"{topic}-{p}: {m.error()}")
                    key = m.key()
                    got.append({"offset": m.offset(),
                                "key": key.decode() if key is not None else None,
                                "value_hex": (m.value() or b"").hex() if m.value() is not None else None,
                                "timestamp_ms": m.timestamp()[1], "timestamp_type": m.timestamp()[0],
                                "headers": [[k, v.decode() if v is not None else None]
                                            for k, v in (m.headers() or [])]})
                    if m.offset() + 1 >= high:
                        break
                c.unassign()
            out[topic][str(p)] = got
    c.close()
    return out


def groups(bootstrap, group_names, topics):
    out = {"committed": {}, "resumes": {}}
    for g in group_names:
        c = consumer(bootstrap, g)
        tps = [TopicPartition(t, p) for t in topics for p in partitions(c, t)]
        committed = c.committed(tps, timeout=20)
        out["committed"][g] = {f"{tp.topic}/{tp.partition}": tp.offset for tp in committed}
        resumes = {}
        for tp in committed:
            if tp.offset < 0:
                continue
            # Where a consumer of the group starts: its committed offset, as Kafka serves it.
            c.assign([TopicPartition(tp.topic, tp.partition, tp.offset)])
            first = None
            deadline = time.time() + 30
            while time.time() < deadline:
                m = c.poll(1.0)
                if m is None:
                    continue
                if m.error():
                    break  # end of the partition: nothing left to read
                first = {"offset": m.offset(), "value_hex": m.value().hex() if m.value() is not None else None}
                break
            c.unassign()
            resumes[f"{tp.topic}/{tp.partition}"] = first
        out["resumes"][g] = resumes
        c.close()
    return out


if __name__ == "__main__":
    mode, bootstrap = sys.argv[1], sys.argv[2]
    if mode == "messages":
        print(json.dumps(messages(bootstrap, sys.argv[3].split(","))))
    elif mode == "ends":
        c = consumer(bootstrap)
        out = {}
        for t in sys.argv[3].split(","):
            for p in partitions(c, t):
                out[f"{t}/{p}"] = list(c.get_watermark_offsets(TopicPartition(t, p), timeout=20))
        c.close()
        print(json.dumps(out))
    elif mode == "groups":
        print(json.dumps(groups(bootstrap, sys.argv[3].split(","), sys.argv[4].split(","))))
    else:
        raise SystemExit(f"unknown mode {mode}")
