"""The SCRAM hole test: a raw Kafka protocol client (standard library only: socket, ssl,
hashlib, hmac) that fails the SCRAM proof and then asks for service on the same connection.

    raw_scram.py [--tls | --ca FILE] [--mechanism SCRAM-SHA-512|SCRAM-SHA-256]
                 [--topic NAME] [--right-password PW | --no-sasl] HOST:PORT USERNAME

Default (the hole test): ApiVersions v0, SaslHandshake v1 (the mechanism), SaslAuthenticate
v1 with a correct client-first-message for USERNAME, read the server-first-message, then
SaslAuthenticate v1 with a client-final-message whose proof is random bytes. Whatever the
broker does with that (an error answer, or nothing), the client goes on, on the same
connection: Metadata v1 (all topics), then CreateTopics v1 for NAME (default hole-probe,
1 partition, replication 1).

    --right-password PW  does the exchange correctly (RFC 5802: SaltedPassword =
                         PBKDF2-HMAC(PW, salt, i), ClientKey = HMAC(SaltedPassword,
                         "Client Key"), StoredKey = H(ClientKey), ClientSignature =
                         HMAC(StoredKey, AuthMessage), proof = ClientKey XOR ClientSignature;
                         the server's signature in the server-final-message is checked too)
                         and sends the same requests: it shows that the script is a working
                         client, so that "refused" after a wrong proof means something.
    --no-sasl            no SASL at all: Metadata and CreateTopics straight after ApiVersions
                         (is an unauthenticated client served?)
    --tls                TLS without verifying the broker's certificate
    --ca FILE            TLS, verifying the broker's certificate (and host name) with FILE
    --mechanism M        SCRAM-SHA-512 (default) or SCRAM-SHA-256
    --topic NAME         the topic CreateTopics asks for (default hole-probe)

Output: one JSON line {"served": bool, "stage": "...", "detail": "..."}. served is true when
any request after the proof (or, with --no-sasl, after ApiVersions) got a real answer: a
Metadata answer that parses, or a CreateTopics answer whose error code is not a refusal
(58 SASL_AUTHENTICATION_FAILED, 31 CLUSTER_AUTHORIZATION_FAILED, 29
TOPIC_AUTHORIZATION_FAILED, 34 ILLEGAL_SASL_STATE); TOPIC_ALREADY_EXISTS counts as served,
since the broker looked. stage names the last step reached; detail says what each request
got.

Exit codes: wrong proof or --no-sasl: 0 refused, 2 served. --right-password: 0 served, 1
not served. Any mode: 1 when the test could not get as far as the proof (connection,
TLS, handshake or server-first-message failed), so it proves nothing.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import sys

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA, CREATE_TOPICS = 18, 17, 36, 3, 19
NAMES = {API_VERSIONS: "ApiVersions", SASL_HANDSHAKE: "SaslHandshake",
         SASL_AUTHENTICATE: "SaslAuthenticate", METADATA: "Metadata",
         CREATE_TOPICS: "CreateTopics"}
REFUSALS = {58: "SASL_AUTHENTICATION_FAILED", 31: "CLUSTER_AUTHORIZATION_FAILED",
            29: "TOPIC_AUTHORIZATION_FAILED", 34: "ILLEGAL_SASL_STATE"}
TIMEOUT = 5.0


class Closed(Exception):
    """The broker closed the connection (or did not answer within TIMEOUT)."""


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise ValueError(f"answer too short ({len(self.data)} bytes)")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, item):
        n = self.i32()
        return [] if n < 0 else [item() for _ in range(n)]


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def bytes_(b):
    return struct.pack(">i", len(b)) + b


class Connection:
    def __init__(self, host, port, tls, ca):
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        if tls or ca:
            if ca:
                ctx = ssl.create_default_context(cafile=ca)
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            raw = ctx.wrap_socket(raw, server_hostname=host)
            self.tls = raw.version()
        else:
            self.tls = None
        raw.settimeout(TIMEOUT)
        self.sock = raw
        self.correlation = 0

    def request(self, api, version, body):
        """Sends a request (header v1: every version used here is non-flexible); its answer's
        body. Raises Closed when the broker closes or does not answer."""
        self.correlation += 1
        header = struct.pack(">hhi", api, version, self.correlation) + string("raw_scram")
        frame = header + body
        try:
            self.sock.sendall(struct.pack(">i", len(frame)) + frame)
            size = struct.unpack(">i", self.read(4))[0]
            answer = self.read(size)
        except (OSError, ssl.SSLError) as e:
            raise Closed(f"{type(e).__name__}: {e}") from None
        r = Reader(answer)
        correlation = r.i32()
        if correlation != self.correlation:
            raise ValueError(f"correlation id {correlation}, expected {self.correlation}")
        return r

    def read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise Closed("connection closed by the broker")
            data += chunk
        return data


def api_versions(conn):
    r = conn.request(API_VERSIONS, 0, b"")
    error = r.i16()
    ranges = {}
    for _ in range(r.i32()):
        key, low, high = r.i16(), r.i16(), r.i16()
        ranges[key] = (low, high)
    return error, ranges


def sasl_handshake(conn, mechanism):
    r = conn.request(SASL_HANDSHAKE, 1, string(mechanism))
    error = r.i16()
    return error, r.array(r.string)


def sasl_authenticate(conn, payload):
    r = conn.request(SASL_AUTHENTICATE, 1, bytes_(payload))
    error, message, data = r.i16(), r.string(), r.bytes_()
    r.i64()  # session_lifetime_ms
    return error, message, data


def metadata(conn):
    """Metadata v1 for all topics: (brokers, topic names)."""
    r = conn.request(METADATA, 1, struct.pack(">i", -1))
    brokers = r.array(lambda: (r.i32(), r.string(), r.i32(), r.string()))
    r.i32()  # controller_id

    def partition():
        r.i16(), r.i32(), r.i32()
        r.array(r.i32), r.array(r.i32)

    def topic():
        error, name, _internal = r.i16(), r.string(), r.i8()
        r.array(partition)
        return name, error

    return brokers, r.array(topic)


def create_topics(conn, name):
    """CreateTopics v1 for one topic: (error code, error message)."""
    body = struct.pack(">i", 1) + string(name) + struct.pack(">ihii", 1, 1, 0, 0)
    body += struct.pack(">ib", 5000, 0)  # timeout_ms, validate_only
    r = conn.request(CREATE_TOPICS, 1, body)
    answers = r.array(lambda: (r.string(), r.i16(), r.string()))
    if not answers:
        return None, "no topic in the answer"
    return answers[0][1], answers[0][2]


def saslname(user):
    return user.replace("=", "=3D").replace(",", "=2C")


def parse_attributes(message):
    return dict(part.split("=", 1) for part in message.split(",") if "=" in part)


def scram(conn, mechanism, username, password, report):
    """The SCRAM exchange; password None sends a random proof. Returns (stage, ok, text):
    ok False with stage before "proof" means the test proves nothing."""
    hash_name = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    digest = getattr(hashlib, hash_name)
    error, mechanisms = sasl_handshake(conn, mechanism)
    report(f"SaslHandshake v1: error {error}, mechanisms {mechanisms}")
    if error != 0:
        return "handshake", False, f"SaslHandshake refused {mechanism} (error {error})"

    nonce = base64.b64encode(os.urandom(24)).decode()
    first_bare = f"n={saslname(username)},r={nonce}"
    error, message, server_first = sasl_authenticate(conn, ("n,," + first_bare).encode())
    report(f"client-first: error {error} {message or ''}".rstrip())
    if error != 0 or not server_first:
        return "client-first", False, f"client-first-message refused (error {error}: {message})"
    server_first = server_first.decode()
    attrs = parse_attributes(server_first)
    if not attrs.get("r", "").startswith(nonce) or "s" not in attrs or "i" not in attrs:
        return "client-first", False, f"server-first-message unusable: {server_first!r}"
    report(f"server-first: iterations {attrs['i']}")

    final_bare = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    server_key = None
    if password is None:
        proof = os.urandom(digest().digest_size)
    else:
        salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        stored_key = digest(client_key).digest()
        signature = hmac.new(stored_key, auth_message, digest).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", digest).digest()
    final = f"{final_bare},p={base64.b64encode(proof).decode()}".encode()
    try:
        error, message, server_final = sasl_authenticate(conn, final)
    except Closed as e:
        report(f"client-final: {e}")
        return "proof", True, f"closed at the proof: {e}"
    text = f"client-final: error {error} {message or ''}".rstrip()
    if server_final:
        text += f", server-final {server_final.decode('utf-8', 'replace')!r}"
    if server_key is not None and error == 0:
        expected = hmac.new(server_key, auth_message, digest).digest()
        got = parse_attributes((server_final or b"").decode()).get("v", "")
        verified = base64.b64decode(got) == expected if got else False
        text += ", server signature " + ("verified" if verified else f"WRONG ({server_final!r})")
    report(text)
    return "proof", True, text


def main(argv):
    opts = {"--mechanism": "SCRAM-SHA-512", "--topic": "hole-probe", "--ca": None,
            "--right-password": None}
    flags, positional = set(), []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in opts:
            if i + 1 >= len(argv):
                sys.exit(f"{arg} needs a value")
            opts[arg] = argv[i + 1]
            i += 2
            continue
        if arg in ("--tls", "--no-sasl"):
            flags.add(arg)
        elif arg.startswith("--"):
            sys.exit(__doc__)
        else:
            positional.append(arg)
        i += 1
    if len(positional) != (1 if "--no-sasl" in flags else 2):
        sys.exit(__doc__)
    if opts["--mechanism"] not in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        sys.exit("--mechanism: SCRAM-SHA-256 or SCRAM-SHA-512")
    host, _, port = positional[0].rpartition(":")
    username = positional[1] if len(positional) > 1 else None
    right = opts["--right-password"]

    steps = []
    result = {"served": False, "stage": "connect", "detail": ""}

    def finish(code):
        result["detail"] = "; ".join(steps)
        print(json.dumps(result))
        sys.exit(code)

    try:
        conn = Connection(host.strip("[]"), int(port), "--tls" in flags, opts["--ca"])
        steps.append(f"connected{' (' + conn.tls + ')' if conn.tls else ''}")
        result["stage"] = "api-versions"
        error, ranges = api_versions(conn)
        wanted = [SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA, CREATE_TOPICS]
        steps.append(f"ApiVersions v0: error {error}, "
                     + ", ".join(f"{NAMES[k]} {ranges[k][0]}-{ranges[k][1]}" if k in ranges
                                 else f"{NAMES[k]} absent" for k in wanted))
        if "--no-sasl" not in flags:
            for key, version in ((SASL_HANDSHAKE, 1), (SASL_AUTHENTICATE, 1)):
                if key in ranges and not ranges[key][0] <= version <= ranges[key][1]:
                    steps.append(f"{NAMES[key]} v{version} not advertised")
            stage, reached, text = scram(conn, opts["--mechanism"], username, right,
                                         steps.append)
            result["stage"] = stage
            if not reached:
                finish(1)
    except (Closed, OSError, ValueError, ssl.SSLError) as e:
        steps.append(f"{result['stage']}: {type(e).__name__}: {e}")
        finish(1)

    # After the proof (or without SASL): does the broker serve this connection?
    for stage, call in (("metadata", lambda: metadata(conn)),
                        ("create-topics", lambda: create_topics(conn, opts["--topic"]))):
        result["stage"] = stage
        try:
            answer = call()
        except Closed as e:
            steps.append(f"{stage}: {e}")
            break
        except ValueError as e:
            steps.append(f"{stage}: unreadable answer ({e})")
            continue
        if stage == "metadata":
            brokers, topics = answer
            steps.append(f"Metadata v1 ANSWERED: brokers {[f'{h}:{p}' for _, h, p, _ in brokers]}, "
                         f"{len(topics)} topics {[n for n, _ in topics][:10]}")
            result["served"] = True
        else:
            error, message = answer
            if error in REFUSALS:
                steps.append(f"CreateTopics v1 refused: {REFUSALS[error]} ({message})")
            else:
                steps.append(f"CreateTopics v1 ANSWERED for {opts['--topic']}: error {error}"
                             f"{' (created)' if error == 0 else ''} {message or ''}".rstrip())
                result["served"] = True
    if right:
        finish(0 if result["served"] else 1)
    finish(2 if result["served"] else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
