-- Events move to the hash chain, audit.chain, which scripts/db-bootstrap.sql creates
-- as audit_owner: this role may only INSERT and SELECT there. The rows of the old table
-- are appended to the chain at the next start, then the old table goes.
DO $check$
BEGIN
    IF to_regclass ('chain') IS NULL THEN
        RAISE EXCEPTION 'audit.chain does not exist: run scripts/db-bootstrap.sql as a superuser first';
    END IF;
END
$check$;

ALTER TABLE events RENAME TO events_legacy;

-- The personal data of events, outside the hash chain so that it can go: the client
-- IP in the clear (incident response searches by it), and the personal members of the
-- detail (email, name, user agent...) sealed under the subject's data key. subject is
-- the event's user id, or "anon:YYYY-MM" for events without a user. Erasing a user
-- deletes their rows and their key.
CREATE TABLE event_personal (
    event_id    uuid PRIMARY KEY,
    subject     text NOT NULL CHECK (length (subject) BETWEEN 1 AND 64),
    ip          text CHECK (length (ip) BETWEEN 1 AND 64),
    sealed      bytea CHECK (length (sealed) <= 16384)
);
CREATE INDEX event_personal_subject ON event_personal (subject);

-- What the old table showed, for tools and people reading the trail with SQL
CREATE VIEW events AS
    SELECT c.seq, c.id, to_timestamp (c.at_ms / 1000.0) AS at, c.received_at, c.type, c.service,
           c.outcome, c.user_id, c.request_id, p.ip, c.detail, c.prev_hash, c.hash
    FROM chain c LEFT JOIN event_personal p ON p.event_id = c.id;

-- One data key per subject, sealed under the master key; deleting a subject's row makes
-- whatever of theirs was sealed unreadable for good, copies and backups included
CREATE TABLE subject_keys (
    subject     text PRIMARY KEY CHECK (length (subject) BETWEEN 1 AND 64),
    wrapped     bytea NOT NULL CHECK (length (wrapped) = 60),
    created_at  timestamptz NOT NULL DEFAULT now ()
);

-- Users whose personal data was erased: events that arrive for them later keep none
CREATE TABLE erased_subjects (
    subject     text PRIMARY KEY CHECK (length (subject) BETWEEN 1 AND 64),
    erased_at   timestamptz NOT NULL DEFAULT now ()
);

-- Recent events that alert rules count, by an HMAC of their IP or account, never the
-- value itself; rows older than the window are pruned
CREATE TABLE alert_hits (
    rule        text NOT NULL,
    subject     text NOT NULL CHECK (subject ~ '^[0-9a-f]{64}$'),
    at_ms       bigint NOT NULL
);
CREATE INDEX alert_hits_subject ON alert_hits (rule, subject, at_ms);
CREATE INDEX alert_hits_at ON alert_hits (at_ms);

-- When each subject last raised each alert: one alert per window, not one per event
CREATE TABLE alert_state (
    rule        text NOT NULL,
    subject     text NOT NULL CHECK (subject ~ '^[0-9a-f]{64}$'),
    alerted_ms  bigint NOT NULL,
    PRIMARY KEY (rule, subject)
);
