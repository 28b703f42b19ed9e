-- Stream mode: which channel a binding's DingTalk events come in by. 'http' is the encrypted
-- HTTP push to the worker's callback URL; 'stream' is DingTalk's Stream mode, a WebSocket one
-- worker holds per corp (internal/stream). Both feed inbox_events.

-- +goose Up
ALTER TABLE bindings ADD COLUMN event_intake text NOT NULL DEFAULT 'http'
    CHECK (event_intake IN ('http', 'stream'));

-- +goose Down
ALTER TABLE bindings DROP COLUMN event_intake;
