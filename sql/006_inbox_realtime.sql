-- 006: in-app inbox and realtime. The unread count (not read, not archived)
-- is read on every inbox change and every gateway greeting: a partial index
-- keeps it an index-only count of the user's unread items.
CREATE INDEX inbox_unread ON inbox_items (environment_id, user_id)
    WHERE read_at IS NULL AND archived_at IS NULL;
