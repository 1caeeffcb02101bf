-- pg_floor.sql: one pgbench transaction = the least a worker asks of PostgreSQL
-- for a batch of deliveries under issue 4's rules, on Herald's own tables: claim
-- them with a lease (committed before anything is sent), then record one attempt
-- row each and mark them sent (one more commit). Batches come from floor_ids
-- (scripts/lib/bench.sh, b_pg_floor), a batch number per transaction.
SELECT nextval('floor_batch') AS b \gset
UPDATE deliveries SET status = 'sending', attempts = attempts + 1,
    lease_until = now() + interval '60 s', updated_at = now()
    WHERE id = ANY (ARRAY(SELECT id FROM floor_ids WHERE b = :b)) AND status = 'queued';
BEGIN;
INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, response_code, outcome)
    SELECT id, 1, now(), 3, 204, 'sent' FROM floor_ids WHERE b = :b;
UPDATE deliveries SET status = 'sent', lease_until = NULL, sent_at = now(),
    provider_message_id = 'floor', updated_at = now()
    WHERE id = ANY (ARRAY(SELECT id FROM floor_ids WHERE b = :b)) AND status = 'sending';
COMMIT;
