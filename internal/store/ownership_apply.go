package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// applyOwnershipSteps keep, in an apply, the eHR's values of the fields it owns. For each
// staged employee already in the store and each eHR-owned field they compare DingTalk's
// value (staged), the eHR's (stored) and the last agreed one (employee_field_state):
//   - DingTalk's equals the eHR's: in step; the agreed value becomes it;
//   - they differ while a write of that field waits to be pushed: the push is on its way;
//   - they differ and DingTalk changed since the last agreement: the owner wins. The conflict
//     is recorded (both_changed when the eHR changed too) and a write is queued that puts the
//     eHR's value back in DingTalk.
//
// Either way the apply stores the eHR's value, so the record's hash stays as the eHR left it.
// Employees new to the store take DingTalk's values, which become the agreed ones.
var applyOwnershipSteps = []string{
	`CREATE TEMP TABLE apply_owned ON COMMIT DROP AS
	 SELECT a.userid, f AS field, a.attrs -> f AS dingtalk, e.attrs -> f AS ehr, st.synced AS base,
	        e.userid IS NOT NULL AS stored,
	        EXISTS (SELECT 1 FROM ehr_writes w WHERE w.corp_id = $1 AND w.userid = a.userid
	                AND w.status = 'pending' AND w.fields ? f) AS pushing
	 FROM apply_employees a CROSS JOIN unnest($2::text[]) f
	 LEFT JOIN employees e ON e.corp_id = $1 AND e.userid = a.userid AND e.status = 'active'
	 LEFT JOIN employee_field_state st ON st.corp_id = $1 AND st.userid = a.userid AND st.field = f`,
	`INSERT INTO field_conflicts (corp_id, userid, field, base, ehr_value, dingtalk_value, both_changed, winner, found_by)
	 SELECT $2, userid, field, base, ehr, dingtalk, ehr IS DISTINCT FROM base, 'ehr', 'sync run ' || $1::bigint
	 FROM apply_owned WHERE stored AND NOT pushing AND dingtalk IS DISTINCT FROM ehr AND dingtalk IS DISTINCT FROM base`,
	`INSERT INTO ehr_writes (corp_id, userid, op, fields, base, idempotency_key, actor)
	 SELECT $2, userid, 'update', jsonb_object_agg(field, ehr), jsonb_object_agg(field, dingtalk),
	        'owner-wins/' || $1::bigint || '/' || userid, 'dingsync (the eHR owns these fields)'
	 FROM apply_owned WHERE stored AND NOT pushing AND dingtalk IS DISTINCT FROM ehr AND dingtalk IS DISTINCT FROM base
	 GROUP BY userid
	 ON CONFLICT (corp_id, idempotency_key) DO NOTHING`,
	`UPDATE apply_employees a SET attrs = a.attrs || o.ehr, hash = md5((a.attrs || o.ehr)::text)
	 FROM (SELECT userid, jsonb_object_agg(field, ehr) AS ehr FROM apply_owned
	       WHERE stored AND dingtalk IS DISTINCT FROM ehr GROUP BY userid) o
	 WHERE a.userid = o.userid`,
	`INSERT INTO employee_field_state (corp_id, userid, field, synced)
	 SELECT $1, userid, field, dingtalk FROM apply_owned
	 WHERE NOT stored OR dingtalk IS NOT DISTINCT FROM ehr
	 ON CONFLICT (corp_id, userid, field) DO UPDATE SET synced = EXCLUDED.synced
	 WHERE employee_field_state.synced IS DISTINCT FROM EXCLUDED.synced`,
}

// queueWritesStep is the step of applyOwnershipSteps that queues owner-wins writes.
const queueWritesStep = 2

// applyOwnership runs applyOwnershipSteps when the binding gives the eHR any field, and wakes
// the push of the writes it queued.
func applyOwnership(ctx context.Context, tx *sqlx.Tx, runID int64, corpID string) error {
	owned, err := ownedFieldsIn(ctx, tx, corpID)
	if err != nil || len(owned) == 0 {
		return err
	}
	args := [][]any{{corpID, pq.Array(owned)}, {runID, corpID}, {runID, corpID}, nil, {corpID}}
	queued := int64(0)
	for i, step := range applyOwnershipSteps {
		res, err := tx.ExecContext(ctx, step, args[i]...)
		if err != nil {
			return fmt.Errorf("keep the eHR's fields: %w", err)
		}
		if i == queueWritesStep {
			queued, _ = res.RowsAffected()
		}
	}
	if queued == 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, `SELECT pg_notify('dingsync_ehr_writes', $1)`, corpID)
	return err
}
