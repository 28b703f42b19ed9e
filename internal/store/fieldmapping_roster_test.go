package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/internal/store"
)

func rosterMapping(t *testing.T) fieldmap.Mapping {
	t.Helper()
	m, err := fieldmap.Parse([]byte(`{"fields": [{"name": "cert_no", "from": "roster.sys02-certNo", "type": "string"},
		{"name": "phone", "from": "mobile", "type": "string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestARosterMappingNeedsTheAgentIDAndSaysWhatASyncMustFetch(t *testing.T) {
	ctx := context.Background()
	st, _ := syncedStore(t, 5)
	m := rosterMapping(t)
	_, err := st.SetFieldMapping(ctx, "corp1", "alice", m)
	if !errors.Is(err, store.ErrRosterNeedsAgentID) || !strings.Contains(err.Error(), "--agent-id") {
		t.Fatalf("a roster mapping without AgentId: %v, want ErrRosterNeedsAgentID naming --agent-id", err)
	}
	if plan, err := st.RosterPlan(ctx, "corp1"); err != nil || plan.Codes != nil {
		t.Fatalf("after the refusal the roster plan is %+v, %v: want no codes", plan, err)
	}
	if _, err := st.DB().Exec(`UPDATE bindings SET agent_id = 42 WHERE corp_id = 'corp1'`); err != nil {
		t.Fatal(err)
	}
	res, err := st.SetFieldMapping(ctx, "corp1", "alice", m)
	if err != nil || !slices.Equal(res.NewRosterCodes, []string{"sys02-certNo"}) {
		t.Fatalf("set: %+v, %v: want sys02-certNo reported as new", res, err)
	}
	if again, err := st.SetFieldMapping(ctx, "corp1", "alice", m); err != nil || again.NewRosterCodes != nil {
		t.Fatalf("set again: %+v, %v: want no new roster codes", again, err)
	}
	plan, err := st.RosterPlan(ctx, "corp1")
	if err != nil || plan.AgentID != 42 || !slices.Equal(plan.Codes, []string{"sys02-certNo"}) {
		t.Fatalf("roster plan %+v, %v", plan, err)
	}
}

func TestStagedRosterValuesBecomeCustomFieldsAndAFailedReadKeepsThem(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 3)
	var before string
	if err := st.DB().Get(&before, `SELECT source_hash FROM employees WHERE corp_id = 'corp1' AND userid = $1`, o.users[0].User.UserID); err != nil {
		t.Fatal(err)
	}
	// Without a roster mapping, roster values a stage carries are not stored: profiles and hashes stay.
	o.users[0].Roster = map[string]string{"sys02-certNo": "110101199001011234"}
	run := startRun(t, st, "r2")
	o.stage(t, st, run, nil)
	if applied, err := st.Apply(ctx, run, store.DeletionsGuarded); err != nil || applied.Updated != 0 {
		t.Fatalf("roster values without a roster mapping: %+v, %v: want nothing changed", applied, err)
	}
	if _, err := st.DB().Exec(`UPDATE bindings SET agent_id = 42 WHERE corp_id = 'corp1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetFieldMapping(ctx, "corp1", "alice", rosterMapping(t)); err != nil {
		t.Fatal(err)
	}
	o.users[0].Roster = map[string]string{"sys02-certNo": "110101199001011234", "sys00-name": "not mapped"}
	run = startRun(t, st, "r3")
	o.stage(t, st, run, nil)
	if _, err := st.Apply(ctx, run, store.DeletionsGuarded); err != nil {
		t.Fatal(err)
	}
	certNo := func() (string, string) {
		var row struct {
			CertNo string `db:"cert_no"`
			Roster string `db:"roster"`
		}
		if err := st.DB().Get(&row, `SELECT coalesce(attrs -> 'custom_fields' ->> 'cert_no', '') AS cert_no,
			coalesce(attrs ->> 'roster', '') AS roster FROM employees WHERE corp_id = 'corp1' AND userid = $1`, o.users[0].User.UserID); err != nil {
			t.Fatal(err)
		}
		return row.CertNo, row.Roster
	}
	if got, roster := certNo(); got != "110101199001011234" || strings.Contains(roster, "sys00-name") {
		t.Fatalf("cert_no %q, stored roster %s: want the staged value, and only the mapped code stored", got, roster)
	}
	// A failed roster read keeps the stored values.
	o.users[0].Roster, o.users[0].RosterUnread = nil, true
	run = startRun(t, st, "r4")
	o.stage(t, st, run, nil)
	if applied, err := st.Apply(ctx, run, store.DeletionsGuarded); err != nil || applied.Updated != 0 {
		t.Fatalf("a run whose roster read failed: %+v, %v: want nothing changed", applied, err)
	}
	if got, _ := certNo(); got != "110101199001011234" {
		t.Fatalf("after a failed roster read cert_no is %q", got)
	}
}
