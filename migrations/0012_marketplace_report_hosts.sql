-- Marketplace billing: which host sent each report. AWS de-duplicates per EC2 instance, ECS
-- task or EKS pod, dimension and hour, so its ClientToken covers a resend from the host that
-- sent the report, not from another one: a report whose earlier attempt may have been billed
-- from another host is left 'unknown' for the admin instead of being sent again.
-- Never edit this file once landed: add a new migration instead.

-- The host of the latest attempt: "EC2 instance i-…", "ECS task arn:…", "host <name>" or
-- "unknown host"; NULL until the report is first sent.
ALTER TABLE marketplace_reports ADD COLUMN sent_from TEXT;
