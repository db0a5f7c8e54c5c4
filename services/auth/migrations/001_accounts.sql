-- Accounts, sessions and refresh tokens. Secrets are never stored in the
-- clear: passwords as argon2id PHC strings, refresh tokens as SHA-256.
CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid (),
    email           text NOT NULL CHECK (length (email) BETWEEN 3 AND 254),
    name            text CHECK (length (name) <= 200),
    password_hash   text,
    roles           text[] NOT NULL DEFAULT '{user}',
    email_verified  boolean NOT NULL DEFAULT false,
    mfa_enabled     boolean NOT NULL DEFAULT false,
    locked          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now (),
    updated_at      timestamptz NOT NULL DEFAULT now ()
);
-- One account per address whatever the letter case
CREATE UNIQUE INDEX users_email ON users (lower (email));

CREATE TABLE sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid (),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent      text CHECK (length (user_agent) <= 512),
    ip              text CHECK (length (ip) <= 64),
    amr             text[] NOT NULL,
    auth_time       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now (),
    last_seen_at    timestamptz NOT NULL DEFAULT now (),
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
    token_hash      text PRIMARY KEY CHECK (length (token_hash) = 64),
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now (),
    used_at         timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
