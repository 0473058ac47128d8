-- Readings of each instance's broker traffic (once a minute, and when it stops): cumulative
-- counters since the instance was created, so that an hour's traffic is the difference of
-- two readings whatever happened between them (restarts included).
-- Never edit this file once landed: add a new migration instead.

CREATE TABLE broker_samples (
    instance_id    INTEGER NOT NULL REFERENCES instances (id),
    at             INTEGER NOT NULL,
    messages_in    INTEGER NOT NULL CHECK (messages_in >= 0),
    bytes_in       INTEGER NOT NULL CHECK (bytes_in >= 0),
    messages_out   INTEGER NOT NULL CHECK (messages_out >= 0),
    bytes_out      INTEGER NOT NULL CHECK (bytes_out >= 0),
    bytes_retained INTEGER NOT NULL CHECK (bytes_retained >= 0),
    -- The broker's last record row counted into bytes_in: where the next reading goes on.
    record_cursor  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, at)
) WITHOUT ROWID;
