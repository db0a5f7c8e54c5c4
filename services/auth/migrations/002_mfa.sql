-- TOTP: the secret is stored encrypted (AES-256-GCM, bound to the user id);
-- totp_last_step refuses a second use of a code within its time step.
ALTER TABLE users
    ADD COLUMN totp_secret_enc bytea,
    ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   text NOT NULL CHECK (length (code_hash) = 64),
    used_at     timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
