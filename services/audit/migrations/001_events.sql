-- The audit trail. Event ids are unique so that redelivery from a
-- service's outbox stores nothing twice.
CREATE TABLE events (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    at           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now (),
    type         text NOT NULL,
    service      text NOT NULL,
    outcome      text NOT NULL,
    user_id      uuid,
    request_id   text,
    ip           text,
    detail       text
);
CREATE INDEX events_user_id ON events (user_id, seq);
CREATE INDEX events_type ON events (type, seq);
