-- 002: per-environment signing secrets for end-user tokens, sealed with the
-- master key (never stored in clear). The previous secret keeps verifying
-- until signing_previous_until, so a rotation does not log users out.
ALTER TABLE environments
    ADD COLUMN signing_secret          text,   -- hr_crypto_seal of 32 random bytes
    ADD COLUMN signing_previous        text,
    ADD COLUMN signing_previous_until  timestamptz;
