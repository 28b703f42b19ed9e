-- A drain of DingTalk's failed-push list in progress. DingTalk hands each failed push out once,
-- so a drain that stopped between fetching a page and storing it (a killed worker) may have
-- lost events: the next drain finds the mark still set and has a repair sync started.

-- +goose Up
ALTER TABLE bindings ADD COLUMN failed_push_drain_started_at timestamptz;

-- +goose Down
ALTER TABLE bindings DROP COLUMN failed_push_drain_started_at;
