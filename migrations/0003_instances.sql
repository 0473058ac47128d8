-- Kafka instances, the operations that change them, and each instance's state history.
-- Never edit this file once landed: add a new migration instead.

CREATE TABLE instances (
    id                 INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    kafka_version      TEXT    NOT NULL,
    deployment         TEXT    NOT NULL CHECK (deployment IN ('single_zone', 'three_zones')),
    zones              TEXT    NOT NULL, -- JSON array of zone names
    vpc_id             TEXT    NOT NULL,
    subnets            TEXT    NOT NULL, -- JSON array, one subnet per zone
    data_bucket        TEXT    NOT NULL,
    wal_mode           TEXT    NOT NULL,
    client_auth        TEXT    NOT NULL,
    transit_encryption TEXT    NOT NULL,
    endpoint_exposure  TEXT    NOT NULL,
    tags               TEXT    NOT NULL, -- JSON object, fixed at creation
    size_aku           INTEGER NOT NULL CHECK (size_aku > 0),
    -- The size a scale in progress (or failed, until retried or deleted) moves to: the quota
    -- counts the larger of the two.
    target_aku         INTEGER CHECK (target_aku > 0),
    state              TEXT    NOT NULL CHECK (state IN
                           ('creating', 'running', 'changing', 'deleting', 'deleted', 'suspended', 'abnormal')),
    -- Why the instance is abnormal (the failed step), shown to the operator.
    state_reason       TEXT,
    -- Empty until the provisioner publishes it.
    bootstrap          TEXT    NOT NULL DEFAULT '',
    created_by         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    deleted_at         INTEGER
);
-- Names are unique among instances that are not deleted; a deleted name may be used again.
CREATE UNIQUE INDEX instances_live_name ON instances (name) WHERE state <> 'deleted';
CREATE INDEX instances_state ON instances (state);

-- One row per change requested of an instance. `steps_done` moves forward as each step of
-- the provisioner completes (committed before the next starts), so an operation cut off by a
-- restart continues from the first step not done.
CREATE TABLE operations (
    id             INTEGER PRIMARY KEY,
    instance_id    INTEGER NOT NULL REFERENCES instances (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('create', 'scale', 'delete', 'suspend', 'resume')),
    from_state     TEXT    NOT NULL,
    to_state       TEXT    NOT NULL,
    from_aku       INTEGER,
    to_aku         INTEGER,
    requested_by   TEXT    NOT NULL,
    requested_from TEXT,
    requested_at   INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    steps_done     INTEGER NOT NULL DEFAULT 0,
    step_count     INTEGER NOT NULL,
    finished_at    INTEGER,
    error          TEXT
);
-- At most one operation in flight per instance.
CREATE UNIQUE INDEX operations_one_running ON operations (instance_id) WHERE status = 'running';
CREATE INDEX operations_instance ON operations (instance_id, id);

-- Each step of each operation: when it started (and how often: a step cut off by a restart
-- starts again), when it finished and how.
CREATE TABLE operation_steps (
    operation_id INTEGER NOT NULL REFERENCES operations (id),
    step_index   INTEGER NOT NULL,
    step_id      TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 1,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    outcome      TEXT CHECK (outcome IN ('succeeded', 'failed')),
    detail       TEXT,
    PRIMARY KEY (operation_id, step_index)
);

-- Every state or size an instance has had, from when: what metering reads AKU-hours from.
CREATE TABLE instance_history (
    id          INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    at          INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    size_aku    INTEGER NOT NULL
);
CREATE INDEX instance_history_instance_at ON instance_history (instance_id, at);
