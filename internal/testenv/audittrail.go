package testenv

import (
	"context"
	"fmt"

	"github.com/dingsync/dingsync/internal/store"
)

// CheckAuditTrail lists every duplicated operation in corpID's audit trail (sync_changes):
// one run writing the same record and operation twice, a record created again while it was
// active (no deactivation between), deactivated while already inactive, reactivated while
// active, or updated while inactive. Each record's changes are replayed in the order they
// were written; a record's first change may be anything (it may predate the trail). An
// empty list means nothing was applied twice.
func CheckAuditTrail(ctx context.Context, st *store.Store, corpID string) ([]string, error) {
	var rows []struct {
		ID     int64  `db:"id"`
		RunID  int64  `db:"run_id"`
		Entity string `db:"entity"`
		Record string `db:"record_id"`
		Op     string `db:"op"`
	}
	if err := st.DB().SelectContext(ctx, &rows, `SELECT id, run_id, entity, record_id, op FROM sync_changes
		WHERE corp_id = $1 ORDER BY id`, corpID); err != nil {
		return nil, err
	}
	type key struct{ entity, record string }
	type runOp struct {
		key
		run int64
		op  string
	}
	active := map[key]bool{} // absent: no change seen yet
	seen := map[runOp]bool{}
	var problems []string
	for _, r := range rows {
		k := key{r.Entity, r.Record}
		ro := runOp{k, r.RunID, r.Op}
		if seen[ro] {
			problems = append(problems, fmt.Sprintf("run %d wrote %s %s %s twice", r.RunID, r.Op, r.Entity, r.Record))
		}
		seen[ro] = true
		wasActive, known := active[k]
		switch {
		case !known:
		case r.Op == "create" && wasActive:
			problems = append(problems, fmt.Sprintf("%s %s created again by run %d with no deactivation since its last change", r.Entity, r.Record, r.RunID))
		case r.Op == "deactivate" && !wasActive:
			problems = append(problems, fmt.Sprintf("%s %s deactivated again by run %d while inactive", r.Entity, r.Record, r.RunID))
		case r.Op == "reactivate" && wasActive:
			problems = append(problems, fmt.Sprintf("%s %s reactivated by run %d while active", r.Entity, r.Record, r.RunID))
		case r.Op == "update" && !wasActive:
			problems = append(problems, fmt.Sprintf("%s %s updated by run %d while inactive", r.Entity, r.Record, r.RunID))
		}
		active[k] = r.Op != "deactivate"
		if len(problems) >= 20 {
			problems = append(problems, "... (stopped at 20)")
			break
		}
	}
	return problems, nil
}

// RunsNotFinished lists corpID's sync runs still marked running, as "id kind phase".
func RunsNotFinished(ctx context.Context, st *store.Store, corpID string) ([]string, error) {
	var runs []string
	err := st.DB().SelectContext(ctx, &runs, `SELECT id || ' ' || kind || ' ' || phase FROM sync_runs
		WHERE corp_id = $1 AND status = 'running' ORDER BY id`, corpID)
	return runs, err
}
