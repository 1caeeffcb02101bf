-- 004: channels — provider integrations per environment (credentials sealed
-- with the master key), end users' stored addresses per channel, tenant
-- webhook endpoints with rotatable signing secrets, and the response excerpt
-- every attempt keeps.

-- One provider configuration per environment and channel. credentials is
-- hr_crypto_seal of a JSON object and never leaves the server.
CREATE TABLE integrations (
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN
                      ('email', 'sms', 'telegram', 'discord', 'whatsapp', 'slack')),
    provider        text NOT NULL,
    credentials     text NOT NULL,                  -- sealed JSON object
    settings        jsonb NOT NULL DEFAULT '{}',    -- from, base_url, bot_username, rate_per_s …
    hook_secret     text UNIQUE,                    -- Telegram: path secret of /v1/hooks/telegram/{secret}
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, channel)
);

-- A tenant's end user and the addresses Herald may reach them at. Addresses
-- given with a send request win over these.
CREATE TABLE end_users (
    environment_id    uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id           text NOT NULL,
    email             text,
    phone             text,
    telegram_chat_id  text,
    discord_user_id   text,
    discord_webhook   text,
    whatsapp          text,
    slack_channel     text,
    slack_webhook     text,
    telegram_link_code text UNIQUE,                 -- /start <code> links the chat
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, user_id)
);

-- Where the tenant wants signed webhook events. secret/previous_secret are
-- sealed; the previous one keeps signing (second signature) until
-- previous_until, so receivers can roll over without losing events.
CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY,
    environment_id      uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    url                 text NOT NULL,
    description         text NOT NULL DEFAULT '',
    event_types         text[] NOT NULL DEFAULT '{}', -- empty: every event
    secret              text NOT NULL,
    previous_secret     text,
    previous_until      timestamptz,
    private_targets     text NOT NULL DEFAULT 'default'
                          CHECK (private_targets IN ('default', 'deny')),
    disabled_at         timestamptz,
    disabled_reason     text,
    failing_since       timestamptz,                  -- first failure of the current streak
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_env ON webhook_endpoints (environment_id);

-- The first bytes of what the provider or endpoint answered.
ALTER TABLE attempts ADD COLUMN response_excerpt text;

-- A webhook delivery that reports another delivery's outcome
-- (notification.sent / notification.failed) carries the event here.
ALTER TABLE deliveries ADD COLUMN webhook_event jsonb;
