-- Whether operators and admins may read an instance's messages in the console (the message
-- browser reads as a super user, past the instance's ACLs). No row: the default, on for
-- instances inside the network, off for internet-facing ones (app/src/server/messages.rs).
-- Never edit this file once landed: add a new migration instead.
CREATE TABLE message_browsing (
    instance_id INTEGER PRIMARY KEY REFERENCES instances (id),
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    changed_by  TEXT NOT NULL,
    changed_at  INTEGER NOT NULL
);
