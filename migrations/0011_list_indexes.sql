-- The audit page's filters by actor and by kind, newest first a page at a time: each index
-- holds its column then the rowid (`id`), so a filtered page is one range read in `id`
-- order, and the filter's choices (the distinct actors and kinds) are read by skipping from
-- one value to the next instead of scanning the log.
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_action ON audit_log (action);
