-- The HR store: bindings, versioned credentials, the HR read model and the sync log.
-- Tables and columns documented in README.md ("The HR store") are a contract for HR readers.

-- +goose Up
-- +goose StatementBegin
-- dingsync_changed_keys names the top-level keys whose values differ between two documents.
CREATE FUNCTION dingsync_changed_keys(a jsonb, b jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(k ORDER BY k), '{}')
  FROM (SELECT jsonb_object_keys(coalesce(a, '{}')) AS k
        UNION SELECT jsonb_object_keys(coalesce(b, '{}'))) AS keys
  WHERE a -> k IS DISTINCT FROM b -> k
$$;
-- +goose StatementEnd

CREATE TABLE bindings (
    corp_id                 text PRIMARY KEY,
    app_type                text NOT NULL DEFAULT 'internal' CHECK (app_type IN ('internal', 'third_party')),
    agent_id                bigint,
    app_key                 text NOT NULL,
    status                  text NOT NULL DEFAULT 'pending' CHECK (status IN
                              ('pending', 'authorized', 'syncing', 'active', 'paused', 'quarantined',
                               'credentials_invalid', 'unbound')),
    sync_direction          text NOT NULL DEFAULT 'dingtalk_to_ehr'
                              CHECK (sync_direction IN ('dingtalk_to_ehr', 'two_way')),
    scope                   jsonb NOT NULL DEFAULT '{}',
    field_mapping           jsonb NOT NULL DEFAULT '{}',
    deletion_guard_percent  integer NOT NULL DEFAULT 10 CHECK (deletion_guard_percent BETWEEN 0 AND 100),
    deletion_guard_max      integer NOT NULL DEFAULT 50 CHECK (deletion_guard_max >= 0),
    authorized_by           text,
    authorized_at           timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credentials (
    corp_id      text NOT NULL REFERENCES bindings (corp_id),
    kind         text NOT NULL CHECK (kind IN ('app_secret', 'callback_token', 'callback_aes_key')),
    version      integer NOT NULL CHECK (version > 0),
    status       text NOT NULL CHECK (status IN ('pending', 'active', 'retired')),
    ciphertext   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at   timestamptz,
    PRIMARY KEY (corp_id, kind, version)
);
CREATE UNIQUE INDEX credentials_one_active ON credentials (corp_id, kind) WHERE status = 'active';

CREATE TABLE departments (
    corp_id     text NOT NULL,
    dept_id     bigint NOT NULL,
    attrs       jsonb NOT NULL,
    name        text GENERATED ALWAYS AS (attrs ->> 'name') STORED,
    parent_id   bigint GENERATED ALWAYS AS ((attrs ->> 'parent_id')::bigint) STORED,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    removed_at  timestamptz,
    source_hash text NOT NULL,
    last_run_id bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, dept_id)
);

CREATE TABLE employees (
    corp_id     text NOT NULL,
    userid      text NOT NULL,
    attrs       jsonb NOT NULL,
    name        text GENERATED ALWAYS AS (attrs ->> 'name') STORED,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'left')),
    left_at     timestamptz,
    source_hash text NOT NULL,
    last_run_id bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, userid)
);

-- hr_employees is the HR read model's typed face: one row per employee with the attributes
-- as columns. (They are not stored twice: a sync writes only attrs.)
CREATE VIEW hr_employees AS
SELECT corp_id, userid, name, status, left_at,
       attrs ->> 'unionid'    AS unionid,
       attrs ->> 'mobile'     AS mobile,
       attrs ->> 'telephone'  AS telephone,
       attrs ->> 'email'      AS email,
       attrs ->> 'org_email'  AS org_email,
       attrs ->> 'job_number' AS job_number,
       attrs ->> 'title'      AS title,
       attrs ->> 'work_place' AS work_place,
       to_timestamp(nullif((attrs ->> 'hired_date')::bigint, 0) / 1000.0) AS hired_at,
       (attrs ->> 'activated')::boolean AS activated,
       (attrs ->> 'admin')::boolean AS is_admin,
       attrs -> 'extension'   AS extension,
       updated_at
