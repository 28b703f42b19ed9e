package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Field owners: the side whose value of an employee field is the truth.
const (
	OwnerDingTalk = "dingtalk" // the default: DingTalk's value is copied to the store
	OwnerEHR      = "ehr"      // edited in the eHR (the store) and pushed to DingTalk
)

// OwnableFields are the employee fields the eHR may own: those DingTalk's user/update changes
// for any member. mobile stays DingTalk's (it is the member's login).
var OwnableFields = []string{"name", "title", "job_number", "email", "org_email", "telephone", "work_place", "remark", "hired_date"}

// FieldOwners maps the employee fields of a binding the eHR owns to OwnerEHR; every other
// field is DingTalk's.
type FieldOwners map[string]string

// Scan reads the jsonb column.
func (o *FieldOwners) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("field owners: want jsonb bytes, got %T", src)
	}
	return json.Unmarshal(b, o)
}

// Owner is the owner of field.
func (o FieldOwners) Owner(field string) string {
	if o[field] == OwnerEHR {
		return OwnerEHR
	}
	return OwnerDingTalk
}

// EHROwned lists the fields the eHR owns, sorted.
func (o FieldOwners) EHROwned() []string {
	var fields []string
	for f, owner := range o {
		if owner == OwnerEHR {
			fields = append(fields, f)
		}
	}
	slices.Sort(fields)
	return fields
}

// GetFieldOwners returns the binding's field owners.
func (s *Store) GetFieldOwners(ctx context.Context, corpID string) (FieldOwners, error) {
	owners := FieldOwners{}
	err := s.db.GetContext(ctx, &owners, `SELECT field_owners FROM bindings WHERE corp_id = $1`, corpID)
	return owners, notBound(err, corpID)
}

// ValidateOwnerChanges refuses a field the eHR may not own or an owner that is neither
// OwnerDingTalk nor OwnerEHR.
func ValidateOwnerChanges(changes map[string]string) error {
	if len(changes) == 0 {
		return errors.New("no field given: name one or more as field=ehr or field=dingtalk")
	}
	for f, owner := range changes {
		if !slices.Contains(OwnableFields, f) {
			return fmt.Errorf("field %q cannot be owned by the eHR: choose from %s", f, strings.Join(OwnableFields, ", "))
		}
		if owner != OwnerEHR && owner != OwnerDingTalk {
			return fmt.Errorf("owner %q of %s: want %s or %s", owner, f, OwnerEHR, OwnerDingTalk)
		}
	}
	return nil
}

// SetFieldOwners changes who owns the named fields and logs it. A field handed to the eHR
// starts from the values the store holds now: they are what both sides last agreed on (the
// base of later three-way comparisons).
func (s *Store) SetFieldOwners(ctx context.Context, corpID string, changes map[string]string, actor string) (FieldOwners, error) {
	if err := ValidateOwnerChanges(changes); err != nil {
		return nil, err
	}
	var owners FieldOwners
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		owners = FieldOwners{}
		if err := tx.GetContext(ctx, &owners, `SELECT field_owners FROM bindings WHERE corp_id = $1 FOR UPDATE`, corpID); err != nil {
			return notBound(err, corpID)
		}
		var handed []string
		for f, owner := range changes {
			if owner == OwnerEHR && owners.Owner(f) != OwnerEHR {
				handed = append(handed, f)
			}
			if owner == OwnerEHR {
				owners[f] = OwnerEHR
			} else {
				delete(owners, f)
			}
		}
		raw, err := json.Marshal(owners)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bindings SET field_owners = $2 WHERE corp_id = $1`, corpID, raw); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO employee_field_state (corp_id, userid, field, synced)
			SELECT e.corp_id, e.userid, f, e.attrs -> f FROM employees e, unnest($2::text[]) f
			WHERE e.corp_id = $1 AND e.status = 'active'
			ON CONFLICT (corp_id, userid, field) DO UPDATE SET synced = EXCLUDED.synced`, corpID, pq.Array(handed)); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "set field owners", map[string]any{"changes": changes, "owners": owners})
	})
	return owners, err
}

// UpdateEmployee changes eHR-owned fields of an employee in the store through
// dingsync_employee_update and returns the queued write's id (0 when the values were already
// these). A non-empty key makes a retried call return the first call's write.
func (s *Store) UpdateEmployee(ctx context.Context, corpID, userID string, changes map[string]any, actor, key string) (int64, error) {
	raw, err := json.Marshal(changes)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.GetContext(ctx, &id, `SELECT dingsync_employee_update($1, $2, $3, $4, nullif($5, ''))`, corpID, userID, raw, actor, key)
	return id, withHint(err)
}

// HireEmployee queues a new member for DingTalk through dingsync_employee_hire and returns
// the write's id; the same key returns the first call's write.
func (s *Store) HireEmployee(ctx context.Context, corpID string, fields map[string]any, actor, key string) (int64, error) {
	raw, err := json.Marshal(fields)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.GetContext(ctx, &id, `SELECT dingsync_employee_hire($1, $2, $3, $4)`, corpID, raw, actor, key)
	return id, withHint(err)
}

// withHint turns a refusal raised by a dingsync SQL function into an error naming the cause
// and the fix.
func withHint(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "P0001" { // raise_exception
		if pqErr.Hint != "" {
			return fmt.Errorf("%w: %s: %s", ErrRefused, pqErr.Message, pqErr.Hint)
		}
		return fmt.Errorf("%w: %s", ErrRefused, pqErr.Message)
	}
	return err
}

// ErrRefused is an eHR edit the store refused (a field DingTalk owns, a bad value, no such
// employee); the error says why and what to do.
var ErrRefused = errors.New("refused")

// notBound turns a missing binding row into UnknownCorpError.
func notBound(err error, corpID string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return UnknownCorpError(corpID)
	}
	return err
}
