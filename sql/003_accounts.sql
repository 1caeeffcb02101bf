-- 003: dashboard members, rolling sessions (refresh-token families), OAuth
-- identities, and per-tenant limit overrides for the 'custom' plan.

CREATE TABLE members (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email           text NOT NULL UNIQUE,            -- normalised: trimmed, lower-case
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash   text,                            -- Argon2id (crypto_pwhash_str); NULL: OAuth only
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX members_tenant ON members (tenant_id);

-- One row per refresh token ever issued. A login starts a family; every
-- refresh uses up its token and issues the next one in the same family.
-- Presenting a used token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    member_id   uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,                -- BLAKE2b-256 hex; the token itself is never stored
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_member ON refresh_tokens (member_id);

CREATE TABLE oauth_identities (
    provider    text NOT NULL CHECK (provider IN ('github', 'google')),
    subject     text NOT NULL,                       -- the provider's user id
    member_id   uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);

-- Limits of a 'custom' tenant (NULL: the [limits] custom_* settings).
ALTER TABLE tenants
    ADD CONSTRAINT tenants_plan CHECK (plan IN ('free', 'pro', 'custom')),
    ADD COLUMN rate_limit     integer CHECK (rate_limit >= 0),      -- requests per rate window
    ADD COLUMN monthly_quota  bigint CHECK (monthly_quota >= 0);    -- notifications per month
