-- Consistency audits and their findings, per-binding schedules and repair, and the
-- credential state a rotation passes through.

-- +goose Up
ALTER TABLE bindings
    -- Cron specs (UTC) of the binding's Temporal Schedules; empty turns a schedule off.
    ADD COLUMN audit_cron    text NOT NULL DEFAULT '',
    ADD COLUMN fullsync_cron text NOT NULL DEFAULT '',
    -- Whether a scheduled audit that finds drift repairs it at once.
    ADD COLUMN audit_repair  boolean NOT NULL DEFAULT false;

-- A rotation keeps the version it replaced as 'previous' until the new one has proved itself,
-- so a failure can switch back.
ALTER TABLE credentials DROP CONSTRAINT credentials_status_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_status_check
    CHECK (status IN ('pending', 'active', 'previous', 'retired'));
ALTER TABLE credentials ADD COLUMN note text;

-- One row per audit: what each side holds, and the drift found, by kind.
CREATE TABLE audit_reports (
    id                    bigserial PRIMARY KEY,
    corp_id               text NOT NULL,
    run_id                bigint NOT NULL UNIQUE, -- the audit's sync_runs row
    dingtalk_employees    integer NOT NULL,
    store_employees       integer NOT NULL,
    dingtalk_departments  integer NOT NULL,
    store_departments     integer NOT NULL,
    drift                 jsonb NOT NULL,   -- {kind: count}
    unreadable_depts      integer NOT NULL, -- departments the audit could not read (not judged)
    changed_during_audit  integer NOT NULL, -- records written after the audit began (not judged)
    repair_run_id         bigint,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_reports_corp ON audit_reports (corp_id, created_at DESC);

-- The findings of an audit, at most a bounded sample per kind (the report has exact counts).
CREATE TABLE audit_findings (
    report_id  bigint NOT NULL REFERENCES audit_reports (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    entity     text NOT NULL CHECK (entity IN ('employee', 'department')),
    record_id  text NOT NULL,
    fields     text[] NOT NULL DEFAULT '{}',
    in_store   jsonb,
    in_dingtalk jsonb,
    reason     text NOT NULL,
    PRIMARY KEY (report_id, kind, entity, record_id)
);

-- +goose Down
DROP TABLE audit_findings, audit_reports;
ALTER TABLE credentials DROP COLUMN note;
ALTER TABLE credentials DROP CONSTRAINT credentials_status_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_status_check CHECK (status IN ('pending', 'active', 'retired'));
ALTER TABLE bindings DROP COLUMN audit_repair, DROP COLUMN fullsync_cron, DROP COLUMN audit_cron;
