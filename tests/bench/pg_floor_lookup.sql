-- pg_floor_lookup.sql: pg_floor.sql's own bookkeeping alone (the batch number and
-- the three reads of floor_ids), subtracted from its cost.
SELECT nextval('floor_batch') AS b \gset
SELECT count(*) FROM floor_ids WHERE b = :b;
SELECT count(*) FROM floor_ids WHERE b = :b;
SELECT count(*) FROM floor_ids WHERE b = :b;
