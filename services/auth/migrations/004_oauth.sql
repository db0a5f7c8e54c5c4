-- Sign-in with external providers. An identity is one provider account
-- (provider, subject) linked to one of ours; an account has at most one
-- identity per provider. States of sign-ins in progress and the one-time
-- login codes are stored only as SHA-256 hashes, like every other token.
CREATE TABLE identities (
    provider    text NOT NULL CHECK (length (provider) BETWEEN 1 AND 32),
    subject     text NOT NULL CHECK (length (subject) BETWEEN 1 AND 255),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text CHECK (length (email) <= 254),
    created_at  timestamptz NOT NULL DEFAULT now (),
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);

-- link_user_id set: the signed-in account that asked to link a provider
CREATE TABLE oauth_states (
    state_hash    text PRIMARY KEY CHECK (length (state_hash) = 64),
    provider      text NOT NULL CHECK (length (provider) BETWEEN 1 AND 32),
    redirect_uri  text NOT NULL CHECK (length (redirect_uri) <= 2048),
    link_user_id  uuid REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now (),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- The login code of the callback's redirect is a one-time token too
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('magic_link', 'password_reset', 'email_verify', 'oauth_login'));
