-- Two-way sync with one owner per field. bindings.field_owners names the employee fields the
-- eHR owns ({"title": "ehr"}; a field not named is DingTalk's). Edits of eHR-owned fields are
-- made in the store through dingsync_employee_update (new hires through dingsync_employee_hire),
-- recorded in sync_changes and queued in ehr_writes, which the worker pushes to DingTalk.
-- employee_field_state keeps, per eHR-owned field, the value both sides last agreed on: the
-- base of the three-way comparison that tells a conflict (both changed) from a one-sided change.

-- +goose Up
ALTER TABLE bindings ADD COLUMN field_owners jsonb NOT NULL DEFAULT '{}';

ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_kind_check
    CHECK (kind IN ('full', 'incremental', 'audit', 'repair', 'mapping', 'ehr_edit'));

CREATE TABLE employee_field_state (
    corp_id text NOT NULL,
    userid  text NOT NULL,
    field   text NOT NULL,
    synced  jsonb,
    PRIMARY KEY (corp_id, userid, field)
);

CREATE TABLE ehr_writes (
    id              bigserial PRIMARY KEY,
    corp_id         text NOT NULL,
    userid          text NOT NULL, -- for a hire, the userid dingsync asks DingTalk to create
    op              text NOT NULL CHECK (op IN ('update', 'create')),
    fields          jsonb NOT NULL, -- the eHR's values to push
    base            jsonb NOT NULL DEFAULT '{}', -- the last-synced values they replace
    idempotency_key text NOT NULL,
    actor           text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'pushed', 'failed')),
    reason          text, -- why it failed, and the fix; or what the push found
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (corp_id, idempotency_key)
);
CREATE INDEX ehr_writes_pending ON ehr_writes (corp_id, id) WHERE status = 'pending';

