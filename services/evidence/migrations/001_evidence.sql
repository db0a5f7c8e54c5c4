-- Evidence files of missions and the per-user data keys that encrypt them.
-- Both tables belong to users: row-level security (forced, since the
-- service role owns them) shows a transaction only the rows of the user it
-- set in app.user_id, and nothing when it set none. The service filters by
-- user_id as well: two locks. The file content lives under EVIDENCE_DIR,
-- named by the evidence id; filename is metadata only.
CREATE TABLE evidence (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid (),
    user_id       uuid NOT NULL,
    mission_id    uuid NOT NULL,
    filename      text NOT NULL CHECK (char_length (filename) BETWEEN 1 AND 255),
    content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp',
                                                        'application/pdf', 'text/plain')),
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'uploading', 'stored')),
    upload_key    text CHECK (length (upload_key) BETWEEN 16 AND 128),
    created_at    timestamptz NOT NULL DEFAULT now (),
    -- Last sign of life of an unfinished upload (begin, each chunk): the
    -- janitor removes uploads idle for longer than the URL lifetime + 60 s
    updated_at    timestamptz NOT NULL DEFAULT now (),
    stored_at     timestamptz,
    CHECK ((status = 'stored') = (sha256 IS NOT NULL AND stored_at IS NOT NULL)),
    CHECK ((status = 'uploading') = (upload_key IS NOT NULL))
);
-- A mission's files, newest first
CREATE INDEX evidence_user_mission ON evidence (user_id, mission_id, created_at DESC);
-- The janitor's search for abandoned uploads
CREATE INDEX evidence_unfinished ON evidence (updated_at) WHERE status <> 'stored';

ALTER TABLE evidence ENABLE ROW LEVEL SECURITY;
ALTER TABLE evidence FORCE ROW LEVEL SECURITY;
CREATE POLICY evidence_owner ON evidence
    USING (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid);
-- An upload carries no user (the signed URL, then the upload key, is the
-- credential): its transaction names the one row it works on in the
-- transaction-local app.upload_id, and proves the credential against that row
-- before it changes anything.
CREATE POLICY evidence_upload ON evidence
    USING (id = NULLIF (current_setting ('app.upload_id', true), '')::uuid)
    WITH CHECK (id = NULLIF (current_setting ('app.upload_id', true), '')::uuid);
-- The janitor (transaction-local app.janitor = 'on') looks rows up by id to
-- tell orphan files from live ones, and deletes only unfinished uploads.
-- It can neither insert nor update, nor delete a stored file's row.
CREATE POLICY evidence_janitor_read ON evidence FOR SELECT
    USING (current_setting ('app.janitor', true) = 'on');
CREATE POLICY evidence_janitor_delete ON evidence FOR DELETE
    USING (current_setting ('app.janitor', true) = 'on' AND status <> 'stored');

-- One data key per user, sealed (AES-256-GCM) under the master key from
-- EVIDENCE_MASTER_KEY_FILE with the user id as associated data. Destroying
-- this row makes every file of the user unreadable, copies in backups too.
CREATE TABLE user_keys (
    user_id       uuid PRIMARY KEY,
    wrapped_key   bytea NOT NULL CHECK (length (wrapped_key) = 60),
    created_at    timestamptz NOT NULL DEFAULT now ()
);

ALTER TABLE user_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY user_keys_owner ON user_keys
    USING (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid);
