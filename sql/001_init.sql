-- 001: tenancy, API keys, notifications, deliveries, attempts, inbox.
-- Applied once by herald-admin migrate, inside one transaction, recorded in
-- schema_migrations.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan        text NOT NULL DEFAULT 'free',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_tenant ON projects (tenant_id);

CREATE TABLE environments (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('development', 'production')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, kind)
);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key_hash        text NOT NULL UNIQUE,          -- BLAKE2b-256 hex of the whole key
    prefix          text NOT NULL,                 -- hk_live_ / hk_test_
    last4           text NOT NULL,
    name            text NOT NULL DEFAULT 'default',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,                   -- set when rotated (grace period)
    revoked_at      timestamptz,
    last_used_at    timestamptz
);
CREATE INDEX api_keys_env ON api_keys (environment_id);

-- The big tables are partitioned by month so retention drops partitions instead
-- of deleting rows. Their ids are time-ordered (UUIDv7 for notifications;
-- delivery ids derived from the notification id keep its 48-bit millisecond
-- prefix), so each table is partitioned by RANGE of its own id and the primary
-- key stays the id alone. herald_uuid_at(t) is the smallest id of instant t.
CREATE FUNCTION herald_uuid_at(t timestamptz) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0')
                  || '00000000000000000000')::uuid $$;

CREATE TABLE notifications (
    id              uuid NOT NULL,                 -- UUIDv7 given at ingest
    environment_id  uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id         text NOT NULL,                 -- the tenant's external user id
    type            text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL DEFAULT '',
    data            jsonb NOT NULL DEFAULT '{}',
    recipient       jsonb NOT NULL DEFAULT '{}',   -- addresses given with the request
    request_id      text,
    accepted_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX notifications_env_id ON notifications (environment_id, id DESC);

CREATE TABLE deliveries (
    id                  uuid NOT NULL,             -- derived from notification id + channel
    notification_id     uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    environment_id      uuid NOT NULL,
    channel             text NOT NULL,
    status              text NOT NULL CHECK (status IN
                          ('queued', 'sending', 'sent', 'delivered', 'retrying', 'failed', 'skipped')),
    address             text,
    attempts            integer NOT NULL DEFAULT 0, -- also the fencing token of a claim
    lease_until         timestamptz,
    handed_over_at      timestamptz,               -- the current attempt passed its point of no return
    next_attempt_at     timestamptz,
    provider_message_id text,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX deliveries_notification ON deliveries (notification_id);
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at)
    WHERE status IN ('queued', 'sending', 'retrying');

CREATE TABLE attempts (
    delivery_id     uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     integer NOT NULL,
    response_code   integer,
    outcome         text NOT NULL CHECK (outcome IN ('sent', 'transient', 'permanent')),
    error           text,
    PRIMARY KEY (delivery_id, attempt)
) PARTITION BY RANGE (delivery_id);

-- Creates the monthly partitions of the three tables from the month of
-- `from_t` through `months` months later (idempotent). The sweeper calls it
-- so next month's partitions always exist before they are needed.
CREATE FUNCTION herald_ensure_partitions(from_t timestamptz, months integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    m timestamptz;
    tbl text;
    made integer := 0;
BEGIN
    FOR i IN 0..months LOOP
        m := date_trunc('month', from_t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => i);
        FOREACH tbl IN ARRAY ARRAY['notifications', 'deliveries', 'attempts'] LOOP
            IF to_regclass(format('%s_%s', tbl, to_char(m AT TIME ZONE 'UTC', 'YYYYMM'))) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               format('%s_%s', tbl, to_char(m AT TIME ZONE 'UTC', 'YYYYMM')), tbl,
                               herald_uuid_at(m), herald_uuid_at(m + interval '1 month'));
                made := made + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN made;
END $$;

-- Drops the monthly partitions that end before `before_t` (retention). Rows
-- that reference them from unpartitioned tables are deleted first.
CREATE FUNCTION herald_drop_partitions(before_t timestamptz) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname, p.relname AS parent
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('attempts', 'deliveries', 'notifications')
          AND c.relname ~ '_[0-9]{6}$'
          AND to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month' <= before_t
        ORDER BY CASE p.relname WHEN 'attempts' THEN 0 WHEN 'deliveries' THEN 1 ELSE 2 END
    LOOP
        IF part.parent = 'notifications' THEN
            EXECUTE format('DELETE FROM inbox_items WHERE notification_id IN (SELECT id FROM %I)',
                           part.relname);
        END IF;
        -- Detach first: a referenced partition cannot be dropped in place.
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', part.parent, part.relname);
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

CREATE TABLE inbox_items (
    id              uuid PRIMARY KEY,              -- the in_app delivery id
    environment_id  uuid NOT NULL,
    user_id         text NOT NULL,
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    title           text NOT NULL,
    body            text NOT NULL DEFAULT '',
    data            jsonb NOT NULL DEFAULT '{}',
    read_at         timestamptz,
    archived_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_user ON inbox_items (environment_id, user_id, id DESC);

-- ISO 8601 UTC with milliseconds, the one timestamp format of the API.
CREATE FUNCTION herald_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

SELECT herald_ensure_partitions(now(), 2);
