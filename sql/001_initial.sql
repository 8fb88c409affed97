-- sessiond schema, migration 001.
-- sessions: authoritative, logged. session_cache: UNLOGGED hot-read copy, may be
-- emptied by a crash at any time. session_events: audit trail, never a token.

CREATE TABLE sessions (
    id                   uuid PRIMARY KEY,
    token_hash           bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    user_id              text NOT NULL,
    user_email           text,
    user_name            text,
    user_picture         text,
    tenant_id            text,
    tenant_name          text,
    needs_onboarding     boolean NOT NULL DEFAULT true,
    onboarding_completed boolean NOT NULL DEFAULT false,
    onboarding_step      text,
    subscription_plan    text NOT NULL DEFAULT 'free',
    subscription_status  text NOT NULL DEFAULT 'active',
    session_data         jsonb NOT NULL DEFAULT '{}'::jsonb,
    session_type         text NOT NULL DEFAULT 'web' CHECK (session_type IN ('web', 'mobile', 'api')),
    version              bigint NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    last_activity        timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    revoked_at           timestamptz,
    revoked_reason       text,
    ip_address           inet,
    user_agent           text
);
-- Listing a user's live sessions, newest activity first.
CREATE INDEX sessions_user_live_idx ON sessions (user_id, last_activity DESC) WHERE revoked_at IS NULL;
-- cleanup_sessions: expired and revoked rows.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- The cache holds exactly the columns a read renders, so a hit and a miss
-- produce the same session object. Only live (unrevoked) sessions are cached.
CREATE UNLOGGED TABLE session_cache (
    token_hash           bytea PRIMARY KEY,
    id                   uuid NOT NULL,
    user_id              text NOT NULL,
    user_email           text,
    user_name            text,
    user_picture         text,
    tenant_id            text,
    tenant_name          text,
    needs_onboarding     boolean NOT NULL,
    onboarding_completed boolean NOT NULL,
    onboarding_step      text,
    subscription_plan    text NOT NULL,
    subscription_status  text NOT NULL,
    session_data         jsonb NOT NULL,
    session_type         text NOT NULL,
    version              bigint NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    last_activity        timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    ip_address           inet,
    user_agent           text,
    -- last_activity already copied to sessions; touches newer than this are flushed.
    flushed_activity     timestamptz NOT NULL
);
CREATE INDEX session_cache_id_idx ON session_cache (id);
CREATE INDEX session_cache_user_idx ON session_cache (user_id);

-- Audit trail. No foreign key: events outlive the sessions they describe
-- (cleanup deletes sessions, events age out by event_retention_days).
CREATE TABLE session_events (
    id           bigserial PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    event        text NOT NULL CHECK (event IN ('created', 'updated', 'refreshed', 'rotated',
                                                'revoked', 'expired', 'auth_failed')),
    session_id   uuid,
    user_id      text,
    ip_address   inet,
    detail       jsonb
);
CREATE INDEX session_events_time_idx ON session_events (occurred_at);
CREATE INDEX session_events_session_idx ON session_events (session_id);

-- Server-owned fields per user: every session created afterwards starts from them.
CREATE TABLE user_billing (
    user_id              text PRIMARY KEY,
    subscription_plan    text NOT NULL,
    subscription_status  text NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
