-- 008: delivery receipts — providers report that a sent message reached the
-- recipient (Twilio status callbacks, WhatsApp status webhooks), which moves
-- the delivery from sent to delivered (or failed).

ALTER TABLE deliveries ADD COLUMN delivered_at timestamptz;

-- A receipt names its delivery by the provider's message id, within the
-- integration's environment and channel (created on every monthly partition).
CREATE INDEX deliveries_provider_message ON deliveries (environment_id, channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Hook paths (/v1/hooks/<provider>/{secret}) are looked up by a digest of the
-- secret, then the secret is compared in constant time: the index lookup's
-- timing tells nothing about the secret itself.
CREATE INDEX integrations_hook_digest ON integrations (sha256(hook_secret::bytea))
    WHERE hook_secret IS NOT NULL;
