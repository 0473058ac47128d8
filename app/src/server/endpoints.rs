//! The HTTP surface and who may call it: one table that the role tests, the cross-site test
//! and the README's endpoint table are checked against (`tests/roles.rs`), so that no endpoint
//! is forgotten. Access itself is enforced in each handler by the type its service needs
//! ([`super::access::Authorized`]); this table says what that type must be.

use crate::domain::account::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed (sign-in, sign-out).
    Anyone,
    /// No session, and only until the console is set up.
    SetupOnce,
    /// Any signed-in user, also one who must change a temporary password first.
    SignedIn,
    /// A signed-in user with at least this role, whose password is their own.
    Role(Role),
}

impl Access {
    /// As the README's table says it.
    pub fn describe(self) -> &'static str {
        match self {
            Access::Anyone => "anyone",
            Access::SetupOnce => "anyone, once",
            Access::SignedIn => "any signed-in user",
            Access::Role(Role::Viewer) => "viewer, operator, admin",
            Access::Role(Role::Operator) => "operator, admin",
            Access::Role(Role::Admin) => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The arguments, as the README lists them (Markdown).
    pub arguments: &'static str,
    pub does: &'static str,
}

const VIEWER: Access = Access::Role(Role::Viewer);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);
use Access::{Anyone, SetupOnce, SignedIn};

const fn post(
    path: &'static str,
    access: Access,
    arguments: &'static str,
    does: &'static str,
) -> Endpoint {
    Endpoint {
        method: Method::Post,
        path,
        access,
        arguments,
        does,
    }
}

const fn get(
    path: &'static str,
    access: Access,
    arguments: &'static str,
    does: &'static str,
) -> Endpoint {
    Endpoint {
        method: Method::Get,
        path,
        access,
        arguments,
        does,
    }
}

const fn rest(
    method: Method,
    path: &'static str,
    access: Access,
    arguments: &'static str,
    does: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
        arguments,
        does,
    }
}

impl Endpoint {
    /// A row of the REST API (`/api/v1`, bearer tokens) rather than of the pages.
    pub fn is_rest(&self) -> bool {
        self.path.starts_with("/api/v1/")
    }
}