FROM employees;

CREATE TABLE employee_departments (
    corp_id    text NOT NULL,
    userid     text NOT NULL,
    dept_id    bigint NOT NULL,
    dept_order bigint NOT NULL DEFAULT 0,
    is_leader  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (corp_id, userid, dept_id)
);
CREATE INDEX employee_departments_dept ON employee_departments (corp_id, dept_id);

CREATE TABLE sync_runs (
    id                bigserial PRIMARY KEY,
    corp_id           text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('full', 'incremental', 'audit', 'repair')),
    trigger           text NOT NULL,
    workflow_id       text NOT NULL,
    temporal_run_id   text NOT NULL,
    status            text NOT NULL DEFAULT 'running' CHECK (status IN
                        ('running', 'succeeded', 'partial', 'failed', 'awaiting_approval')),
    phase             text NOT NULL DEFAULT 'starting',
    departments_seen  integer NOT NULL DEFAULT 0,
    employees_seen    integer NOT NULL DEFAULT 0,
    created           integer NOT NULL DEFAULT 0,
    updated           integer NOT NULL DEFAULT 0,
    deactivated       integer NOT NULL DEFAULT 0,
    departments_changed integer NOT NULL DEFAULT 0,
    record_errors     integer NOT NULL DEFAULT 0,
    pending_deletions integer NOT NULL DEFAULT 0,
    api_calls         bigint NOT NULL DEFAULT 0,
    throttled         bigint NOT NULL DEFAULT 0,
    applied_at        timestamptz,
    decided_by        text,
    error             text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    UNIQUE (workflow_id, temporal_run_id)
);
CREATE INDEX sync_runs_corp ON sync_runs (corp_id, started_at DESC);

CREATE TABLE sync_changes (
    id             bigserial PRIMARY KEY,
    run_id         bigint NOT NULL, -- sync_runs.id; written only by the apply that holds the run row
    corp_id        text NOT NULL,
    entity         text NOT NULL CHECK (entity IN ('employee', 'department')),
    record_id      text NOT NULL,
    op             text NOT NULL CHECK (op IN ('create', 'update', 'deactivate', 'reactivate')),
    changed_fields text[] NOT NULL,
    before         jsonb,
    after          jsonb,
    changed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_changes_run ON sync_changes (run_id);
CREATE INDEX sync_changes_record ON sync_changes (corp_id, entity, record_id);

CREATE TABLE sync_errors (
    id         bigserial PRIMARY KEY,
    run_id     bigint NOT NULL REFERENCES sync_runs (id),
    corp_id    text NOT NULL,
    entity     text NOT NULL,
    record_id  text NOT NULL,
    kind       text NOT NULL,
    code       text NOT NULL,
    message    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, entity, record_id)
);

-- Staging: what one run read from DingTalk, before the apply. Rows are deleted by the apply.
CREATE TABLE staging_departments (
    run_id          bigint NOT NULL,
    dept_id         bigint NOT NULL,
    attrs           jsonb NOT NULL,
    children_listed boolean NOT NULL DEFAULT false,
    users_listed    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, dept_id)
);

CREATE TABLE staging_users (
    run_id     bigint NOT NULL,
    dept_id    bigint NOT NULL,
    userid     text NOT NULL,
    dept_order bigint NOT NULL,
    is_leader  boolean NOT NULL,
    profile    jsonb NOT NULL,
    PRIMARY KEY (run_id, dept_id, userid)
);

CREATE TABLE ops_log (
    id      bigserial PRIMARY KEY,
    corp_id text NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_log_corp ON ops_log (corp_id, at DESC);

-- +goose Down
DROP VIEW hr_employees;
DROP TABLE ops_log, staging_users, staging_departments, sync_errors, sync_changes, sync_runs,
    employee_departments, employees, departments, credentials, bindings;
DROP FUNCTION dingsync_changed_keys(jsonb, jsonb);
