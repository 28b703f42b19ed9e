-- Field mapping: custom fields computed from DingTalk fields by per-binding rules, kept in
-- employees.attrs.custom_fields; a mapping change rewrites them as a run of kind 'mapping'.

-- +goose Up
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_kind_check
    CHECK (kind IN ('full', 'incremental', 'audit', 'repair', 'mapping'));

CREATE OR REPLACE VIEW hr_employees AS
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
       updated_at,
       coalesce(attrs -> 'custom_fields', '{}') AS custom_fields
FROM employees;

-- +goose Down
DROP VIEW hr_employees;
CREATE VIEW hr_employees AS
SELECT corp_id, userid, name, status, left_at,
       attrs ->> 'unionid' AS unionid, attrs ->> 'mobile' AS mobile, attrs ->> 'telephone' AS telephone,
       attrs ->> 'email' AS email, attrs ->> 'org_email' AS org_email, attrs ->> 'job_number' AS job_number,
       attrs ->> 'title' AS title, attrs ->> 'work_place' AS work_place,
       to_timestamp(nullif((attrs ->> 'hired_date')::bigint, 0) / 1000.0) AS hired_at,
       (attrs ->> 'activated')::boolean AS activated, (attrs ->> 'admin')::boolean AS is_admin,
       attrs -> 'extension' AS extension, updated_at
FROM employees;
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_kind_check CHECK (kind IN ('full', 'incremental', 'audit', 'repair'));
