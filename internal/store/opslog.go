package store

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"
)

const insertOpSQL = `INSERT INTO ops_log (corp_id, actor, action, details) VALUES ($1, $2, $3, $4)`

// logOp records who did what to a corp, inside the transaction that did it.
func logOp(ctx context.Context, tx *sqlx.Tx, corpID, actor, action string, details map[string]any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertOpSQL, corpID, actor, action, raw)
	return err
}
