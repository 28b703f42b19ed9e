-- Department writes from the eHR: dingsync_department_create and dingsync_department_update
-- queue a department/create or department/update for DingTalk in ehr_writes (op dept_create,
-- dept_update; userid ''; dept_id names the department, the created one once DingTalk answers). DingTalk
-- stays the truth for departments: the HR store changes when DingTalk reports the change (its
-- org_dept_create / org_dept_modify event), as for a change made in the DingTalk console.

-- +goose Up
ALTER TABLE ehr_writes ADD COLUMN dept_id bigint;
ALTER TABLE ehr_writes DROP CONSTRAINT ehr_writes_op_check;
ALTER TABLE ehr_writes ADD CONSTRAINT ehr_writes_op_check CHECK (
    (op IN ('update', 'create') AND userid <> '') OR
    (op = 'dept_update' AND dept_id IS NOT NULL) OR
    op = 'dept_create');

-- dingsync_check_department_fields refuses department fields DingTalk would: a name that is
-- empty, longer than 64 characters or holds '-', ',' or '，'; a parent that is not an active
-- department of the corp; an order that is not a number; any other field.
-- +goose StatementBegin
CREATE FUNCTION dingsync_check_department_fields(p_corp text, p_fields jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE f text; v jsonb;
BEGIN
  IF jsonb_typeof(p_fields) IS DISTINCT FROM 'object' OR p_fields = '{}' THEN
    RAISE EXCEPTION 'no department field given' USING HINT = 'pass a JSON object, e.g. {"name": "华东大区", "parent_id": 1}';
  END IF;
  FOR f, v IN SELECT key, value FROM jsonb_each(p_fields) LOOP
    CASE f
    WHEN 'name' THEN
      IF jsonb_typeof(v) <> 'string' OR btrim(v #>> '{}') = '' OR char_length(v #>> '{}') > 64 OR (v #>> '{}') ~ '[-,，]' THEN
        RAISE EXCEPTION 'department name % is not one DingTalk accepts', v
          USING HINT = 'use 1 to 64 characters without ''-'', '','' or ''，''';
      END IF;
    WHEN 'parent_id' THEN
      IF jsonb_typeof(v) <> 'number' OR NOT EXISTS (SELECT 1 FROM departments
          WHERE corp_id = p_corp AND dept_id = v::text::bigint AND status = 'active') THEN
        RAISE EXCEPTION 'parent_id % is not an active department of corp %', v, p_corp
          USING HINT = 'look the id up in departments (1 is the root)';
      END IF;
    WHEN 'order' THEN
      IF jsonb_typeof(v) <> 'number' THEN
        RAISE EXCEPTION 'order must be a number, not %', v USING HINT = 'smaller orders come first among siblings';
      END IF;
    ELSE
      RAISE EXCEPTION 'department field % cannot be written from the eHR', f USING HINT = 'write name, parent_id and order';
    END CASE;
  END LOOP;
END $$;
-- +goose StatementEnd

-- dingsync_department_create queues a new department (name and parent_id required, order
-- optional) for DingTalk's department/create and returns the write's id; the same key returns
-- the first call's write, and a create retried after a timeout adopts the department an
-- earlier attempt made (same name under the same parent).
-- +goose StatementBegin
CREATE FUNCTION dingsync_department_create(p_corp text, p_fields jsonb, p_actor text, p_key text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE wid bigint;
BEGIN
  IF coalesce(p_actor, '') = '' OR coalesce(p_key, '') = '' THEN
    RAISE EXCEPTION 'a department create needs an actor and an idempotency key'
      USING HINT = 'pass who creates it and a key unique to this department (e.g. the eHR''s org unit id)';
  END IF;
  SELECT id INTO wid FROM ehr_writes WHERE corp_id = p_corp AND idempotency_key = p_key;
  IF FOUND THEN RETURN wid; END IF;
  PERFORM 1 FROM bindings WHERE corp_id = p_corp;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'corp % is not bound', p_corp USING HINT = 'check the corp id with starter status, or bind it: starter bind';
  END IF;
  PERFORM dingsync_check_department_fields(p_corp, p_fields);
  IF NOT (p_fields ? 'name' AND p_fields ? 'parent_id') THEN
    RAISE EXCEPTION 'a new department needs a name and a parent_id' USING HINT = 'e.g. {"name": "华东大区", "parent_id": 1}';
  END IF;
  INSERT INTO ehr_writes (corp_id, userid, op, fields, idempotency_key, actor)
  VALUES (p_corp, '', 'dept_create', p_fields, p_key, p_actor)
  RETURNING id INTO wid;
  PERFORM pg_notify('dingsync_ehr_writes', p_corp);
  RETURN wid;
END $$;
-- +goose StatementEnd

-- dingsync_department_update queues a rename, move (parent_id) or reorder of an active
-- department for DingTalk's department/update and returns the write's id; the same key returns
-- the first call's write. A move under the department itself or its own subtree is refused.
-- +goose StatementBegin
CREATE FUNCTION dingsync_department_update(p_corp text, p_dept bigint, p_changes jsonb, p_actor text, p_key text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE wid bigint;
BEGIN
  IF coalesce(p_actor, '') = '' THEN
    RAISE EXCEPTION 'an eHR edit needs an actor' USING HINT = 'pass who makes the change: it is recorded with the write';
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT id INTO wid FROM ehr_writes WHERE corp_id = p_corp AND idempotency_key = p_key;
    IF FOUND THEN RETURN wid; END IF;
  END IF;
  PERFORM 1 FROM bindings WHERE corp_id = p_corp;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'corp % is not bound', p_corp USING HINT = 'check the corp id with starter status, or bind it: starter bind';
  END IF;
  PERFORM 1 FROM departments WHERE corp_id = p_corp AND dept_id = p_dept AND status = 'active';
  IF NOT FOUND OR p_dept = 1 THEN
    RAISE EXCEPTION 'corp % has no department % the eHR may change', p_corp, p_dept
      USING HINT = 'look the id up in departments; the root (1) is changed in the DingTalk admin console';
  END IF;
  PERFORM dingsync_check_department_fields(p_corp, p_changes);
  IF p_changes ? 'parent_id' AND (p_changes ->> 'parent_id')::bigint IN (
      WITH RECURSIVE subtree AS (
        SELECT dept_id FROM departments WHERE corp_id = p_corp AND dept_id = p_dept
        UNION SELECT d.dept_id FROM departments d JOIN subtree s ON d.parent_id = s.dept_id
        WHERE d.corp_id = p_corp AND d.status = 'active')
      SELECT dept_id FROM subtree) THEN
    RAISE EXCEPTION 'department % cannot move under itself or its own sub-department %', p_dept, p_changes ->> 'parent_id'
      USING HINT = 'choose a parent outside the department''s subtree';
  END IF;
  INSERT INTO ehr_writes (corp_id, userid, dept_id, op, fields, idempotency_key, actor)
  VALUES (p_corp, '', p_dept, 'dept_update', p_changes, coalesce(p_key, 'dept-edit/' || gen_random_uuid()), p_actor)
  RETURNING id INTO wid;
  PERFORM pg_notify('dingsync_ehr_writes', p_corp);
  RETURN wid;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION dingsync_department_update(text, bigint, jsonb, text, text);
DROP FUNCTION dingsync_department_create(text, jsonb, text, text);
DROP FUNCTION dingsync_check_department_fields(text, jsonb);
DELETE FROM ehr_writes WHERE op IN ('dept_create', 'dept_update');
ALTER TABLE ehr_writes DROP CONSTRAINT ehr_writes_op_check;
ALTER TABLE ehr_writes ADD CONSTRAINT ehr_writes_op_check CHECK (op IN ('update', 'create'));
ALTER TABLE ehr_writes DROP COLUMN dept_id;
