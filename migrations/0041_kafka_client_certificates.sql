-- Mutual TLS users of the instances whose client authentication is mtls (#33), and every
-- client certificate the console issued them: serial and dates only. The key is generated for
-- the one download and never kept; so is the certificate itself (the user has it).
-- A certificate's row outlives its user: Kafka cannot revoke a certificate, so a deleted
-- user's principal must stay denied until its last certificate has expired.
-- Never edit this file once landed: add a new migration instead.
CREATE TABLE kafka_certificate_users (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    username    TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, username)
) WITHOUT ROWID;

CREATE TABLE kafka_client_certificates (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    username    TEXT NOT NULL,
    -- Lower-case hex, as the certificate carries it.
    serial      TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL CHECK (not_after > not_before),
    issued_by   TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    PRIMARY KEY (instance_id, serial)
);
CREATE INDEX kafka_client_certificates_by_user
    ON kafka_client_certificates (instance_id, username, not_after);
