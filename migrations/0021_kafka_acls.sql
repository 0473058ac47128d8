-- Access rules (ACLs) of the instances' Kafka users: the console's list is the truth, the
-- control loop makes each cluster's rules exactly these (domain/src/kafka_acl.rs).
-- Never edit this file once landed: add a new migration instead.
CREATE TABLE kafka_acls (
    id            INTEGER PRIMARY KEY,
    instance_id   INTEGER NOT NULL REFERENCES instances (id),
    -- The principal is User:<username>.
    username      TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    resource_type TEXT NOT NULL
        CHECK (resource_type IN ('topic', 'group', 'cluster', 'transactional_id')),
    resource_name TEXT NOT NULL CHECK (length(resource_name) BETWEEN 1 AND 249),
    pattern       TEXT NOT NULL CHECK (pattern IN ('literal', 'prefixed')),
    operation     TEXT NOT NULL CHECK (operation IN ('all', 'read', 'write', 'create', 'delete',
        'alter', 'describe', 'cluster_action', 'describe_configs', 'alter_configs',
        'idempotent_write')),
    permission    TEXT NOT NULL CHECK (permission IN ('allow', 'deny')),
    -- '*' or one IP address.
    host          TEXT NOT NULL CHECK (length(host) BETWEEN 1 AND 45),
    -- A rule that outlives its user until then (a deny for client certificates, which Kafka
    -- cannot revoke); NULL: as long as the user exists.
    until         INTEGER,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (instance_id, username, resource_type, resource_name, pattern, operation,
        permission, host)
);
CREATE INDEX kafka_acls_of_user ON kafka_acls (instance_id, username);
