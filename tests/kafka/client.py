"""A real Kafka client (confluent-kafka, bundling librdkafka) for the broker tests.

    client.py [FLAGS] produce BOOTSTRAP TOPIC COUNT     -> prints the number acknowledged
    client.py [FLAGS] aged BOOTSTRAP TOPIC COUNT SECONDS
        -> produce, with every message stamped SECONDS in the past (for retention tests)
    client.py [FLAGS] consume BOOTSTRAP TOPIC GROUP EXPECTED
        -> prints the number of distinct messages read (stops at EXPECTED, or after 10 s
           without a message once the group assigned it partitions; 60 s without an
           assignment) and whether they are exactly 0..N-1
    client.py [FLAGS] steady BOOTSTRAP TOPIC SECONDS [STOPFILE]
        -> produces one message every 10 ms for SECONDS (acks=all; or until STOPFILE exists),
           then prints "SENT ACKED FAILED GAP_MS": every failed delivery or refused produce
           counts; GAP_MS is the longest time between two acknowledgements in a row (what a
           client saw stall)
    client.py [FLAGS] metadata BOOTSTRAP
        -> a Kafka metadata request (5 s timeout): prints the broker count, or fails
    client.py [FLAGS] selfgrant BOOTSTRAP USERNAME
        -> tries to give itself rights: an ACL, a SCRAM user, a broker setting; one line each,
           "NAME ok" or "NAME refused: ERROR_NAME" (see selfgrant() below)
    client.py [FLAGS] auth BOOTSTRAP
        -> prints "ok" when it can list topics; "refused: REASON" and exit code 3 when the
           broker refuses the login or the transport (TLS handshake, closed connection, no
           answer), within about 8 s
    client.py [FLAGS] headers BOOTSTRAP TOPIC GROUP EXPECTED
        -> one JSON line: GROUP's committed offsets and the messages with their headers
           (see headers() below)
    client.py [FLAGS] mixed BOOTSTRAP TOPIC PARTITION
        -> three messages to PARTITION, in order: a JSON value with key "order-1" and a header
           source=web, the text "hello world" with key "order-2", and the binary bytes
           00 ff 10 80 without a key; prints the number acknowledged
    client.py [FLAGS] bench BOOTSTRAP TOPIC COUNT
        -> produces COUNT messages of 100 bytes (acks=all, linger.ms=5) and prints
           "RATE msg/s (COUNT in SECONDS s)", timed from the first send to the last
           acknowledgement; a failed delivery makes it fail

FLAGS (all optional, anywhere on the line; without them the client is PLAINTEXT, as before):
    --security-protocol P   PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
    --mechanism M           SCRAM-SHA-512 or SCRAM-SHA-256 (sasl.mechanism)
    --username U            sasl.username
    --password PW           sasl.password
    --ca FILE               ssl.ca.location: the CA that signed the broker's certificate
    --properties FILE       a Java-style client.properties (as the console shows it: key=value
                            or key: value, # and ! comments, backslash continuations). Its
                            settings are applied to the client; the flags above override them.
                            `sasl.jaas.config` is not passed on: the username and password are
                            read out of it when sasl.username/sasl.password are not set.
                            Keys librdkafka does not know (Java-only ones such as
                            ssl.truststore.location, key.serializer) are ignored and named on
                            stderr; a known key with an invalid value is an error (exit 2).
                            A relative ssl.ca.location, ssl.certificate.location or
                            ssl.key.location is taken relative to the file's
                            directory. With a properties file BOOTSTRAP may be "-" to use its
                            bootstrap.servers; otherwise BOOTSTRAP wins.

Failures are visible: every mode first lists topics and stops with "refused: REASON" on
stderr and exit code 3 when the login or the TLS handshake is refused (under a second), or
when no broker has answered after 8 s (5 s for metadata; auth gives up at once on a closed
or refused connection). An authentication or TLS error reported later (librdkafka's
error_cb) also stops the run with exit code 3. librdkafka's log lines go to stderr, each
distinct line once.

Examples, against a broker with TLS and SCRAM:
    client.py --security-protocol SASL_SSL --ca ca.pem --mechanism SCRAM-SHA-512
        --username alice --password secret produce 127.0.0.1:19092 orders 100  (one line)
    client.py --properties client.properties auth -
"""
import logging
import os
import re
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

