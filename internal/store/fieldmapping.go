package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/dingsync/dingsync/internal/fieldmap"
)

// FieldMapping returns the corp's field mapping (no fields: none).
func (s *Store) FieldMapping(ctx context.Context, corpID string) (fieldmap.Mapping, error) {
	return fieldMapping(ctx, s.db, corpID)
}

func fieldMapping(ctx context.Context, q sqlx.QueryerContext, corpID string) (fieldmap.Mapping, error) {
	var raw []byte
	if err := sqlx.GetContext(ctx, q, &raw, `SELECT field_mapping FROM bindings WHERE corp_id = $1`, corpID); err != nil {
		return fieldmap.Mapping{}, fmt.Errorf("corp %s: read field mapping: %w", corpID, err)
	}
	var m fieldmap.Mapping
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("corp %s: stored field mapping: %w", corpID, err)
	}
	return m, nil
}

// withCustomFields keeps of the profile's roster values only the codes the mapping reads and
// adds the mapping's custom fields (unchanged without a mapping).
func withCustomFields(m fieldmap.Mapping, p EmployeeProfile) (EmployeeProfile, error) {
	p.Roster = rosterSubset(p.Roster, m.RosterCodes())
	if len(m.Fields) == 0 {
		return p, nil
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return p, err
	}
	var attrs map[string]any
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return p, err
	}
	p.CustomFields = m.Apply(attrs)
	return p, nil
}

// MappingResult is what a mapping change rewrote.
type MappingResult struct {
	RunID   int64 `json:"runId"`
	Checked int   `json:"checked"`
	Changed int   `json:"changed"`
	// NewRosterCodes are roster fields the previous mapping did not read: the store holds no
	// values for them, so their custom fields stay null until the next full sync reads them.
	NewRosterCodes []string `json:"newRosterCodes,omitempty"`
}

// ErrRosterNeedsAgentID refuses a mapping reading roster fields for a binding without AgentId.
var ErrRosterNeedsAgentID = errors.New("roster fields need the binding's AgentId")

// SetFieldMapping stores the corp's field mapping and, in the same transaction, rewrites the
// custom fields of every employee it changes, from their stored attributes (no DingTalk call):
// a run of kind mapping, each change in sync_changes. Setting the same mapping again changes
// nothing. Roster fields are read from DingTalk by syncs only: a mapping reading roster fields
// needs the binding's AgentId (ErrRosterNeedsAgentID without one), and codes it newly reads
// (NewRosterCodes) map to null until the next full sync.
func (s *Store) SetFieldMapping(ctx context.Context, corpID, actor string, m fieldmap.Mapping) (MappingResult, error) {
	if err := m.Validate(); err != nil {
		return MappingResult{}, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return MappingResult{}, err
	}
	var res MappingResult
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockCorpWrites(ctx, tx, corpID); err != nil {
			return err
		}
		newCodes, err := checkRosterBinding(ctx, tx, corpID, m)
		if err != nil {
			return err
		}
		res.NewRosterCodes = newCodes
		if _, err := tx.ExecContext(ctx, `UPDATE bindings SET field_mapping = $2, updated_at = now() WHERE corp_id = $1`, corpID, raw); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &res.RunID, startRunSQL, corpID, "mapping", "mapping",
			"mapping/"+corpID, fmt.Sprint(time.Now().UnixNano())); err != nil {
			return fmt.Errorf("record the mapping run: %w", err)
		}
		if err := remapEmployees(ctx, tx, corpID, res.RunID, m, &res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = 'succeeded', phase = 'done', applied_at = now(),
			finished_at = now(), employees_seen = $2, updated = $3 WHERE id = $1`, res.RunID, res.Checked, res.Changed); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "set field mapping", map[string]any{"fields": len(m.Fields),
			"run_id": res.RunID, "changed": res.Changed})
	})
	return res, err
}

const remapBatch = 2000

// remapEmployees rewrites the custom fields of the corp's active employees, a batch at a time.
func remapEmployees(ctx context.Context, tx *sqlx.Tx, corpID string, runID int64, m fieldmap.Mapping, res *MappingResult) error {
	after := ""
	for {
		var rows []struct {
			UserID string `db:"userid"`
			Attrs  []byte `db:"attrs"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT userid, attrs FROM employees WHERE corp_id = $1 AND status = 'active'
			AND userid > $2 ORDER BY userid LIMIT $3`, corpID, after, remapBatch); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		var ids []string
		var fields []string
		for _, r := range rows {
			var attrs map[string]any
			if err := json.Unmarshal(r.Attrs, &attrs); err != nil {
				return fmt.Errorf("employee %s: stored attributes: %w", r.UserID, err)
			}
			next := m.Apply(attrs)
			if reflect.DeepEqual(normalized(next), normalized(attrs["custom_fields"])) {
				continue
			}
			cf, err := json.Marshal(next)
			if err != nil {
				return err
			}
			ids, fields = append(ids, r.UserID), append(fields, string(cf))
		}
		res.Checked += len(rows)
		after = rows[len(rows)-1].UserID
		if len(ids) == 0 {
			continue
		}
		var n int
		if err := tx.GetContext(ctx, &n, remapSQL, corpID, runID, pq.Array(ids), pq.Array(fields)); err != nil {
			return fmt.Errorf("rewrite custom fields: %w", err)
		}
		res.Changed += n
	}
}

// normalized round-trips a value through JSON, so maps built in Go compare with decoded ones.
func normalized(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	if m, ok := out.(map[string]any); ok && len(m) == 0 {
		return nil
	}
	return out
}

// remapSQL sets custom_fields ($4, JSON per userid in $3; null removes them) and the hash of the
// new attributes, recording each change.
const remapSQL = `WITH v AS (
	  SELECT * FROM unnest($3::text[], $4::text[]) AS v(userid, cf)),
	old AS (
	  SELECT e.userid, e.attrs FROM employees e JOIN v USING (userid) WHERE e.corp_id = $1),
	up AS (
	  UPDATE employees e SET attrs = n.attrs, source_hash = md5(n.attrs::text), last_run_id = $2, updated_at = now()
	  FROM (SELECT old.userid, CASE WHEN v.cf::jsonb = 'null' THEN old.attrs - 'custom_fields'
	               ELSE jsonb_set(old.attrs, '{custom_fields}', v.cf::jsonb) END AS attrs
	        FROM old JOIN v USING (userid)) n
	  WHERE e.corp_id = $1 AND e.userid = n.userid
	  RETURNING e.userid, e.attrs),
	ch AS (
	  INSERT INTO sync_changes (run_id, corp_id, entity, record_id, op, changed_fields, before, after)
	  SELECT $2, $1, 'employee', up.userid, 'update', '{custom_fields}',
	    jsonb_build_object('custom_fields', old.attrs -> 'custom_fields'), jsonb_build_object('custom_fields', up.attrs -> 'custom_fields')
	  FROM up JOIN old USING (userid)
	  RETURNING 1)
	SELECT count(*) FROM ch`
