-- SASL/PLAIN users of the instances whose client authentication is sasl_plain (#33). What the
-- nodes' PLAIN callback handler checks a login with: a salted PBKDF2-HMAC-SHA512 hash of the
-- generated password, never the password. The console writes these rows into each node's
-- owner-only `plain-users` file. A user name is unique per instance across both tables (the
-- service checks kafka_users too: an instance has PLAIN users or SCRAM users, never both).
-- Never edit this file once landed: add a new migration instead.
CREATE TABLE kafka_plain_users (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    username    TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    salt        BLOB NOT NULL CHECK (length(salt) >= 16),
    iterations  INTEGER NOT NULL CHECK (iterations >= 100000),
    hash        BLOB NOT NULL CHECK (length(hash) = 64),
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    rotated_at  INTEGER,
    PRIMARY KEY (instance_id, username)
) WITHOUT ROWID;