# Security settings from the flags and the properties file, merged into every client's config.
SECURITY = {}

# Errors that end the run at once: the broker refused the login or the TLS handshake.
FATAL = {KafkaError._AUTHENTICATION, KafkaError._SSL}
# Errors that mean no broker could be reached (or it closed the connection): fatal only while
# the first metadata request has not been answered.
DOWN = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}

FLAGS = {
    "--security-protocol": "security.protocol",
    "--mechanism": "sasl.mechanism",
    "--username": "sasl.username",
    "--password": "sasl.password",
    "--ca": "ssl.ca.location",
    "--properties": None,
}


class Refused(Exception):
    """The broker refused the client: the login, the TLS handshake or the connection."""


errors = []  # every KafkaError the error callback saw, in order
fails = []  # librdkafka's FAIL log lines (how a connection ended), in order


def refusal(err):
    """A refused login or TLS handshake. Not a connection that broke in the middle of the SASL
    handshake (a node shutting down, as in a rolling restart): librdkafka reports that as
    _AUTHENTICATION with "Broker transport failure", and connects again."""
    if err.fatal():
        return True
    return err.code() in FATAL and "Broker transport failure" not in err.str()


def down(err):
    """No broker reached, or the connection closed (also in the middle of a handshake)."""
    return err.code() in DOWN or (err.code() in FATAL and not refusal(err))


def on_error(err):
    errors.append(err)
    if refusal(err):
        raise Refused(f"{err.name()}: {err.str()}")


class Once(logging.Filter):
    """Lets each librdkafka log line through once: a refused reconnect repeats every 50 ms."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record):
        text = record.getMessage()
        if text.startswith("FAIL "):
            fails.append(text.split("]: ", 2)[-1])
        key = re.sub(r"after \d+ms", "", text)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


LOG = logging.getLogger("librdkafka")
LOG.propagate = False
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
_handler.addFilter(Once())
LOG.addHandler(_handler)
LOG.setLevel(logging.INFO)


def conf(base):
    """`base` with the security settings, the error callback and the de-duplicating logger."""
    c = dict(base)
    c.update(SECURITY)
    c["error_cb"] = on_error
    c["logger"] = LOG
    return c


def reason():
    """The most telling error seen: a refused login or handshake, else the last transport
    error (which says how the connection ended), else the last error."""
    for codes in (FATAL, {KafkaError._TRANSPORT}, None):
        for err in reversed(errors):
            if codes is None or err.code() in codes:
                down = any(e.code() == KafkaError._ALL_BROKERS_DOWN for e in errors)
                if err.code() == KafkaError._ALL_BROKERS_DOWN and fails:
                    # librdkafka logs a closed connection but does not report it as an error
                    return f"{err.name()}: {fails[-1]}"
                extra = " (all brokers down)" if down and err.code() != KafkaError._ALL_BROKERS_DOWN else ""
                return f"{err.name()}: {err.str()}{extra}"
    return None


def connected(handle, seconds=8.0, down_is_fatal=True):
    """Lists topics through `handle` until answered; raises Refused when the broker refuses
    (or, with `down_is_fatal`, closes or cannot be reached) or nothing answers in `seconds`."""
    deadline = time.monotonic() + seconds
    last = None
    while True:
        try:
            return handle.list_topics(timeout=0.25)
        except KafkaException as e:
            last = e.args[0]
        finally:
            # list_topics does not serve callbacks: poll for the error callback's reports
            handle.poll(0)
        if any(refusal(e) or (down_is_fatal and down(e)) for e in errors):
            raise Refused(reason())
        if time.monotonic() >= deadline:
            seen = reason()
            raise Refused(f"no metadata within {seconds:.0f} s ({last.str() if last else '?'})"
                          + (f"; {seen}" if seen else ""))


def produce(bootstrap, topic, count, age_s=0):
    """Messages 0..count-1; with age_s, stamped that many seconds in the past (CreateTime), as
    a producer replaying old events would: what a topic's retention applies to."""
    acked = 0
    stamp = {} if not age_s else {"timestamp": int((time.time() - age_s) * 1000)}

    def on_delivery(err, _msg):
        nonlocal acked
        if err is None:
            acked += 1
        else:
            print(f"delivery failed: {err}", file=sys.stderr)

    p = Producer(conf({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5}))
    connected(p, down_is_fatal=False)
    for i in range(count):
        while True:
            try:
                p.produce(topic, key=str(i).encode(), value=f"message {i:06d}".encode(), on_delivery=on_delivery, **stamp)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(30)
    print(acked if remaining == 0 else f"{acked} ({remaining} unsent)")


