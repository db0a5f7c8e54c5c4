-- Privacy preferences, and account deletions as durable jobs.
--
-- preferences belongs to users: row-level security (forced, since the
-- service role owns it) shows a transaction only the row of the user it set
-- in app.user_id, and nothing when it set none. No row means the defaults.
CREATE TABLE preferences (
    user_id                   uuid PRIMARY KEY,
    tab_monitoring_enabled    boolean NOT NULL DEFAULT false,
    emotion_tracking_enabled  boolean NOT NULL DEFAULT true,
    updated_at                timestamptz NOT NULL DEFAULT now ()
);

ALTER TABLE preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE preferences FORCE ROW LEVEL SECURITY;
CREATE POLICY preferences_owner ON preferences
    USING (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid);

-- One row per deletion request, written before anything is erased, so a
-- restart of any service (this one included) resumes it. At most one job per
-- user is pending: asking again returns it. Once completed the job keeps no
-- trace of whose it was (user_id NULL); the audit trail holds that link.
CREATE TABLE deletions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid (),
    user_id          uuid,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    request_id       text CHECK (length (request_id) <= 64),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now (),
    last_error       text CHECK (length (last_error) <= 512),
    requested_at     timestamptz NOT NULL DEFAULT now (),
    completed_at     timestamptz,
    CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CHECK ((status = 'pending') = (user_id IS NOT NULL))
);
CREATE UNIQUE INDEX deletions_pending_user ON deletions (user_id) WHERE status = 'pending';
CREATE INDEX deletions_due ON deletions (next_attempt_at) WHERE status = 'pending';

-- The steps of a job, done in position order; each is acknowledged by the
-- service that erases (done_at, and how many rows or files it erased).
CREATE TABLE deletion_steps (
    deletion_id  uuid NOT NULL REFERENCES deletions (id) ON DELETE CASCADE,
    step         text NOT NULL CHECK (step IN ('sessions', 'missions', 'evidence', 'auth', 'audit', 'privacy')),
    position     smallint NOT NULL,
    done_at      timestamptz,
    erased       bigint,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text CHECK (length (last_error) <= 512),
    PRIMARY KEY (deletion_id, step),
    UNIQUE (deletion_id, position)
);

-- A user's request sees only their own job; the deletion worker (with the
-- transaction-local app.deletion_worker = 'on') sees every job. Steps are
-- visible exactly when their job is.
ALTER TABLE deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE deletions FORCE ROW LEVEL SECURITY;
CREATE POLICY deletions_owner ON deletions
    USING (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid);
CREATE POLICY deletions_worker ON deletions
    USING (current_setting ('app.deletion_worker', true) = 'on')
    WITH CHECK (current_setting ('app.deletion_worker', true) = 'on');

ALTER TABLE deletion_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE deletion_steps FORCE ROW LEVEL SECURITY;
CREATE POLICY deletion_steps_job ON deletion_steps
    USING (EXISTS (SELECT 1 FROM deletions d WHERE d.id = deletion_id))
    WITH CHECK (EXISTS (SELECT 1 FROM deletions d WHERE d.id = deletion_id));
