-- Imports: attendance records, approval instances (and the leave requests among them) read from
-- DingTalk by the import workflows, and each corp's import watermark per kind. Rows are keyed by
-- DingTalk's own ids, so a re-import changes nothing and a changed record updates its row.

-- +goose Up
CREATE TABLE attendance_records (
    corp_id         text NOT NULL,
    record_id       bigint NOT NULL,       -- /attendance/list `id`
    userid          text NOT NULL,
    work_date       date NOT NULL,         -- the work day, in Beijing time
    check_type      text NOT NULL,         -- OnDuty, OffDuty
    time_result     text NOT NULL,         -- Normal, Early, Late, SeriousLate, Absenteeism, NotSigned
    user_check_time timestamptz NOT NULL,  -- when the user clocked in (the planned time when NotSigned)
    attrs           jsonb NOT NULL,        -- the record as DingTalk returned it
    imported_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, record_id)
);
CREATE INDEX attendance_records_user_day ON attendance_records (corp_id, userid, work_date);
CREATE INDEX attendance_records_day ON attendance_records (corp_id, work_date);

CREATE TABLE approval_instances (
    corp_id            text NOT NULL,
    instance_id        text NOT NULL,       -- processInstanceId
    process_code       text NOT NULL,       -- the approval form (PROC-...)
    title              text NOT NULL DEFAULT '',
    originator_userid  text NOT NULL DEFAULT '',
    originator_dept_id text NOT NULL DEFAULT '',
    status             text NOT NULL,       -- RUNNING, TERMINATED (withdrawn), COMPLETED
    result             text NOT NULL DEFAULT '', -- agree, refuse ('' while running)
    business_id        text NOT NULL DEFAULT '',
    create_time        timestamptz,
    finish_time        timestamptz,
    form_values        jsonb NOT NULL DEFAULT '[]', -- formComponentValues
    attrs              jsonb NOT NULL,      -- the instance as DingTalk returned it
    imported_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, instance_id)
);
CREATE INDEX approval_instances_open ON approval_instances (corp_id, create_time)
    WHERE status NOT IN ('COMPLETED', 'TERMINATED');
CREATE INDEX approval_instances_originator ON approval_instances (corp_id, originator_userid, create_time);

-- Leave requests: the approval instances whose form holds DingTalk's leave control
-- (componentType DDHolidayField), typed. Written with their instance, in the same transaction.
CREATE TABLE leave_requests (
    corp_id      text NOT NULL,
    instance_id  text NOT NULL,
    userid       text NOT NULL,             -- the originator: who takes the leave
    leave_type   text NOT NULL DEFAULT '',  -- 年假, 事假, 病假, 调休, ...
    start_at     timestamptz,
    end_at       timestamptz,
    duration     numeric,
    unit         text NOT NULL DEFAULT '',  -- day, halfDay, hour
    status       text NOT NULL,
    result       text NOT NULL DEFAULT '',
    approved     boolean GENERATED ALWAYS AS (status = 'COMPLETED' AND result = 'agree') STORED,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, instance_id)
);
CREATE INDEX leave_requests_user ON leave_requests (corp_id, userid, start_at);

-- One row per corp and kind: the watermark incremental imports start from, and the latest run.
CREATE TABLE import_watermarks (
    corp_id     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('attendance', 'approvals')),
    -- attendance: 00:00 Beijing time of the last work date imported along with every date
    -- before it (from the first import on); approvals: instances started before it were listed.
    watermark   timestamptz,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    workflow_id text NOT NULL DEFAULT '',
    trigger     text NOT NULL DEFAULT '',
    range_from  timestamptz,
    range_to    timestamptz,
    fetched     bigint NOT NULL DEFAULT 0,
    inserted    bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    api_calls   bigint NOT NULL DEFAULT 0,
    progress    text NOT NULL DEFAULT '',
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (corp_id, kind)
);

-- When the binding's import schedule runs ('' = daily at 04:MM, 'off' = never).
ALTER TABLE bindings ADD COLUMN import_cron text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE bindings DROP COLUMN import_cron;
DROP TABLE import_watermarks, leave_requests, approval_instances, attendance_records;
