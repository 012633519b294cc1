-- Accounts: the service's own PostgreSQL role, users, browser sessions and API tokens.
--
-- The API connects as geo_service_app: it logs in, owns no table and has no BYPASSRLS, so the
-- row-level security of sql/functions/90_access.sql binds it on every path. Roles belong to the
-- cluster, not the database: the role may exist already (another database on the server).
DO $$
BEGIN
    CREATE ROLE geo_service_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object THEN
    NULL;
END;
$$;

-- A user signs in with a password (Argon2id hash) and, where the role asks for it, a time-based
-- one-time code. Users are never deleted (the audit trail names them): removal stamps removed_at.
CREATE TABLE app_user (
    id              serial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._-]{2,64}$'),
    role            text NOT NULL CHECK (role IN ('leader', 'command_room', 'planner',
                                                  'community_officer', 'grid_worker',
                                                  'volunteer', 'auditor', 'admin')),
    -- the person whose assignments in force give the user's areas
    person_id       int REFERENCES person (id),
    password_hash   text NOT NULL,
    totp_secret     text,
    failed_sign_ins int NOT NULL DEFAULT 0,
    locked_until    timestamptz,           -- set by five wrong passwords
    locked          boolean NOT NULL DEFAULT false,  -- set by the admin until unlocked
    removed_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (role NOT IN ('community_officer', 'grid_worker', 'volunteer')
           OR person_id IS NOT NULL)
);

-- Browser sessions, server-side so that they can be revoked; the cookie holds the secret, the
-- table its SHA-256.
CREATE TABLE user_session (
    secret_hash      bytea PRIMARY KEY,
    user_id          int NOT NULL REFERENCES app_user (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    second_factor_ok boolean NOT NULL DEFAULT false,
    revoked_at       timestamptz
);
CREATE INDEX user_session_user_idx ON user_session (user_id);

-- Personal API tokens for programs (QGIS, GDAL, scripts, devices): shown once, stored hashed.
CREATE TABLE api_token (
    id           serial PRIMARY KEY,
    user_id      int NOT NULL REFERENCES app_user (id),
    secret_hash  bytea NOT NULL UNIQUE,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_token_user_idx ON api_token (user_id);

REVOKE ALL ON app_user, user_session, api_token FROM PUBLIC;
