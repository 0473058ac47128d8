-- The audit page's filters by actor and by kind, newest first a page at a time: each index
-- holds its column then the rowid (`id`), so a filtered page is one range read in `id`
-- order, and the filter's choices (the distinct actors and kinds) are read by skipping from
-- one value to the next instead of scanning the log.
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_action ON audit_log (action);

-- What every page's shell reads and seldom changes (the users, the applied keys, the
-- environment, the marketplace link) is kept in memory by the console and trusted while this
-- number is the one it was read at. Any change to those tables moves it in the same
-- transaction, whoever makes it (another connection, or a person with sqlite3), so the next
-- page reads afresh. A page then asks one row for this number, the totals' and the clock's
-- watermark together, instead of one statement per table.
CREATE TABLE shell_reads_version (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    version  INTEGER NOT NULL
);
INSERT INTO shell_reads_version (only_row, version) VALUES (1, 0);

CREATE TRIGGER shell_reads_users_insert AFTER INSERT ON users
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_users_update AFTER UPDATE ON users
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_users_delete AFTER DELETE ON users
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;

CREATE TRIGGER shell_reads_license_keys_insert AFTER INSERT ON license_keys
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_license_keys_update AFTER UPDATE ON license_keys
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_license_keys_delete AFTER DELETE ON license_keys
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;

CREATE TRIGGER shell_reads_environment_insert AFTER INSERT ON environment
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_environment_update AFTER UPDATE ON environment
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_environment_delete AFTER DELETE ON environment
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;

CREATE TRIGGER shell_reads_marketplace_links_insert AFTER INSERT ON marketplace_links
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_marketplace_links_update AFTER UPDATE ON marketplace_links
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
CREATE TRIGGER shell_reads_marketplace_links_delete AFTER DELETE ON marketplace_links
BEGIN
    UPDATE shell_reads_version SET version = version + 1;
END;