/// Every server function (`POST /api/...`), every download, then every operation of the REST
/// API (`/api/v1`), in the README's order.
pub const ENDPOINTS: &[Endpoint] = &[
    post("/api/setup", SetupOnce, "`username`, `password`, `password_confirm`, `environment_name`, `cloud_provider`, `region`", "first-run setup"),
    post("/api/login", Anyone, "`username`, `password`", "sign in (cycles the session id)"),
    post("/api/logout", Anyone, "", "sign out (deletes the session)"),
    post("/api/session", VIEWER, "", "the signed-in user"),
    post("/api/overview", VIEWER, "", "the overview page's data (security events for admins only)"),
    post("/api/activation", VIEWER, "", "Installation ID, license phase, whether the caller may activate"),
    post("/api/license", VIEWER, "", "current license, state, AKU in use, history of applied keys"),
    post("/api/license_preview", ADMIN, "`key`", "what applying the key would change; changes nothing"),
    post("/api/license_apply", ADMIN, "`key`", "activation, renewal, upgrade or downgrade"),
    post("/api/instances", VIEWER, "`state_filter`, `name` (contains), `cursor` (the `next` of a page), `limit` (1 to 100, default 50); all optional", "a page of the instances that are not deleted, newest first, the next page's cursor, counts per state, the quota"),
    post("/api/instance_form", VIEWER, "", "the create form's context: quota, the region's zones, examples"),
    post("/api/instance", VIEWER, "`id`, `operations_cursor` (the `operations_next` of a previous answer)", "one instance (deleted ones too): settings, steps of the latest operation, 20 operations of its history (newest first)"),
    post("/api/instance_create", OPERATOR, "`name`, `description`, `kafka_version`, `deployment`, `vpc_id`, `subnet_1`, `subnet_2`, `subnet_3`, `data_bucket`, `wal_mode`, `client_auth`, `transit_encryption`, `endpoint_exposure`, `tags`, `size_aku`", "creates an instance within the quota; answers its id"),
    post("/api/instance_scale", OPERATOR, "`id`, `size_aku`", "up within the quota while the license allows growth; down always"),
    post("/api/instance_delete", OPERATOR, "`id`, `confirm_name` (the instance's name)", "deletes (history kept)"),
    post("/api/instance_retry", OPERATOR, "`id`", "runs the failed operation of an abnormal instance again"),
    post("/api/instance_kafka", VIEWER, "`id`", "the instance's Kafka panel: connect settings and examples, topics with their offsets, live traffic (Kafka clusters)"),
    post("/api/topic_create", OPERATOR, "`id`, `topic`, `partitions`, `retention_hours` (optional: blank for the cluster's default of 7 days, hours, or `forever`)", "creates a topic on the instance's cluster, replication factor 3 (audited as requested, then with its outcome)"),
    post("/api/topic_retention", OPERATOR, "`id`, `topic`, `retention_hours`", "sets how long the topic keeps its messages (audited)"),
    post("/api/topic_delete", OPERATOR, "`id`, `topic`, `confirm` (the topic's name again)", "deletes that topic and its messages (audited as requested, then with its outcome)"),
    post("/api/consumer_groups", VIEWER, "`id`", "the instance's consumer groups, largest total lag first: state, protocol, members, total lag (Kafka clusters)"),
    post("/api/consumer_group", VIEWER, "`id`, `group`", "one group: its members with their assigned partitions, and per partition the committed offset, end offset and lag"),
    post("/api/group_reset_preview", OPERATOR, "`id`, `group`, `to` (`earliest`, `latest`, `timestamp`, `offset`, `shift`), `value` (the time, offset or N), `topic` (optional: blank for all the group's topics)", "what resetting the group's offsets would do, per partition (current, new, re-read, skipped); changes nothing"),
    post("/api/group_reset", OPERATOR, "as `/api/group_reset_preview`", "previews again and commits the new offsets; refused while the group has members (audited as requested with the preview's figures, then with its outcome)"),
    post("/api/group_delete", OPERATOR, "`id`, `group`, `confirm` (the group's name again)", "deletes an empty group and its committed offsets (audited as requested, then with its outcome)"),
    post("/api/message_browsing", VIEWER, "`id`", "whether the instance's messages may be read in the console (an admin's choice, else on inside the network and off for internet-facing instances), and whether the caller may read or switch it"),
    post("/api/message_browsing_set", ADMIN, "`id`, `enabled` (`true`/`false`)", "turns message browsing on or off for the instance (audited)"),
    post("/api/topic_messages", OPERATOR, "`id`, `topic`, `partition` (blank: every partition), `from` (`newest` default, `offset`, `timestamp`), `at` (the offset, or the time as RFC 3339 or milliseconds), `limit` (1 to 100, default 20), `format` (`text` default, `json`, `hex`), `key`, `text` (filters within the page read)", "a page of the topic's messages: key, value, headers, timestamp, partition, offset, each key/value/header cut at 4 KiB, 1 MiB read at most; refused while browsing is off (audited: who, topic, range)"),
    post("/api/test_message_write", OPERATOR, "`id`, `topic`, `partition` (blank: 0), `key` (blank: none), `value` (16 KiB at most), `headers` (one `name: value` a line, 10 at most)", "writes one test message to the partition (acks=all) and answers its offset (audited as requested, then with its outcome)"),
    post("/api/kafka_user_create", OPERATOR, "`id`, `username`, `mechanism` (`SCRAM-SHA-512` or `SCRAM-SHA-256`)", "a Kafka user of a SASL/SCRAM instance; answers its generated password (shown once) and a `client.properties` with it (audited)"),
    post("/api/kafka_user_rotate", OPERATOR, "`id`, `username`", "a new password for the user, answered once; sessions with the old one end at their next re-authentication, within 60 s, without a restart (audited)"),
    post("/api/kafka_user_delete", OPERATOR, "`id`, `username`", "deletes the user; its sessions end at their next re-authentication, within 60 s, without a restart (audited)"),
    post("/api/moves", VIEWER, "`id`", "the instance's moves of a nisshi storage file, newest first: state, messages and bytes copied of total, SCRAM users to give new passwords"),
    post("/api/move_start", OPERATOR, "`id`, `path` (a file inside `--import-dir`)", "starts moving a nisshi 0.8.1 storage file into a running Kafka-cluster instance: topics, messages, group offsets; resumable after a restart (audited)"),
    post("/api/kafka_acl_create", OPERATOR, "`id`, `username`, `resource_type` (`topic`, `group`, `cluster`, `transactional_id`), `resource_name` (a name, a prefix, or `*`; ignored for the cluster), `pattern` (`literal` default, `prefixed`), `operation` (one Kafka checks on the resource type), `permission` (`allow` default, `deny`), `host` (`*` default, or one IP address)", "adds one access rule to the user; refused, naming the field: an operation Kafka never checks on the type, and ALTER, ALTER_CONFIGS, CLUSTER_ACTION or ALL allowed on the cluster (audited; the cluster made to match at once)"),
    post("/api/kafka_acl_preset", OPERATOR, "`id`, `username`, `preset` (`produce`, `consume`, `manage_topics`), `topic`, `topic_pattern`, `group` (consume), `group_pattern`", "adds the preset's rules to the user (see [Kafka security](kafka-security.md#access-rules-acls); audited)"),
    post("/api/kafka_acl_delete", OPERATOR, "`id`, `acl_id`", "removes one rule (audited)"),
    get("/kafka/ca.pem", VIEWER, "", "the certificate of the environment's CA, which signs the instances' TLS certificates"),
    post("/api/usage", VIEWER, "`month` (YYYY-MM, default this month), `rows_after` (the page's `next_rows`)", "the month's usage by day and instance (200 rows a page), totals, charges (payg) or capacity"),
    get("/usage.csv", VIEWER, "`month`", "the month's ledger for the marketplace (closed hours)"),
    get("/usage.json", VIEWER, "`month`", "the month's ledger for the marketplace (closed hours)"),
    get("/usage/marketplace-late.csv", VIEWER, "", "the reports past the marketplace's window (late), to bill another way"),
    post("/api/marketplace", VIEWER, "", "the link, the subscription's hold, reports that need a look, earlier links, the unit mappings"),
    post("/api/marketplace_link", ADMIN, "`marketplace` (`aws`, `alibaba`), `listing` (product code / service id), `subscription` (Alibaba service instance id, optional: `CheckOutLicense` names it)", "checks with the marketplace using the host's credentials (Alibaba: from inside the service instance, with the service key), then links (audited; refusals audited)"),
    post("/api/marketplace_unlink", ADMIN, "`confirm` (`unlink`)", "ends the link; its reports not sent are kept as unsent (audited)"),
    post("/api/marketplace_check", ADMIN, "", "checks the subscription again; a good answer lifts an ended subscription's hold and resumes what it suspended (audited when it changes)"),
    post("/api/marketplace_report", ADMIN, "`id`, `decision` (`retry` a rejected report; `billed` or `resend` one whose outcome is unknown)", "the admin's decision on one report (audited)"),
    post("/api/account", SignedIn, "", "the own account"),
    post("/api/password_change", SignedIn, "`current_password`, `new_password`, `new_password_confirm`", "changes the own password; this session stays, the others end"),
    post("/api/users", ADMIN, "`q` (name contains), `cursor`", "50 users with role, status and last sign-in (admins first, then by name) and the `next` cursor"),
    post("/api/user_create", ADMIN, "`username`, `role`, `password`, `password_confirm`", "adds a user with an initial password to be changed at first sign-in"),
    post("/api/user_role", ADMIN, "`id`, `role`", "changes a role (never the last active admin's)"),
    post("/api/user_disable", ADMIN, "`id`, `disabled` (`true`/`false`)", "disables (sessions end) or enables (never the last active admin)"),
    post("/api/user_reset_password", ADMIN, "`id`, `password`, `password_confirm`", "sets a temporary password; the user's sessions end"),
        post(
        "/api/service_accounts",
        ADMIN,
        "",
        "every service account with role, status, expiry and last use",
    ),
    post(
        "/api/service_account_create",
        ADMIN,
        "`name`, `role`, `expires` (YYYY-MM-DD, optional: the last day it works)",
        "adds a service account for the REST API; answers its token, once (audited)",
    ),
    post(
        "/api/service_account_rotate",
        ADMIN,
        "`id`",
        "a new token; the old one stops working at once; answers it, once (audited)",
    ),
    post(
        "/api/service_account_revoke",
        ADMIN,
        "`id`",
        "ends the account: its token stops working at once (audited)",
    ),
post("/api/audit", ADMIN, "`actor`, `action`, `from`, `until` (YYYY-MM-DD, inclusive), `cursor`", "50 audit entries (newest first), how many match, the `next` cursor, and whether the hash chain is intact"),
    get("/audit.csv", ADMIN, "same filter as `/api/audit`", "the matching entries as CSV, with their hashes"),
    rest(Method::Get, "/api/v1/environment", VIEWER, "", "the environment, license, users per role, instances per state, latest operations (security events for admin tokens)"),
    rest(Method::Get, "/api/v1/license", VIEWER, "", "the license, its state, AKU in use, the keys applied"),
    rest(Method::Post, "/api/v1/license/preview", ADMIN, "`{\"key\"}`", "what applying the key would change; changes nothing"),
    rest(Method::Put, "/api/v1/license", ADMIN, "`{\"key\"}`", "applies the key (activation, renewal, upgrade, downgrade)"),
    rest(Method::Get, "/api/v1/instances", VIEWER, "`state`, `name`, `cursor`, `limit` (query)", "a page of instances, newest first, and the `next` cursor"),
    rest(Method::Post, "/api/v1/instances", OPERATOR, "the create form's fields as JSON; `Idempotency-Key` header", "201 with the instance and its `Location`"),
    rest(Method::Get, "/api/v1/instances/{id}", VIEWER, "`operations_cursor` (query)", "one instance with its settings, 20 operations (newest first, `operations_next`) and the latest steps"),
    rest(Method::Post, "/api/v1/instances/{id}/scale", OPERATOR, "`{\"size_aku\"}`", "202 with the operation to poll"),
    rest(Method::Post, "/api/v1/instances/{id}/retry", OPERATOR, "", "202: the failed operation of an abnormal instance runs again"),
    rest(Method::Delete, "/api/v1/instances/{id}", OPERATOR, "", "202: deletes the instance (history kept)"),
    rest(Method::Get, "/api/v1/operations/{id}", VIEWER, "", "one operation and its steps"),
    rest(Method::Get, "/api/v1/instances/{id}/topics", VIEWER, "", "the topics on the instance's broker with their offsets"),
    rest(Method::Post, "/api/v1/instances/{id}/topics", OPERATOR, "`{\"name\", \"partitions\", \"retention_hours\"}`", "201: creates a topic"),
    rest(Method::Patch, "/api/v1/instances/{id}/topics/{name}", OPERATOR, "`{\"retention_hours\"}` (0: forever)", "sets how long the topic keeps messages"),
    rest(Method::Delete, "/api/v1/instances/{id}/topics/{name}", OPERATOR, "", "deletes the topic and its messages"),
    rest(Method::Get, "/api/v1/instances/{id}/topics/{name}/messages", OPERATOR, "`partition`, `from` (`newest`, `offset`, `timestamp`), `at`, `limit` (1 to 100), `format` (`text`, `json`, `hex`), `key`, `text` (query)", "a page of the topic's messages (each key, value, header cut at 4 KiB; 1 MiB read at most); 409 while browsing is off; audited"),
    rest(Method::Post, "/api/v1/instances/{id}/topics/{name}/messages", OPERATOR, "`{\"partition\", \"key\", \"value\", \"headers\": [{\"name\", \"value\"}]}`", "201: writes one test message (acks=all) and answers its partition and offset; audited"),
    rest(Method::Get, "/api/v1/instances/{id}/message-browsing", VIEWER, "", "whether the instance's messages may be read in the console, and why"),
    rest(Method::Put, "/api/v1/instances/{id}/message-browsing", ADMIN, "`{\"enabled\"}`", "turns message browsing on or off (audited)"),
    rest(Method::Get, "/api/v1/instances/{id}/consumer-groups", VIEWER, "", "the consumer groups, largest total lag first"),
    rest(Method::Get, "/api/v1/instances/{id}/consumer-groups/{group}", VIEWER, "", "one group: members, and per partition committed, end and lag"),
    rest(Method::Post, "/api/v1/instances/{id}/consumer-groups/{group}/reset-preview", OPERATOR, "`{\"to\", \"timestamp_ms\", \"offset\", \"shift\", \"topic\"}`", "what the reset would do per partition; changes nothing"),
    rest(Method::Post, "/api/v1/instances/{id}/consumer-groups/{group}/reset", OPERATOR, "as `reset-preview`", "commits the reset (409 while the group has members); audited with the preview's figures"),
    rest(Method::Delete, "/api/v1/instances/{id}/consumer-groups/{group}", OPERATOR, "", "204: deletes an empty group (409 while it has members)"),
    rest(Method::Get, "/api/v1/instances/{id}/kafka-users", VIEWER, "", "the SASL/SCRAM, SASL/PLAIN or mutual TLS users of the instance (never a password or a key); a mutual TLS user with its newest certificate's expiry (`certificate_expires_at`)"),
    rest(Method::Post, "/api/v1/instances/{id}/kafka-users", OPERATOR, "`{\"username\", \"mechanism\"}`", "201 with the generated password (shown once) and a `client.properties`; `mechanism` is `SCRAM-SHA-512` or `SCRAM-SHA-256` on a SASL/SCRAM instance, `PLAIN` on a SASL/PLAIN one, `certificate` on a mutual TLS one, where the answer carries the client certificate and its key (`certificate_pem`, shown once, never kept), its serial and expiry instead of a password"),
    rest(Method::Post, "/api/v1/instances/{id}/kafka-users/{username}/rotate", OPERATOR, "", "a new password, shown once; old sessions end at their next re-authentication, within 60 s. Mutual TLS: a new certificate and key (30 days), shown once; the old certificate stays valid until it expires"),
    rest(Method::Get, "/api/v1/instances/{id}/kafka-users/{username}/certificates", VIEWER, "", "mutual TLS: every client certificate issued to the user, newest first (serial, validity, who issued it; never a key), also after the user was deleted"),
    rest(Method::Post, "/api/v1/instances/{id}/kafka-users/{username}/certificates", OPERATOR, "", "mutual TLS: 201 with a new client certificate and its key (`certificate_pem`, made for this answer, shown once, never kept), serial and expiry (30 days); earlier certificates stay valid until they expire; 404 no such user; 409 not a mutual TLS instance"),
    rest(Method::Delete, "/api/v1/instances/{id}/kafka-users/{username}", OPERATOR, "", "204: deletes the user and its access rules; its sessions end at their next re-authentication, within 60 s. Mutual TLS: its principal is denied everything (rules kept with `until`) until its last certificate expires, since Kafka cannot revoke one; the name cannot be given again before then"),
    rest(Method::Get, "/api/v1/instances/{id}/moves", VIEWER, "", "the instance's moves of a nisshi storage file, newest first, with their progress"),
    rest(Method::Post, "/api/v1/instances/{id}/moves", OPERATOR, "`{\"path\"}`", "202: starts moving a nisshi 0.8.1 storage file (inside `--import-dir`) into the running Kafka-cluster instance"),
    rest(Method::Get, "/api/v1/instances/{id}/acls", VIEWER, "", "every access rule of the instance's users"),
    rest(Method::Post, "/api/v1/instances/{id}/kafka-users/{username}/acls", OPERATOR, "`{\"resource_type\", \"resource_name\", \"pattern\", \"operation\", \"permission\", \"host\"}`", "201: one rule added (422 naming the field for what the document states; 409 naming it for an operation Kafka never checks on the type, a right over the cluster, a host that is not an address, or a rule the user has already)"),
    rest(Method::Post, "/api/v1/instances/{id}/kafka-users/{username}/acl-presets", OPERATOR, "`{\"preset\", \"topic\", \"topic_pattern\", \"group\", \"group_pattern\"}`", "201: the preset's rules the user lacked"),
    rest(Method::Delete, "/api/v1/instances/{id}/acls/{acl_id}", OPERATOR, "", "204: the rule removed (409 for a deleted mutual TLS user's deny, kept until its last certificate expires)"),
    rest(Method::Get, "/api/v1/usage", VIEWER, "`month` (query, YYYY-MM), `rows_after` (query, the page's `next_rows`)", "the month's usage by day and instance (200 rows a page)"),
    rest(Method::Get, "/api/v1/usage/ledger", VIEWER, "`month` (query, YYYY-MM)", "the month's ledger records (closed hours), as the usage page's exports (streamed)"),
    rest(Method::Get, "/api/v1/audit", ADMIN, "`actor`, `action`, `from`, `until`, `cursor`, `limit` (query)", "a page of audit entries (newest first), how many match, the `next` cursor and the chain's state"),
    rest(Method::Get, "/api/v1/service-accounts", ADMIN, "", "every service account"),
    rest(Method::Post, "/api/v1/service-accounts", ADMIN, "`{\"name\", \"role\", \"expires\"}`", "201 with the token, shown once"),
    rest(Method::Post, "/api/v1/service-accounts/{id}/rotate", ADMIN, "", "a new token; the old one stops at once"),
    rest(Method::Delete, "/api/v1/service-accounts/{id}", ADMIN, "", "204: revokes the account"),
    rest(Method::Get, "/api/v1/openapi.json", Anyone, "", "the OpenAPI 3.1 document of these operations"),
    rest(Method::Get, "/api/v1/docs/", Anyone, "", "the API reference page (Swagger UI, built in)"),
];

/// The README's endpoint table of the pages' server functions and downloads, made from
/// [`ENDPOINTS`].
pub fn markdown_table() -> String {
    let mut table =
        String::from("| endpoint | arguments | who may call | does |\n|---|---|---|---|\n");
    for e in ENDPOINTS.iter().filter(|e| !e.is_rest()) {
        let method = match e.method {
            Method::Post => "",
            _ => "GET ",
        };
        table.push_str(&format!(
            "| `{method}{}` | {} | {} | {} |\n",
            e.path,
            e.arguments,
            e.access.describe(),
            e.does
        ));
    }
    table
}

/// The README's table of the REST API, made from [`ENDPOINTS`].
pub fn rest_markdown_table() -> String {
    let mut table =
        String::from("| operation | arguments | who may call | does |\n|---|---|---|---|\n");
    for e in ENDPOINTS.iter().filter(|e| e.is_rest()) {
        let who = match e.access {
            Anyone => "anyone, no token".to_string(),
            access => format!("{} tokens", access.describe()),
        };
        table.push_str(&format!(
            "| `{} {}` | {} | {who} | {} |\n",
            e.method.as_str(),
            e.path,
            e.arguments,
            e.does
        ));
    }
    table
}
