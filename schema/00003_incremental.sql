-- Incremental sync: every accepted DingTalk event, and the explicit deletions an event batch
-- stages (a leaver, a removed department) for the apply.

-- +goose Up
CREATE TABLE inbox_events (
    corp_id     text NOT NULL,
    event_id    text NOT NULL,
    seq         bigserial,
    event_type  text NOT NULL,
    event_time  timestamptz,
    user_ids    text[] NOT NULL DEFAULT '{}',
    dept_ids    bigint[] NOT NULL DEFAULT '{}',
    source      text NOT NULL CHECK (source IN ('http', 'failed_list', 'stream')),
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'failed')),
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at  timestamptz,
    run_id      bigint,
    error       text,
    PRIMARY KEY (corp_id, event_id)
);
CREATE INDEX inbox_events_pending ON inbox_events (corp_id, seq) WHERE status = 'pending';

CREATE TABLE staging_deletions (
    run_id    bigint NOT NULL,
    entity    text NOT NULL CHECK (entity IN ('employee', 'department')),
    record_id text NOT NULL,
    PRIMARY KEY (run_id, entity, record_id)
);

-- +goose Down
DROP TABLE staging_deletions, inbox_events;
