-- Moves of a nisshi 0.8.1 storage file into a Kafka-cluster instance (#34): the move, and per
-- partition how many messages Kafka acknowledged and the nisshi offset of the last one. A
-- batch's progress is written in one transaction after Kafka acknowledged it; after a crash
-- the copy reads the partition's end offset to learn what landed since (docs/moving-data.md).
CREATE TABLE nisshi_moves (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    source_path TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('copying', 'offsets', 'done', 'failed')),
    messages_total INTEGER NOT NULL CHECK (messages_total >= 0),
    bytes_total INTEGER NOT NULL CHECK (bytes_total >= 0),
    messages_copied INTEGER NOT NULL DEFAULT 0 CHECK (messages_copied >= 0),
    bytes_copied INTEGER NOT NULL DEFAULT 0 CHECK (bytes_copied >= 0),
    -- Milliseconds spent reading and producing batches (the throughput's denominator).
    copy_ms INTEGER NOT NULL DEFAULT 0,
    groups_committed INTEGER NOT NULL DEFAULT 0,
    -- The SCRAM users of the file, comma-separated: not carried, listed for new passwords.
    scram_users TEXT NOT NULL DEFAULT '',
    last_error TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE INDEX nisshi_moves_instance ON nisshi_moves (instance_id, id);

CREATE TABLE nisshi_move_partitions (
    move_id INTEGER NOT NULL REFERENCES nisshi_moves (id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    messages_total INTEGER NOT NULL CHECK (messages_total >= 0),
    -- Messages Kafka acknowledged: the destination offsets 0..copied hold them.
    copied INTEGER NOT NULL DEFAULT 0 CHECK (copied >= 0 AND copied <= messages_total),
    -- The nisshi offset of the last of them (NULL: none yet).
    last_source_offset INTEGER,
    bytes_copied INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (move_id, topic, partition)
);
