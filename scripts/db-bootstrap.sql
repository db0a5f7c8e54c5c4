-- db-bootstrap.sql - one login role and one schema per service, and nothing shared.
--
-- Each backend service connects as <service>_svc, owns the schema <service> and can reach
-- nothing else: no other schema, no public schema, no cluster-wide powers. Data crosses
-- service lines only as messages, so the database must make any shortcut impossible.
-- One exception: the schema audit and its append-only chain belong to audit_owner, a role
-- nobody can log in as, so that audit_svc may add events and read them, never change them.
--
-- Run as a superuser, connected to the application database (normally "app"):
--
--   psql -X -v ON_ERROR_STOP=1 -d app \
--        -v auth_password=... -v missions_password=... -v evidence_password=... \
--        -v privacy_password=... -v audit_password=... -f db-bootstrap.sql
--
-- The variables may also be set with \set lines fed ahead of this file on stdin, which keeps
-- them out of the process list (scripts/stack.sh does that).
--
-- Idempotent: every run restates roles, passwords, ownership and privileges, so running it
-- again repairs drift and rotates passwords. The whole run is one transaction.

\set ON_ERROR_STOP on
\set QUIET on

\if :{?auth_password}
\else
    \warn 'db-bootstrap.sql: psql variable auth_password is not set'
    \set bootstrap_incomplete 1
\endif
\if :{?missions_password}
\else
    \warn 'db-bootstrap.sql: psql variable missions_password is not set'
    \set bootstrap_incomplete 1
\endif
\if :{?evidence_password}
\else
    \warn 'db-bootstrap.sql: psql variable evidence_password is not set'
    \set bootstrap_incomplete 1
\endif
\if :{?privacy_password}
\else
    \warn 'db-bootstrap.sql: psql variable privacy_password is not set'
    \set bootstrap_incomplete 1
\endif
\if :{?audit_password}
\else
    \warn 'db-bootstrap.sql: psql variable audit_password is not set'
    \set bootstrap_incomplete 1
\endif
\if :{?bootstrap_incomplete}
    -- \quit would exit 0; an error makes psql (ON_ERROR_STOP) exit non-zero as it should.
    DO $$ BEGIN RAISE EXCEPTION 'db-bootstrap.sql: every <service>_password variable is required'; END $$;
\endif

BEGIN;

-- Several init jobs may start at once (compose restarts, Kubernetes retries); serialise
-- them so two CREATE ROLE of the same name cannot collide.
DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('db-bootstrap.sql')); END $$;

-- Never store a reversible or MD5 password, whatever the server default is.
SET LOCAL password_encryption = 'scram-sha-256';

-- psql variables are not expanded inside dollar-quoted bodies, so the passwords reach the
-- DO block through a table that disappears at commit.
CREATE TEMPORARY TABLE bootstrap_service (
    name     text PRIMARY KEY,
    password text NOT NULL
) ON COMMIT DROP;

INSERT INTO bootstrap_service (name, password) VALUES
    ('auth',     :'auth_password'),
    ('missions', :'missions_password'),
    ('evidence', :'evidence_password'),
    ('privacy',  :'privacy_password'),
    ('audit',    :'audit_password');

DO $bootstrap$
DECLARE
    db      text := current_database();
    svc     record;
    other   record;
    membership record;
    role    text;