def mixed(bootstrap, topic, partition):
    """The message browser's three kinds of value (see the usage above), one at a time."""
    acked = 0

    def on_delivery(err, _msg):
        nonlocal acked
        if err is None:
            acked += 1
        else:
            print(f"delivery failed: {err}", file=sys.stderr)

    p = Producer(conf({"bootstrap.servers": bootstrap, "acks": "all"}))
    connected(p, down_is_fatal=False)
    for key, value, hdrs in [
        (b"order-1", b'{"id":1,"paid":true}', [("source", b"web")]),
        (b"order-2", b"hello world", []),
        (None, bytes([0x00, 0xFF, 0x10, 0x80]), []),
    ]:
        p.produce(topic, key=key, value=value, headers=hdrs, partition=partition,
                  on_delivery=on_delivery)
        p.flush(30)
    print(acked)


def consume(bootstrap, topic, group, expected):
    c = Consumer(conf({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
    }))
    connected(c, down_is_fatal=False)
    # The 10 s without a message count from the group's first assignment: joining a group
    # the first time on a cluster (the __consumer_offsets topic made, a rebalance) can take
    # longer than that on a loaded host. At most 60 s without an assignment.
    assigned = False

    def on_assign(_consumer, _partitions):
        nonlocal assigned
        assigned = True

    c.subscribe([topic], on_assign=on_assign)
    seen = set()
    idle = 0
    unassigned = 0
    while idle < 10 and unassigned < 60 and len(seen) < expected:
        msg = c.poll(1.0)
        if msg is None:
            if assigned:
                idle += 1
            else:
                unassigned += 1
            continue
        if msg.error():
            if refusal(msg.error()):
                raise Refused(f"{msg.error().name()}: {msg.error().str()}")
            print(f"consume error: {msg.error()}", file=sys.stderr)
            continue
        idle = 0
        seen.add(int(msg.key().decode()))
    if seen:
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            # the auto-commit may already have committed every offset read
            if e.args[0].code() != KafkaError._NO_OFFSET:
                raise
    c.close()
    exact = seen == set(range(len(seen)))
    print(f"{len(seen)} {'exact' if exact else 'gaps'}")


def steady(bootstrap, topic, seconds, stop_file=None):
    acked = failed = sent = 0
    last_ack = None
    gap = 0.0

    def on_delivery(err, _msg):
        nonlocal acked, failed, last_ack, gap
        if err is None:
            acked += 1
            now = time.monotonic()
            if last_ack is not None:
                gap = max(gap, now - last_ack)
            last_ack = now
        else:
            failed += 1
            print(f"delivery failed: {err}", file=sys.stderr)

    p = Producer(conf({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0}))
    connected(p, down_is_fatal=False)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if stop_file and sent % 50 == 0 and os.path.exists(stop_file):
            break
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
    print(f"{sent} {acked} {failed + remaining} {round(gap * 1000)}")


def metadata(bootstrap):
    admin = AdminClient(conf({"bootstrap.servers": bootstrap}))
    cluster = connected(admin, seconds=5, down_is_fatal=False)
    print(len(cluster.brokers))


