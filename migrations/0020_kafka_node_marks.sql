-- What was last counted of each Kafka node of an instance (engine::meter::NodeMark): the
-- process's start time and its counters at the last stored reading. Written in the same
-- transaction as the broker_samples row of that reading, so that a console that restarts
-- goes on from exactly what the stored totals include: a node still running adds only what
-- it counted since, a restarted node what it counted since its start.
-- broker_samples.record_cursor (the old single-process broker's) is written as 0 from now on.
-- Never edit this file once landed: add a new migration instead.

CREATE TABLE kafka_node_marks (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    node_id     INTEGER NOT NULL CHECK (node_id >= 0),
    started_at  REAL    NOT NULL CHECK (started_at >= 0),
    bytes_in    INTEGER NOT NULL CHECK (bytes_in >= 0),
    bytes_out   INTEGER NOT NULL CHECK (bytes_out >= 0),
    messages_in INTEGER NOT NULL CHECK (messages_in >= 0),
    PRIMARY KEY (instance_id, node_id)
) WITHOUT ROWID;
