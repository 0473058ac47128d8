-- The metering ledger: one record per instance, hour and dimension, appended by the metering
-- task at each hour boundary and back-filled at start for every hour missed while the console
-- was down. The unique key makes metering an hour twice add nothing.
-- Never edit this file once landed: add a new migration instead.

CREATE TABLE usage_ledger (
    id           INTEGER PRIMARY KEY,
    -- Stable across re-exports (domain::metering::record_id): a marketplace counts it once.
    record_id    TEXT    NOT NULL UNIQUE,
    instance_id  INTEGER NOT NULL REFERENCES instances (id),
    hour_start   INTEGER NOT NULL, -- unix seconds, a multiple of 3600 (UTC)
    dimension    TEXT    NOT NULL,
    -- Exact decimal as text (6 places at most): never a float.
    quantity     TEXT    NOT NULL,
    -- The license in force when the hour ended (None before activation).
    license_id   TEXT,
    recorded_at  INTEGER NOT NULL,
    UNIQUE (instance_id, hour_start, dimension)
);
CREATE INDEX usage_ledger_hour ON usage_ledger (hour_start);

-- Every hour before `metered_until` has been metered (one row).
CREATE TABLE metering_progress (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    metered_until  INTEGER NOT NULL
);