def selfgrant(bootstrap, username):
    """A client that tries to give itself rights: an ACL allowing it everything on every
    topic, a SCRAM user of its own, and a broker setting. Prints one line per attempt,
    "NAME ok" or "NAME refused: ERROR_NAME"."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, ConfigResource,
                                       ResourcePatternType, ResourceType, UserScramCredentialUpsertion,
                                       ScramCredentialInfo, ScramMechanism)
    admin = AdminClient(conf({"bootstrap.servers": bootstrap}))
    connected(admin, seconds=8, down_is_fatal=True)

    def attempt(name, future):
        try:
            future.result(timeout=30)
            print(f"{name} ok")
        except KafkaException as e:
            print(f"{name} refused: {e.args[0].name()}")

    acl = AclBinding(ResourceType.TOPIC, "*", ResourcePatternType.LITERAL, f"User:{username}", "*",
                     AclOperation.ALL, AclPermissionType.ALLOW)
    attempt("create_acls", admin.create_acls([acl])[acl])
    upsert = UserScramCredentialUpsertion("intruder", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                          b"intruder-password-1234")
    attempt("create_user", admin.alter_user_scram_credentials([upsert])["intruder"])
    resource = ConfigResource(ConfigResource.Type.BROKER, "0",
                              set_config={"log.retention.ms": "1000"})
    attempt("alter_configs", admin.alter_configs([resource])[resource])


def auth(bootstrap):
    admin = AdminClient(conf({"bootstrap.servers": bootstrap}))
    try:
        connected(admin, seconds=8, down_is_fatal=True)
    except Refused as e:
        print(f"refused: {e}")
        sys.exit(3)
    print("ok")


def bench(bootstrap, topic, count):
    acked = failed = 0

    def on_delivery(err, _msg):
        nonlocal acked, failed
        if err is None:
            acked += 1
        else:
            failed += 1
            if failed <= 5:
                print(f"delivery failed: {err}", file=sys.stderr)

    p = Producer(conf({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5}))
    connected(p, down_is_fatal=False)
    start = time.monotonic()
    for i in range(count):
        value = f"{i:010d}".encode().ljust(100, b".")
        while True:
            try:
                p.produce(topic, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(120)
    elapsed = time.monotonic() - start
    if failed or remaining:
        print(f"{acked} acknowledged, {failed} failed, {remaining} unsent", file=sys.stderr)
        sys.exit(1)
    print(f"{count / elapsed:.0f} msg/s ({count} in {elapsed:.2f} s)")


def headers(bootstrap, topic, group, expected):
    """headers BOOTSTRAP TOPIC GROUP EXPECTED -> one JSON line: GROUP's committed offsets per
    partition (read, never changed: nothing is committed) and the messages read from the start
    of every partition (stops at EXPECTED, or after 10 s without a message), each with its
    headers in order, and the consume errors seen."""
    import json
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    c = Consumer(conf({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}))
    partitions = sorted(connected(c, down_is_fatal=False).topics[topic].partitions)
    committed = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    text = lambda b: None if b is None else b.decode()
    messages, failures = [], []
    last = time.monotonic()
    while time.monotonic() - last < 10 and len(messages) < expected:
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if refusal(msg.error()):
                raise Refused(f"{msg.error().name()}: {msg.error().str()}")
            failures.append(str(msg.error()))
            continue
        last = time.monotonic()
        messages.append({
            "partition": msg.partition(), "offset": msg.offset(),
            "key": text(msg.key()), "value": text(msg.value()),
            "headers": [[k, text(v)] for k, v in (msg.headers() or [])],
        })
    c.close()
    print(json.dumps({
        "committed": {str(tp.partition): tp.offset for tp in committed},
        "messages": messages,
        "errors": failures,
    }))


def read_properties(path):
    """A Java .properties file as (key, value) pairs, in order."""
    with open(path, encoding="utf-8") as f:
        raw = f.read().splitlines()
    lines, pending = [], ""
    for line in raw:
        line = line.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        line, pending = pending + line, ""
        # an odd number of trailing backslashes continues the line
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = line[:-1]
            continue
        lines.append(line)
    if pending:
        lines.append(pending)
    pairs = []
    for line in lines:
        m = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$", line)
        key, value = (re.sub(r"\\(.)", r"\1", g) for g in m.groups())
        pairs.append((key, value.rstrip()))
    return pairs


def jaas_credentials(jaas):
    """username and password out of a sasl.jaas.config value (None where absent)."""
    found = {}
    for name in ("username", "password"):
        m = re.search(name + r'\s*=\s*"((?:\\.|[^"\\])*)"', jaas) or \
            re.search(name + r"\s*=\s*([^\s;]+)", jaas)
        found[name] = re.sub(r"\\(.)", r"\1", m.group(1)) if m else None
    return found["username"], found["password"]


def known(key, value):
    """None when librdkafka knows `key`; else why not ("unknown ..." or "invalid ...")."""
    if key in ("bootstrap.servers", "metadata.broker.list"):
        return None  # known; a probe client would connect to it
    try:
        Producer({key: value, "log_level": 0})
        return None
    except KafkaException as e:
        text = e.args[0].str()
        if text.startswith("No such configuration property"):
            return "unknown to librdkafka"
        if "not supported" in text:  # Java-only settings: JAAS, trust stores, key stores
            return "unknown to librdkafka: " + text.split(", ")[0].split(". ")[0]
        if text.startswith("Invalid value"):
            return "invalid: " + text
        return None  # a known key that needs other settings alongside (as SASL_SSL does)


def properties_config(path):
    """The librdkafka settings of a client.properties file."""
    settings, ignored, jaas = {}, [], None
    for key, value in read_properties(path):
        if key == "sasl.jaas.config":
            jaas = value
            continue
        if key == "ssl.endpoint.identification.algorithm" and value == "":
            value = "none"  # Java's empty value turns host name checking off
        if (
            key in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location")
            and value
            and not os.path.isabs(value)
        ):
            value = os.path.join(os.path.dirname(os.path.abspath(path)), value)
        why = known(key, value)
        if why is None:
            settings[key] = value
        elif why.startswith("invalid"):
            print(f"{path}: {key}={value}: {why}", file=sys.stderr)
            sys.exit(2)
        else:
            ignored.append(f"{key} ({why})")
    if jaas is not None:
        user, password = jaas_credentials(jaas)
        for key, value in (("sasl.username", user), ("sasl.password", password)):
            if value is not None:
                settings.setdefault(key, value)
        ignored.append("sasl.jaas.config (not passed on; its username and password are used"
                       " unless sasl.username/sasl.password are set)")
    if ignored:
        print(f"{path}: ignored: " + "; ".join(ignored), file=sys.stderr)
    return settings


def parse_flags(argv):
    """(positional arguments, security settings) out of the command line."""
    positional, settings, flags = [], {}, {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in FLAGS:
            if not eq:
                if i + 1 >= len(argv):
                    sys.exit(f"{name} needs a value")
                value = argv[i + 1]
                i += 1
            flags[name] = value
        elif arg.startswith("--"):
            sys.exit(f"unknown flag {arg} (known: {', '.join(FLAGS)})")
        else:
            positional.append(arg)
        i += 1
    if "--properties" in flags:
        settings.update(properties_config(flags["--properties"]))
    for flag, key in FLAGS.items():
        if key and flag in flags:
            settings[key] = flags[flag]
    return positional, settings


def main(argv):
    args, settings = parse_flags(argv)
    SECURITY.update({k: v for k, v in settings.items() if k != "bootstrap.servers"})
    if len(args) < 2:
        sys.exit(__doc__)
    mode, bootstrap = args[0:2]
    if bootstrap == "-":
        bootstrap = settings.get("bootstrap.servers") or sys.exit("no bootstrap.servers")
    try:
        if mode == "metadata":
            metadata(bootstrap)
            return
        if mode == "auth":
            auth(bootstrap)
            return
        if mode == "selfgrant":
            selfgrant(bootstrap, args[2])
            return
        topic, arg = args[2:4]
        if mode == "steady":
            steady(bootstrap, topic, float(arg), args[4] if len(args) > 4 else None)
        elif mode == "produce":
            produce(bootstrap, topic, int(arg))
        elif mode == "aged":
            produce(bootstrap, topic, int(arg), age_s=float(args[4]))
        elif mode == "mixed":
            mixed(bootstrap, topic, int(arg))
        elif mode == "bench":
            bench(bootstrap, topic, int(arg))
        elif mode == "headers":
            headers(bootstrap, topic, arg, int(args[4]))
        else:
            consume(bootstrap, topic, arg, int(args[4]))
    except Refused as e:
        print(f"refused: {e}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    # librdkafka's threads can still call into Python (the logger, the error callback) while
    # the interpreter tears down, which now and then kills it with a signal: leave at once,
    # with the exit code main chose, once the answer is written.
    try:
        main(sys.argv[1:])
        code = 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
