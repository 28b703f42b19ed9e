-- Rate leases: which worker processes are calling DingTalk for a (corp, API) right now, so each
-- takes an equal share of DingTalk's per-app per-API limit (internal/sharedlimit).

-- +goose Up
CREATE UNLOGGED TABLE rate_leases (
    corp_id    text NOT NULL,
    api        text NOT NULL,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (corp_id, api, holder)
);

-- +goose Down
DROP TABLE rate_leases;
