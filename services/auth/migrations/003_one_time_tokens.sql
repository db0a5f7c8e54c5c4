-- Single-use tokens sent by mail (magic links, password resets, email
-- verification), stored only as SHA-256; a token is spent by setting used_at.
CREATE TABLE one_time_tokens (
    token_hash  text PRIMARY KEY CHECK (length (token_hash) = 64),
    purpose     text NOT NULL CHECK (purpose IN ('magic_link', 'password_reset', 'email_verify')),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now (),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);
