package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
)

// Sync levels: what of the org a binding syncs.
const (
	LevelOrg       = "org"       // the department tree only; employees are left as they are
	LevelEmployees = "employees" // departments and employees (the default)
)

// Scope is what of a corp's DingTalk org a binding syncs (bindings.scope): the department
// subtrees included (none: the whole org) minus those excluded, at a level.
type Scope struct {
	Include []int64 `json:"include,omitempty"`
	Exclude []int64 `json:"exclude,omitempty"`
	Level   string  `json:"level,omitempty"` // LevelOrg or LevelEmployees ("" = employees)
}

// Scan reads the jsonb column.
func (sc *Scope) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("scope: want jsonb bytes, got %T", src)
	}
	return json.Unmarshal(b, sc)
}

// Employees reports whether the scope syncs employees.
func (sc Scope) Employees() bool { return sc.Level != LevelOrg }

// Whole reports whether the scope is the whole org with its employees.
func (sc Scope) Whole() bool { return len(sc.Include) == 0 && len(sc.Exclude) == 0 && sc.Employees() }

// Roots are the departments a crawl of the scope starts from.
func (sc Scope) Roots() []int64 {
	if len(sc.Include) == 0 {
		return []int64{1}
	}
	return sc.Include
}

// Excluded reports whether deptID heads an excluded subtree.
func (sc Scope) Excluded(deptID int64) bool { return slices.Contains(sc.Exclude, deptID) }

// Validate refuses a scope that cannot mean anything.
func (sc Scope) Validate() error {
	if sc.Level != "" && sc.Level != LevelOrg && sc.Level != LevelEmployees {
		return fmt.Errorf("sync level %q: want %q (departments only) or %q (departments and employees)", sc.Level, LevelOrg, LevelEmployees)
	}
	for _, id := range append(slices.Clone(sc.Include), sc.Exclude...) {
		if id <= 0 {
			return fmt.Errorf("department id %d: DingTalk department ids are positive (1 is the root)", id)
		}
	}
	for _, id := range sc.Include {
		if sc.Excluded(id) {
			return fmt.Errorf("department %d is both included and excluded", id)
		}
	}
	return nil
}

// GetScope returns the corp's scope.
func (s *Store) GetScope(ctx context.Context, corpID string) (Scope, error) {
	var sc Scope
	if err := s.db.GetContext(ctx, &sc, `SELECT scope FROM bindings WHERE corp_id = $1`, corpID); err != nil {
		return sc, fmt.Errorf("corp %s: read scope: %w", corpID, err)
	}
	return sc, nil
}

// SetScope stores the corp's scope and logs who set it. What leaves the scope is deactivated by
// the next full sync, under the deletion guard.
func (s *Store) SetScope(ctx context.Context, corpID, actor string, sc Scope) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bindings SET scope = $2, updated_at = now() WHERE corp_id = $1`, corpID, raw)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return UnknownCorpError(corpID)
		}
		return logOp(ctx, tx, corpID, actor, "set scope", map[string]any{"scope": sc})
	})
}

// ActiveDepartmentIDs returns the corp's departments in the store: the scope as last synced.
func (s *Store) ActiveDepartmentIDs(ctx context.Context, corpID string) (map[int64]bool, error) {
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, `SELECT dept_id FROM departments WHERE corp_id = $1 AND status = 'active'`, corpID); err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
