-- Audit events waiting to be shipped to the audit service. Written in the
-- same transaction as the change they describe, deleted once the audit
-- service has acknowledged them: an event survives any restart.
CREATE TABLE audit_outbox (
    seq         bigserial PRIMARY KEY,
    id          uuid NOT NULL UNIQUE DEFAULT gen_random_uuid (),
    at_ms       bigint NOT NULL DEFAULT (extract (epoch FROM clock_timestamp ()) * 1000)::bigint,
    type        text NOT NULL CHECK (length (type) BETWEEN 1 AND 64),
    outcome     text NOT NULL CHECK (length (outcome) BETWEEN 1 AND 16),
    user_id     uuid,
    request_id  text CHECK (length (request_id) <= 64),
    ip          text CHECK (length (ip) <= 64),
    detail      text CHECK (length (detail) <= 4096)
);
