-- Marketplace billing: the link of this environment to its marketplace subscription, and the
-- outbox of hourly reports (one row per link, hour and ledger dimension).
-- Never edit this file once landed: add a new migration instead.

-- Links are kept after unlinking, so that what an old link reported (or never sent) stays
-- visible. At most one link is active (unlinked_at IS NULL) at a time.
CREATE TABLE marketplace_links (
    id               INTEGER PRIMARY KEY,
    marketplace      TEXT    NOT NULL CHECK (marketplace IN ('aws', 'alibaba')),
    -- AWS: the product code; Alibaba: the Compute Nest service id (as the license names it).
    listing          TEXT    NOT NULL,
    -- AWS: the credentials that passed the check (provider and access key id);
    -- Alibaba: the service instance id.
    account          TEXT    NOT NULL,
    linked_at        INTEGER NOT NULL,
    linked_by        TEXT    NOT NULL,
    unlinked_at      INTEGER,
    -- The first hour this link reports, and the end of the hours already put in the outbox.
    report_from      INTEGER NOT NULL,
    queued_until     INTEGER NOT NULL,
    -- What the marketplace last said of the subscription ('renewed': a check passed after it
    -- ended that cannot prove it, until a report does; ended_since is when it first ended).
    entitlement      TEXT    NOT NULL CHECK (entitlement IN ('entitled', 'ended', 'renewed')),
    ended_since      INTEGER,
    entitlement_at   INTEGER NOT NULL,
    last_report_at   INTEGER,
    CHECK ((entitlement = 'entitled') = (ended_since IS NULL))
);
CREATE UNIQUE INDEX marketplace_links_one_active
    ON marketplace_links (marketplace IS NOT NULL) WHERE unlinked_at IS NULL;

CREATE TABLE marketplace_reports (
    id               INTEGER PRIMARY KEY,
    link_id          INTEGER NOT NULL REFERENCES marketplace_links (id),
    hour_start       INTEGER NOT NULL,
    -- The ledger's dimension, and the marketplace's dimension (AWS) or key (Alibaba).
    dimension        TEXT    NOT NULL,
    market_key       TEXT    NOT NULL,
    -- The ledger's total of the hour (exact decimal text), the whole number reported in the
    -- marketplace's unit, and the fraction carried to the next hour (decimal text).
    ledger_quantity  TEXT    NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity >= 0),
    carry            TEXT    NOT NULL,
    -- AWS ClientToken: the same for every send of this report, so a resend is harmless.
    client_token     TEXT    NOT NULL UNIQUE,
    state            TEXT    NOT NULL CHECK (state IN
        ('pending', 'sending', 'accepted', 'duplicate', 'rejected', 'late', 'unknown', 'unsent')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- 1 once an attempt may have reached the marketplace without its answer coming back:
    -- past the window such a report is 'unknown', not 'late' (it may be billed already).
    uncertain        INTEGER NOT NULL DEFAULT 0 CHECK (uncertain IN (0, 1)),
    not_before       INTEGER NOT NULL DEFAULT 0,
    reason           TEXT,
    -- The marketplace's receipt (AWS MeteringRecordId, Alibaba RequestId).
    receipt          TEXT,
    queued_at        INTEGER NOT NULL,
    sent_at          INTEGER,
    answered_at      INTEGER,
    UNIQUE (link_id, hour_start, dimension)
);
CREATE INDEX marketplace_reports_due ON marketplace_reports (state, not_before, hour_start);
CREATE INDEX marketplace_reports_hour ON marketplace_reports (hour_start);