CREATE TABLE field_conflicts (
    id             bigserial PRIMARY KEY,
    corp_id        text NOT NULL,
    userid         text NOT NULL,
    field          text NOT NULL,
    base           jsonb, -- the value both sides last agreed on
    ehr_value      jsonb,
    dingtalk_value jsonb,
    both_changed   boolean NOT NULL, -- false: only DingTalk changed a field the eHR owns
    winner         text NOT NULL CHECK (winner IN ('ehr', 'dingtalk')),
    found_by       text NOT NULL, -- 'sync run N' or 'write N'
    found_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX field_conflicts_corp ON field_conflicts (corp_id, found_at DESC);

-- dingsync_ownable_field says whether the eHR may own an employee field: the ones DingTalk's
-- user/update changes for any member (mobile is DingTalk's: it is the member's login).
-- +goose StatementBegin
CREATE FUNCTION dingsync_ownable_field(f text) RETURNS boolean IMMUTABLE LANGUAGE sql AS $$
  SELECT f IN ('name', 'title', 'job_number', 'email', 'org_email', 'telephone', 'work_place', 'remark', 'hired_date')
$$;
-- +goose StatementEnd

-- dingsync_check_ehr_field refuses a value the eHR may not write to field of corp: a field it
-- may not own, one owners (when not null) gives DingTalk, or a value of the wrong type.
-- +goose StatementBegin
CREATE FUNCTION dingsync_check_ehr_field(p_corp text, owners jsonb, f text, v jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT dingsync_ownable_field(f) THEN
    RAISE EXCEPTION 'field % cannot be written from the eHR', f
      USING HINT = 'the eHR may own name, title, job_number, email, org_email, telephone, work_place, remark and hired_date';
  END IF;
  IF owners IS NOT NULL AND coalesce(owners ->> f, 'dingtalk') <> 'ehr' THEN
    RAISE EXCEPTION 'field % of corp % is owned by DingTalk', f, p_corp
      USING HINT = format('change it in DingTalk, or make the eHR its owner: starter ownership set --corp-id %s --field %s=ehr --by <you>', p_corp, f);
  END IF;
  IF f = 'hired_date' AND (jsonb_typeof(v) <> 'number' OR v::numeric < 0) THEN
    RAISE EXCEPTION 'hired_date must be a date in unix milliseconds, not %', v USING HINT = 'e.g. 1700000000000';
  END IF;
  IF f <> 'hired_date' AND jsonb_typeof(v) <> 'string' THEN
    RAISE EXCEPTION '% must be a string, not %', f, v USING HINT = 'quote the value';
  END IF;
  IF f = 'name' AND (btrim(v #>> '{}') = '' OR char_length(v #>> '{}') > 80) THEN
    RAISE EXCEPTION 'name must be 1 to 80 characters' USING HINT = 'DingTalk refuses an empty or longer name';
  END IF;
END $$;
-- +goose StatementEnd

-- dingsync_employee_update changes eHR-owned fields of an active employee in the store, records
-- the change in sync_changes (a run of kind ehr_edit) and queues it for DingTalk. It returns the
-- write's id (0 when nothing changed); the same key returns the first call's write.
-- +goose StatementBegin
CREATE FUNCTION dingsync_employee_update(p_corp text, p_userid text, p_changes jsonb, p_actor text, p_key text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  owners jsonb; e employees%ROWTYPE; f text; v jsonb;
  changed jsonb := '{}'; base jsonb := '{}'; next_attrs jsonb; run bigint; wid bigint;
BEGIN
  IF coalesce(p_actor, '') = '' THEN
    RAISE EXCEPTION 'an eHR edit needs an actor' USING HINT = 'pass who makes the change: it is recorded in the sync log';
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT id INTO wid FROM ehr_writes WHERE corp_id = p_corp AND idempotency_key = p_key;
    IF FOUND THEN RETURN wid; END IF;
  END IF;
  SELECT field_owners INTO owners FROM bindings WHERE corp_id = p_corp;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'corp % is not bound', p_corp USING HINT = 'check the corp id with starter status, or bind it: starter bind';
  END IF;
  IF jsonb_typeof(p_changes) IS DISTINCT FROM 'object' OR p_changes = '{}' THEN
    RAISE EXCEPTION 'no change given' USING HINT = 'pass a JSON object of field: value, e.g. {"title": "HRBP"}';
  END IF;
  SELECT * INTO e FROM employees WHERE corp_id = p_corp AND userid = p_userid FOR UPDATE;
  IF NOT FOUND OR e.status <> 'active' THEN
    RAISE EXCEPTION 'corp % has no active employee %', p_corp, p_userid USING HINT = 'look the userid up in hr_employees';
  END IF;
  FOR f, v IN SELECT key, value FROM jsonb_each(p_changes) LOOP
    PERFORM dingsync_check_ehr_field(p_corp, owners, f, v);
    IF e.attrs -> f IS DISTINCT FROM v THEN
      changed := changed || jsonb_build_object(f, v);
      base := base || jsonb_build_object(f, coalesce((SELECT synced FROM employee_field_state
        WHERE corp_id = p_corp AND userid = p_userid AND field = f), e.attrs -> f));
    END IF;
  END LOOP;
  IF changed = '{}' THEN
    RETURN 0;
  END IF;
  next_attrs := e.attrs || changed;
  INSERT INTO sync_runs (corp_id, kind, trigger, workflow_id, temporal_run_id, status, phase, updated,
                         applied_at, finished_at)
  VALUES (p_corp, 'ehr_edit', p_actor, 'ehr-edit/' || p_corp, gen_random_uuid()::text, 'succeeded', 'applied', 1,
          now(), now())
  RETURNING id INTO run;
  UPDATE employees SET attrs = next_attrs, source_hash = md5(next_attrs::text), last_run_id = run, updated_at = now()
  WHERE corp_id = p_corp AND userid = p_userid;
  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
  VALUES (run, p_corp, 'employee', p_userid, 'update', ARRAY(SELECT jsonb_object_keys(changed)), e.attrs, next_attrs);
  INSERT INTO ehr_writes (corp_id, userid, op, fields, base, idempotency_key, actor)
  VALUES (p_corp, p_userid, 'update', changed, base, coalesce(p_key, 'edit/' || run), p_actor)
  RETURNING id INTO wid;
  PERFORM pg_notify('dingsync_ehr_writes', p_corp);
  RETURN wid;
END $$;
-- +goose StatementEnd

-- dingsync_employee_hire queues a new member for DingTalk's user/create: name, mobile and
-- dept_ids (a JSON array of department ids) are required, other eHR-owned fields optional. The
-- userid is derived from the idempotency key, so a retried create finds the member it made.
-- The employee enters the store when DingTalk reports the member (its user_add_org event).
-- +goose StatementBegin
CREATE FUNCTION dingsync_employee_hire(p_corp text, p_fields jsonb, p_actor text, p_key text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE f text; v jsonb; wid bigint; depts jsonb;
BEGIN
  IF coalesce(p_actor, '') = '' OR coalesce(p_key, '') = '' THEN
    RAISE EXCEPTION 'a hire needs an actor and an idempotency key'
      USING HINT = 'pass who hires and a key unique to this hire (e.g. the eHR''s hire record id)';
  END IF;
  SELECT id INTO wid FROM ehr_writes WHERE corp_id = p_corp AND idempotency_key = p_key;
  IF FOUND THEN RETURN wid; END IF;
  PERFORM 1 FROM bindings WHERE corp_id = p_corp;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'corp % is not bound', p_corp USING HINT = 'check the corp id with starter status, or bind it: starter bind';
  END IF;
  IF jsonb_typeof(p_fields -> 'name') IS DISTINCT FROM 'string' OR jsonb_typeof(p_fields -> 'mobile') IS DISTINCT FROM 'string'
     OR btrim(p_fields ->> 'mobile') = '' THEN
    RAISE EXCEPTION 'a hire needs a name and a mobile' USING HINT = 'DingTalk creates a member from both';
  END IF;
  depts := p_fields -> 'dept_ids';
  IF jsonb_typeof(depts) IS DISTINCT FROM 'array' OR jsonb_array_length(depts) = 0
     OR EXISTS (SELECT 1 FROM jsonb_array_elements(depts) d WHERE jsonb_typeof(d) <> 'number'
                OR NOT EXISTS (SELECT 1 FROM departments WHERE corp_id = p_corp AND dept_id = d::text::bigint AND status = 'active')) THEN
    RAISE EXCEPTION 'dept_ids must list the new member''s departments, each an active department of corp %', p_corp
      USING HINT = 'look the ids up in hr_departments';
  END IF;
  FOR f, v IN SELECT key, value FROM jsonb_each(p_fields - 'mobile' - 'dept_ids') LOOP
    PERFORM dingsync_check_ehr_field(p_corp, NULL, f, v); -- a hire sets fields whoever owns them
  END LOOP;
  INSERT INTO ehr_writes (corp_id, userid, op, fields, idempotency_key, actor)
  VALUES (p_corp, 'ehr' || left(md5(p_corp || '/' || p_key), 20), 'create', p_fields, p_key, p_actor)
  RETURNING id INTO wid;
  PERFORM pg_notify('dingsync_ehr_writes', p_corp);
  RETURN wid;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION dingsync_employee_hire(text, jsonb, text, text);
DROP FUNCTION dingsync_employee_update(text, text, jsonb, text, text);
DROP FUNCTION dingsync_check_ehr_field(text, jsonb, text, jsonb);
DROP FUNCTION dingsync_ownable_field(text);
DROP TABLE field_conflicts;
DROP TABLE ehr_writes;
DROP TABLE employee_field_state;
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_kind_check
    CHECK (kind IN ('full', 'incremental', 'audit', 'repair', 'mapping'));
ALTER TABLE bindings DROP COLUMN field_owners;
