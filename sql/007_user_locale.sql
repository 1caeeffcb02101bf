-- 007: an end user's preferred locale, used to pick template variants when a
-- notification does not name one (user.locale in the request wins).
ALTER TABLE end_users ADD COLUMN locale text;
