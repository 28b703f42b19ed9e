package store

import (
	"context"
	"encoding/json"
)

// QueueDepartmentCreate queues a department made in the eHR (name and parent_id required, order
// optional) for DingTalk through dingsync_department_create and returns the write's id; the
// same key returns the first call's write. The department enters the store when DingTalk
// reports it.
func (s *Store) QueueDepartmentCreate(ctx context.Context, corpID string, fields map[string]any, actor, key string) (int64, error) {
	raw, err := json.Marshal(fields)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.GetContext(ctx, &id, `SELECT dingsync_department_create($1, $2, $3, $4)`, corpID, raw, actor, key)
	return id, withHint(err)
}

// QueueDepartmentUpdate queues a rename, move or reorder of deptID made in the eHR through
// dingsync_department_update and returns the write's id; a non-empty key makes a retried call
// return the first call's write. The store changes when DingTalk reports the change.
func (s *Store) QueueDepartmentUpdate(ctx context.Context, corpID string, deptID int64, changes map[string]any, actor, key string) (int64, error) {
	raw, err := json.Marshal(changes)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.GetContext(ctx, &id, `SELECT dingsync_department_update($1, $2, $3, $4, nullif($5, ''))`, corpID, deptID, raw, actor, key)
	return id, withHint(err)
}
