-- Kafka security of the instances: SCRAM users per instance, the environment's certificate
-- authority and the server certificate issued to each instance.
-- Never edit this file once landed: add a new migration instead.

-- What a server needs to check a SCRAM login (RFC 5802), never the password nor the salted
-- password. The control loop writes exactly these rows into the broker's own storage.
CREATE TABLE kafka_users (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    username    TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    mechanism   TEXT NOT NULL CHECK (mechanism IN ('SCRAM-SHA-512', 'SCRAM-SHA-256')),
    salt        BLOB NOT NULL,
    iterations  INTEGER NOT NULL CHECK (iterations >= 4096),
    stored_key  BLOB NOT NULL,
    server_key  BLOB NOT NULL,
    -- 1: the console's own user (it reads topics and offsets through it).
    internal    INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    rotated_at  INTEGER,
    PRIMARY KEY (instance_id, username)
) WITHOUT ROWID;

-- One certificate authority per environment. Its key is here, so backups of the database
-- carry it: keep them as secret as the key.
CREATE TABLE certificate_authority (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    cert_pem   TEXT NOT NULL,
    key_pem    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    not_after  INTEGER NOT NULL
);

-- The last server certificate issued to each instance (its files live in the instance's
-- broker directory): what the control loop compares with the addresses and the date.
CREATE TABLE instance_certificates (
    instance_id INTEGER PRIMARY KEY REFERENCES instances (id),
    -- JSON array of the names and addresses, sorted.
    names       TEXT NOT NULL,
    serial      TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL
);
