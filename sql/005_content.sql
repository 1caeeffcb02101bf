-- 005: content — branding, categories, event types, versioned Mustache
-- templates, team destinations, user preferences, and the per-environment
-- content version that tells every process's template cache to reload.

-- Bumped (by the triggers below) whenever anything that changes how a
-- message renders changes; processes compare it with what they cached.
CREATE TABLE content_versions (
    environment_id  uuid PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    version         bigint NOT NULL DEFAULT 1
);

CREATE FUNCTION herald_content_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    env uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- No insert here: the environment itself may be being deleted.
        UPDATE content_versions SET version = version + 1 WHERE environment_id = OLD.environment_id;
        RETURN NULL;
    END IF;
    env := NEW.environment_id;
    INSERT INTO content_versions (environment_id, version) VALUES (env, 1)
        ON CONFLICT (environment_id) DO UPDATE SET version = content_versions.version + 1;
    RETURN NULL;
END $$;

CREATE TABLE branding (
    environment_id  uuid PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    company_name    text NOT NULL DEFAULT '',
    logo_url        text NOT NULL DEFAULT '',
    primary_color   text NOT NULL DEFAULT '#4f46e5',
    footer_text     text NOT NULL DEFAULT '',
    support_email   text NOT NULL DEFAULT '',
    default_locale  text NOT NULL DEFAULT 'en',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE categories (
    id              uuid PRIMARY KEY,
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key             text NOT NULL,
    name            text NOT NULL,
    emoji           text NOT NULL DEFAULT '',
    color           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (environment_id, key)
);

CREATE TABLE event_types (
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key             text NOT NULL,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    category_id     uuid REFERENCES categories (id) ON DELETE SET NULL,
    channels        text[] NOT NULL,
    critical        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, key)
);

-- One row per template (keyed by event type); its versions are immutable.
CREATE TABLE templates (
    environment_id     uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key                text NOT NULL,
    published_version  integer,
    latest_version     integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, key)
);

CREATE TABLE template_versions (
    environment_id  uuid NOT NULL,
    key             text NOT NULL,
    version         integer NOT NULL,
    content         jsonb NOT NULL,      -- {"channels": {...}, "locales": {"fr": {...}}, "sample": {...}}
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, key, version),
    FOREIGN KEY (environment_id, key) REFERENCES templates (environment_id, key) ON DELETE CASCADE
);

-- Where an event without a user goes: one address per channel (an email
-- list address, a Discord webhook or channel, a Telegram group id, ...).
CREATE TABLE team_destinations (
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    channel         text NOT NULL,
    address         text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, channel)
);

-- Per user x (event type or category) x channel. Missing rows mean "on".
CREATE TABLE preferences (
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id         text NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('type', 'category')),
    key             text NOT NULL,
    channel         text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, user_id, scope, key, channel)
);

CREATE TRIGGER branding_content AFTER INSERT OR UPDATE OR DELETE ON branding
    FOR EACH ROW EXECUTE FUNCTION herald_content_bump();
CREATE TRIGGER categories_content AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION herald_content_bump();
CREATE TRIGGER event_types_content AFTER INSERT OR UPDATE OR DELETE ON event_types
    FOR EACH ROW EXECUTE FUNCTION herald_content_bump();
CREATE TRIGGER templates_content AFTER INSERT OR UPDATE OF published_version OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION herald_content_bump();

-- What an event carries besides title/body/data: fields, description,
-- category, team (no user). NULL for plain notifications.
ALTER TABLE notifications ADD COLUMN event jsonb;

-- Channels a new event type gets: those the environment has configured —
-- email and in-app always work (SMTP or the sink; the inbox), plus every
-- channel with an integration (004) or a team destination, and webhook when
-- an enabled endpoint exists.
CREATE FUNCTION herald_default_channels(env uuid) RETURNS text[]
    LANGUAGE sql STABLE AS $$
    SELECT ARRAY(SELECT DISTINCT c FROM unnest(ARRAY['email', 'in_app']
        || ARRAY(SELECT channel FROM integrations WHERE environment_id = env)
        || ARRAY(SELECT channel FROM team_destinations WHERE environment_id = env)
        || ARRAY(SELECT 'webhook' FROM webhook_endpoints
                 WHERE environment_id = env AND disabled_at IS NULL LIMIT 1)) AS c ORDER BY c)
$$;
