-- The approval instances an event names: a bpms_instance_change event names one (its
-- processInstanceId and processCode), which the incremental sync re-reads into
-- approval_instances. Contact events name none.

-- +goose Up
ALTER TABLE inbox_events ADD COLUMN instance_refs jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE inbox_events DROP COLUMN instance_refs;
