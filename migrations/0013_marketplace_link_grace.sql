-- Marketplace billing: the link grace (#31). A pay-as-you-go license whose key names a
-- listing must be linked, with reports the marketplace permits, within a grace
-- (domain::marketplace::link_duty). A link whose reports are refused for lack of permission
-- records since when; an accepted report clears it. The expiry of each grace is audited
-- once: the rows below say which graces' ends were noted.
-- Never edit this file once landed: add a new migration instead.

ALTER TABLE marketplace_links ADD COLUMN permission_denied_since INTEGER;

CREATE TABLE marketplace_link_grace_ends (
    -- The grace's start and reason ('not linked', 'unlinked', 'permission denied').
    since     INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    noted_at  INTEGER NOT NULL,
    PRIMARY KEY (since, reason)
);
