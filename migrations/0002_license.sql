-- Product keys applied to this environment. The current license is the latest row; older rows
-- are its history. Keys are never deleted or edited.
CREATE TABLE license_keys (
    id                     INTEGER PRIMARY KEY,
    -- SHA-256 of the normalised key text: the same key cannot be applied twice.
    fingerprint            TEXT    NOT NULL UNIQUE,
    key_text               TEXT    NOT NULL,
    license_id             TEXT    NOT NULL,
    key_id                 TEXT    NOT NULL,
    customer               TEXT    NOT NULL,
    billing                TEXT    NOT NULL CHECK (billing IN ('prepaid', 'payg', 'trial')),
    aku_quota              INTEGER,
    max_aku_per_instance   INTEGER NOT NULL,
    issued_at              INTEGER NOT NULL,
    starts_at              INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    grace_days             INTEGER NOT NULL,
    signed_by_run_time_key INTEGER NOT NULL,
    applied_at             INTEGER NOT NULL,
    applied_by             TEXT    NOT NULL
);

-- The latest time the console has seen. A system clock far behind it was turned back; the
-- license rules then use this time instead.
CREATE TABLE clock_watermark (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    latest_seen INTEGER NOT NULL
);

-- The license phase last noticed by the watcher, so that each change is audited once.
CREATE TABLE license_phase (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    phase      TEXT    NOT NULL,
    noticed_at INTEGER NOT NULL
);
