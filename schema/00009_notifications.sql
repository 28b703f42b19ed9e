-- Work notifications to HR admins, as an outbox: activities write a row where the event
-- happens (a failed run, a quarantined binding, invalid credentials, deletions held for
-- approval, audit drift), once per dedupe key, and the worker's sender delivers it with
-- DingTalk's asyncsend_v2 and records, per recipient, what getsendresult says.

-- +goose Up
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    corp_id         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('run_failed', 'binding_quarantined', 'deletions_awaiting',
                                                  'audit_drift', 'credentials_invalid')),
    -- What makes the event one event (e.g. the run id), so a retried activity writes it once.
    dedupe_key      text NOT NULL,
    message         text NOT NULL CHECK (octet_length(message) BETWEEN 1 AND 2048),
    -- pending: not sent yet; sent: DingTalk accepted it (checked_at: its result is known);
    -- failed: it cannot be sent (reason says why); dropped: held back or dropped by a limit.
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    reason          text NOT NULL DEFAULT '',
    -- The userids resolved from the binding's settings at send time.
    recipients      text[] NOT NULL DEFAULT '{}',
    -- Per recipient: {"status": held|sent|read|unread|invalid|forbidden|failed, "code", "task_id", "detail"}.
    results         jsonb NOT NULL DEFAULT '{}',
    agent_id        bigint,
    -- DingTalk's task ids: one per asyncsend_v2 call of at most 100 userids.
    task_ids        bigint[] NOT NULL DEFAULT '{}',
    attempts        integer NOT NULL DEFAULT 0,
    result_checks   integer NOT NULL DEFAULT 0,
    -- When the sender next looks at it: to send (pending) or to check the result (sent).
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    checked_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (corp_id, dedupe_key)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status = 'pending' OR (status = 'sent' AND checked_at IS NULL);
CREATE INDEX notifications_corp ON notifications (corp_id, created_at DESC);
CREATE INDEX notifications_sent ON notifications (corp_id, sent_at) WHERE sent_at IS NOT NULL;

-- Who gets a corp's notifications. No row: on, to the hr_admins, every kind.
CREATE TABLE notification_settings (
    corp_id    text PRIMARY KEY REFERENCES bindings (corp_id),
    enabled    boolean NOT NULL DEFAULT true,
    -- userids, and/or "hr_admins": the employees holding the hr_admin role (employee_roles).
    recipients text[] NOT NULL DEFAULT '{hr_admins}',
    kinds      text[] NOT NULL DEFAULT '{run_failed,binding_quarantined,deletions_awaiting,audit_drift,credentials_invalid}',
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE notification_settings, notifications;
