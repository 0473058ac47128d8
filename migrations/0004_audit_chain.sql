-- The audit log becomes tamper-evident: each entry carries the hash of the entry before it and
-- a hash over that and its own content (domain/src/audit_chain.rs). Entries written before
-- this migration are sealed by the console at its next start, in id order.
-- Never edit this file once landed: add a new migration instead.

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
-- The audit page filters by kind (action) and time.
CREATE INDEX audit_log_action_at ON audit_log (action, at);
