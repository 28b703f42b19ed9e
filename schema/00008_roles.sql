-- eHR roles derived from DingTalk facts by per-binding rules (org admins, department leaders,
-- everyone) plus explicit grants; each role row names the rule that granted it.

-- +goose Up
ALTER TABLE bindings ADD COLUMN role_rules jsonb NOT NULL
    DEFAULT '{"org_admin": "hr_admin", "leader_in_dept": "manager", "everyone": "self_service"}';

-- Grants made by hand (starter roles grant), kept while the employee is active.
CREATE TABLE role_grants (
    corp_id       text NOT NULL,
    userid        text NOT NULL,
    role          text NOT NULL,
    scope_dept_id bigint NOT NULL DEFAULT 0, -- 0: the whole org; else that department's subtree
    granted_by    text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, userid, role, scope_dept_id)
);

-- Every role an active employee holds now, with the rule that granted it. Rewritten for an
-- employee in the same transaction that changes them; a leaver holds none.
CREATE TABLE employee_roles (
    corp_id       text NOT NULL,
    userid        text NOT NULL,
    role          text NOT NULL,
    scope_dept_id bigint NOT NULL DEFAULT 0, -- 0: the whole org; else that department's subtree
    rule          text NOT NULL CHECK (rule IN ('org_admin', 'leader_in_dept', 'everyone', 'grant')),
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (corp_id, userid, role, scope_dept_id)
);
CREATE INDEX employee_roles_role ON employee_roles (corp_id, role);

-- +goose Down
DROP TABLE employee_roles, role_grants;
ALTER TABLE bindings DROP COLUMN role_rules;
