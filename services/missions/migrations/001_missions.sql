-- Missions and the idempotency keys of their creation. Both tables belong to
-- users: row-level security (forced, since the service role owns them) shows
-- a transaction only the rows of the user it set in app.user_id, and nothing
-- when it set none. The service filters by user_id as well: two locks.
CREATE TABLE missions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid (),
    user_id           uuid NOT NULL,
    title             text NOT NULL CHECK (char_length (title) BETWEEN 1 AND 200),
    description       text CHECK (char_length (description) <= 5000),
    duration_minutes  integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 480),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'in_progress', 'completed')),
    created_at        timestamptz NOT NULL DEFAULT now (),
    updated_at        timestamptz NOT NULL DEFAULT now ()
);
-- The list's order and its keyset pagination
CREATE INDEX missions_user_created ON missions (user_id, created_at DESC, id DESC);

ALTER TABLE missions ENABLE ROW LEVEL SECURITY;
ALTER TABLE missions FORCE ROW LEVEL SECURITY;
CREATE POLICY missions_owner ON missions
    USING (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid);

-- A client's Idempotency-Key on create, for 24 hours: the same key and body
-- answer the mission made the first time; the same key with another body is
-- refused. request_hash is the hex SHA-256 of the normalised create fields.
-- A key goes with its mission when the mission is deleted.
CREATE TABLE idempotency (
    user_id           uuid NOT NULL,
    key               text NOT NULL CHECK (char_length (key) BETWEEN 1 AND 255),
    request_hash      text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    mission_id        uuid REFERENCES missions (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now (),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_mission ON idempotency (mission_id);

ALTER TABLE idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_owner ON idempotency
    USING (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid);
