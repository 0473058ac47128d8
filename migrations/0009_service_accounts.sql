-- Service accounts: automation's identities for the REST API (/api/v1). The secret is shown
-- once and stored only as its SHA-256 (a long random value needs no slow hash). Revoked and
-- rotated secrets stop working at once; rows are kept for the audit trail.
CREATE TABLE service_accounts (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    secret_sha256   TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    -- Unix seconds; NULL: no expiry.
    expires_at      INTEGER,
    rotated_at      INTEGER,
    revoked_at      INTEGER,
    revoked_by      TEXT,
    -- Written at most once a minute per account, not on every request.
    last_used_at    INTEGER,
    last_used_from  TEXT
);

-- Answers to creates that carried an Idempotency-Key, per service account, kept at least 24 h:
-- a retry with the same key and body gets the first answer; another body is refused.
CREATE TABLE idempotency_keys (
    account_id      INTEGER NOT NULL REFERENCES service_accounts (id),
    idempotency_key TEXT    NOT NULL,
    request_sha256  TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    body            TEXT    NOT NULL,
    location        TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
);
