-- Binding a company: the permission diagnosis, the callback registration, pre-binding
-- snapshots of the HR rows, and one-time OAuth states for admin consent.

-- +goose Up
ALTER TABLE bindings
    ADD COLUMN callback_url   text,
    ADD COLUMN permissions    jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN verified_at    timestamptz,
    ADD COLUMN status_reason  text;

-- A snapshot is a copy of a corp's HR rows taken before binding changes them.
CREATE TABLE hr_snapshots (
    id          bigserial PRIMARY KEY,
    corp_id     text NOT NULL,
    reason      text NOT NULL,
    employees   integer NOT NULL,
    departments integer NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hr_snapshots_corp ON hr_snapshots (corp_id, taken_at DESC);

CREATE TABLE snapshot_departments (
    snapshot_id bigint NOT NULL REFERENCES hr_snapshots (id) ON DELETE CASCADE,
    dept_id     bigint NOT NULL,
    attrs       jsonb NOT NULL,
    status      text NOT NULL,
    removed_at  timestamptz,
    source_hash text NOT NULL,
    last_run_id bigint NOT NULL,
    PRIMARY KEY (snapshot_id, dept_id)
);

CREATE TABLE snapshot_employees (
    snapshot_id bigint NOT NULL REFERENCES hr_snapshots (id) ON DELETE CASCADE,
    userid      text NOT NULL,
    attrs       jsonb NOT NULL,
    status      text NOT NULL,
    left_at     timestamptz,
    source_hash text NOT NULL,
    last_run_id bigint NOT NULL,
    PRIMARY KEY (snapshot_id, userid)
);

CREATE TABLE snapshot_memberships (
    snapshot_id bigint NOT NULL REFERENCES hr_snapshots (id) ON DELETE CASCADE,
    userid      text NOT NULL,
    dept_id     bigint NOT NULL,
    dept_order  bigint NOT NULL,
    is_leader   boolean NOT NULL,
    PRIMARY KEY (snapshot_id, userid, dept_id)
);

-- One-time OAuth states: only a hash of the state is kept, and the authorization code the
-- redirect brings is sealed like a credential, so neither reaches workflow history.
CREATE TABLE oauth_states (
    state_hash  text PRIMARY KEY,
    corp_id     text NOT NULL REFERENCES bindings (corp_id),
    workflow_id text NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    code_sealed bytea,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE oauth_states, snapshot_memberships, snapshot_employees, snapshot_departments, hr_snapshots;
ALTER TABLE bindings DROP COLUMN callback_url, DROP COLUMN permissions, DROP COLUMN verified_at,
    DROP COLUMN status_reason;
