-- The console's first schema: the installation, the environment set up at first run, users,
-- and the audit log. Times are unix seconds (UTC). Never edit this file once landed: add a
-- new migration instead.

-- One row, written at first start: the Installation ID never changes afterwards.
CREATE TABLE installation (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    installation_id TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- One row, written by first-run setup. The primary key makes setup happen at most once,
-- even when two browsers submit it at the same moment.
CREATE TABLE environment (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    display_name   TEXT    NOT NULL,
    cloud_provider TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    setup_at       INTEGER NOT NULL
);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash        TEXT    NOT NULL,
    role                 TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    must_change_password INTEGER NOT NULL DEFAULT 0,
    -- Bumped when the password changes: sessions signed in under an older value end.
    credentials_version  INTEGER NOT NULL DEFAULT 1,
    disabled_at          INTEGER,
    created_at           INTEGER NOT NULL,
    last_login_at        INTEGER
);

-- Security-relevant events: who (actor, as typed for failed sign-ins), what (action and
-- target), when, from where, and the outcome. Sign-in throttling counts failures here.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT,
    client_addr TEXT,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'refused')),
    detail      TEXT
);
CREATE INDEX audit_log_actor_action_at ON audit_log (action, actor, at);
CREATE INDEX audit_log_addr_action_at ON audit_log (action, client_addr, at);
CREATE INDEX audit_log_at ON audit_log (at);
