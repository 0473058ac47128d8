-- Indexes and a version number for the pages and exports at the size of real environments.

-- The totals every page shows (instances per state, AKU in use) depend only on the instances'
-- state, size and target. This number changes, in the same transaction, whenever one of those
-- does, so the console can keep the totals in memory and trust them while the number it reads
-- is the one they were computed at: no page scans every instance, and a change made by any
-- connection (or by hand with sqlite3) is seen at once.
CREATE TABLE instance_totals_version (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    version  INTEGER NOT NULL
);
INSERT INTO instance_totals_version (only_row, version) VALUES (1, 0);

CREATE TRIGGER instance_totals_insert AFTER INSERT ON instances
BEGIN
    UPDATE instance_totals_version SET version = version + 1;
END;

CREATE TRIGGER instance_totals_update AFTER UPDATE OF state, size_aku, target_aku ON instances
BEGIN
    UPDATE instance_totals_version SET version = version + 1;
END;

CREATE TRIGGER instance_totals_delete AFTER DELETE ON instances
BEGIN
    UPDATE instance_totals_version SET version = version + 1;
END;

-- Computing the totals is one pass over this index in its order (no table rows, no sort);
-- it also serves every lookup by state, which the index it replaces did.
CREATE INDEX instances_totals ON instances (state, size_aku, target_aku);
DROP INDEX instances_state;

-- The ledger exports read a month in (hour, instance, dimension) order a batch at a time,
-- each batch after the last record sent: this index is that order, so a batch is a seek and
-- a short walk, not a sort of the month. It starts with the hour, as the index it replaces.
CREATE INDEX usage_ledger_export ON usage_ledger (hour_start, instance_id, dimension);
DROP INDEX usage_ledger_hour;

-- The audit page keeps its last walk of the hash chain and goes on from the last entry it
-- checked, instead of walking the whole log on every view. The console only appends entries
-- (and fills in the hashes of old ones once, at start), so this number moves when anything
-- else happens to the log: an entry changed, removed, or added anywhere but at the end. The
-- page then walks the whole chain again, and an edit by hand is found as before.
CREATE TABLE audit_log_edits (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    count    INTEGER NOT NULL
);
INSERT INTO audit_log_edits (only_row, count) VALUES (1, 0);

CREATE TRIGGER audit_log_changed AFTER UPDATE ON audit_log
BEGIN
    UPDATE audit_log_edits SET count = count + 1;
END;

CREATE TRIGGER audit_log_removed AFTER DELETE ON audit_log
BEGIN
    UPDATE audit_log_edits SET count = count + 1;
END;

CREATE TRIGGER audit_log_inserted_before_the_end AFTER INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id > NEW.id)
BEGIN
    UPDATE audit_log_edits SET count = count + 1;
END;
