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

	"github.com/dingsync/dingsync/internal/fieldmap"
)

// RosterPlan is what a sync must read from DingTalk's smart-HR roster for a corp: the roster
// field codes its mapping reads (none: no roster call at all) and the app's AgentId, which the
// roster API requires.
type RosterPlan struct {
	Codes   []string
	AgentID int64
}

// RosterPlan returns what syncs of corpID must read from the roster.
func (s *Store) RosterPlan(ctx context.Context, corpID string) (RosterPlan, error) {
	return rosterPlan(ctx, s.db, corpID)
}

func rosterPlan(ctx context.Context, q sqlx.QueryerContext, corpID string) (RosterPlan, error) {
	var row struct {
		AgentID sql.NullInt64 `db:"agent_id"`
		Mapping []byte        `db:"field_mapping"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT agent_id, field_mapping FROM bindings WHERE corp_id = $1`, corpID)
	if errors.Is(err, sql.ErrNoRows) {
		return RosterPlan{}, UnknownCorpError(corpID)
	}
	if err != nil {
		return RosterPlan{}, fmt.Errorf("corp %s: read the roster plan: %w", corpID, err)
	}
	var m fieldmap.Mapping
	if err := json.Unmarshal(row.Mapping, &m); err != nil {
		return RosterPlan{}, fmt.Errorf("corp %s: stored field mapping: %w", corpID, err)
	}
	return RosterPlan{Codes: m.RosterCodes(), AgentID: row.AgentID.Int64}, nil
}

// checkRosterBinding refuses a mapping m reading roster fields for a binding without AgentId
// and returns the roster codes the corp's current mapping does not read yet. It runs under the
// corp's write lock, so the current mapping cannot change meanwhile.
func checkRosterBinding(ctx context.Context, tx *sqlx.Tx, corpID string, m fieldmap.Mapping) ([]string, error) {
	current, err := rosterPlan(ctx, tx, corpID)
	if err != nil {
		return nil, err
	}
	codes := m.RosterCodes()
	if len(codes) == 0 {
		return nil, nil
	}
	if current.AgentID <= 0 {
		return nil, fmt.Errorf("corp %s: the mapping reads roster fields (%s): %w, which DingTalk's roster API requires: "+
			"rebind with `starter bind --corp-id %s --agent-id <AgentId> ...` (the AgentId from the app's 凭证与基础信息 page), "+
			"then set the mapping again", corpID, strings.Join(codes, ", "), ErrRosterNeedsAgentID, corpID)
	}
	if codes = slices.DeleteFunc(codes, func(c string) bool { return slices.Contains(current.Codes, c) }); len(codes) == 0 {
		return nil, nil
	}
	return codes, nil
}

// rosterSubset is the values of codes in all (nil when none is there).
func rosterSubset(all map[string]string, codes []string) map[string]string {
	var out map[string]string
	for _, c := range codes {
		if v, ok := all[c]; ok {
			if out == nil {
				out = make(map[string]string, len(codes))
			}
			out[c] = v
		}
	}
	return out
}

// stagedProfile is the profile a staged user is stored with: their roster values as read, or
// the stored ones (kept) when the roster read failed, then the mapping's custom fields.
func stagedProfile(m fieldmap.Mapping, u StagedUser, kept map[string]map[string]string) (EmployeeProfile, error) {
	p := ProfileFromUser(u.User)
	p.Roster = u.Roster
	if u.RosterUnread {
		p.Roster = kept[u.User.UserID]
	}
	return withCustomFields(m, p)
}

// storedRoster returns the stored roster values of the users whose roster read failed, so a
// failed read keeps what the store holds rather than emptying their roster custom fields.
func storedRoster(ctx context.Context, tx *sqlx.Tx, corpID string, users []StagedUser) (map[string]map[string]string, error) {
	var ids []string
	for _, u := range users {
		if u.RosterUnread {
			ids = append(ids, u.User.UserID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []struct {
		UserID string `db:"userid"`
		Roster []byte `db:"roster"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT userid, attrs -> 'roster' AS roster FROM employees
		WHERE corp_id = $1 AND userid = ANY($2) AND attrs ? 'roster'`, corpID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("read the stored roster values of %d employees: %w", len(ids), err)
	}
	kept := make(map[string]map[string]string, len(rows))
	for _, r := range rows {
		var vals map[string]string
		if err := json.Unmarshal(r.Roster, &vals); err != nil {
			return nil, fmt.Errorf("employee %s: stored roster values: %w", r.UserID, err)
		}
		kept[r.UserID] = vals
	}
	return kept, nil
}