BEGIN
    -- Revoking CONNECT from PUBLIC on the maintenance databases would lock out other tools.
    IF db IN ('postgres', 'template0', 'template1') THEN
        RAISE EXCEPTION 'db-bootstrap.sql: connect to the application database, not %', db;
    END IF;

    -- audit_owner owns the audit schema and its append-only chain. Nobody logs in as it
    -- and no role is a member of it, so nobody but a superuser can act as the owner:
    -- audit_svc gets INSERT and SELECT on the chain and nothing that could undo that.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'audit_owner') THEN
        CREATE ROLE audit_owner;
    END IF;
    ALTER ROLE audit_owner WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
        NOBYPASSRLS NOINHERIT CONNECTION LIMIT 0 PASSWORD NULL;
    FOR membership IN
        SELECT m.member::regrole::text AS member, m.roleid::regrole::text AS granted
        FROM pg_auth_members m
        WHERE m.roleid = 'audit_owner'::regrole OR m.member = 'audit_owner'::regrole
    LOOP
        EXECUTE format('REVOKE %s FROM %s', membership.granted, membership.member);
    END LOOP;

    FOR svc IN SELECT name, password FROM bootstrap_service ORDER BY name LOOP
        role := svc.name || '_svc';

        -- Error text names the service only; the value never appears in a message.
        IF length(svc.password) < 16 THEN
            RAISE EXCEPTION 'db-bootstrap.sql: the password for % is shorter than 16 characters',
                svc.name;
        END IF;

        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
            EXECUTE format('CREATE ROLE %I', role);
        END IF;

        -- Restate every attribute: a role created by hand or altered since is brought back
        -- to exactly this, and the password follows the secret on every run.
        EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
                       ' NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT -1'
                       ' VALID UNTIL ''infinity'' PASSWORD %L', role, svc.password);
        EXECUTE format('ALTER ROLE %I SET search_path = %I', role, svc.name);

        -- A membership (pg_read_all_data, another service's role...) would reopen every door
        -- the schema privileges below close.
        FOR membership IN
            SELECT m.roleid::regrole::text AS granted
            FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
            WHERE r.rolname = role
        LOOP
            EXECUTE format('REVOKE %s FROM %I', membership.granted, role);
        END LOOP;

        -- The audit schema belongs to audit_owner (below), so that audit_svc cannot drop
        -- the append-only chain; audit_svc may still create its own tables there.
        IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = svc.name) THEN
            EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', svc.name,
                           CASE WHEN svc.name = 'audit' THEN 'audit_owner' ELSE role END);
        ELSE
            EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc.name,
                           CASE WHEN svc.name = 'audit' THEN 'audit_owner' ELSE role END);
        END IF;
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc.name);
        IF svc.name = 'audit' THEN
            GRANT USAGE, CREATE ON SCHEMA audit TO audit_svc;
        END IF;

        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', db, role);
    END LOOP;

    -- Without USAGE on a schema nothing inside it is reachable, so taking away any schema
    -- privilege granted across services (by hand, by an old script) is enough.
    FOR svc IN SELECT name FROM bootstrap_service LOOP
        FOR other IN SELECT name FROM bootstrap_service WHERE name <> svc.name LOOP
            EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', other.name, svc.name || '_svc');
        END LOOP;
    END LOOP;

    -- Only the service roles (and superusers) may connect, and nobody may use the public
    -- schema: it would be a shared space between services.
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db);
    REVOKE ALL ON SCHEMA public FROM PUBLIC;
END
$bootstrap$;

-- The audit chain (services/audit): one row per event, seq 1, 2, ... and hash =
-- SHA-256 (prev_hash || canonical event), see services/audit/audit_chain.h. It is owned by
-- audit_owner, so audit_svc can only add and read rows: UPDATE, DELETE and TRUNCATE are
-- refused by its privileges, and the triggers below refuse them to anyone else who might
-- be granted them later. Personal data (ip, emails, names in detail) is never in here:
-- it lives in audit_svc's own table audit.event_personal, which erasure empties for a user.
CREATE TABLE IF NOT EXISTS audit.chain (
    seq          bigint PRIMARY KEY CHECK (seq >= 1),
    id           uuid NOT NULL UNIQUE,
    at_ms        bigint NOT NULL CHECK (at_ms >= 0),
    type         text NOT NULL CHECK (length (type) BETWEEN 1 AND 64),
    service      text NOT NULL CHECK (length (service) BETWEEN 1 AND 32),
    outcome      text NOT NULL CHECK (length (outcome) BETWEEN 1 AND 16),
    user_id      uuid,
    request_id   text CHECK (length (request_id) BETWEEN 1 AND 64),
    detail       text CHECK (length (detail) BETWEEN 1 AND 4096),
    prev_hash    text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash         text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    received_at  timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX IF NOT EXISTS chain_user_id ON audit.chain (user_id, seq);
CREATE INDEX IF NOT EXISTS chain_type ON audit.chain (type, seq);
ALTER TABLE audit.chain OWNER TO audit_owner;
REVOKE ALL ON audit.chain FROM PUBLIC;
REVOKE ALL ON audit.chain FROM audit_svc;
GRANT SELECT, INSERT ON audit.chain TO audit_svc;

CREATE OR REPLACE FUNCTION audit.chain_refuse_change () RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $refuse$
BEGIN
    RAISE EXCEPTION 'audit.chain is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$refuse$;
ALTER FUNCTION audit.chain_refuse_change () OWNER TO audit_owner;
REVOKE ALL ON FUNCTION audit.chain_refuse_change () FROM PUBLIC;
CREATE OR REPLACE TRIGGER chain_no_update_delete BEFORE UPDATE OR DELETE ON audit.chain
    FOR EACH ROW EXECUTE FUNCTION audit.chain_refuse_change ();
CREATE OR REPLACE TRIGGER chain_no_truncate BEFORE TRUNCATE ON audit.chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit.chain_refuse_change ();

COMMIT;
