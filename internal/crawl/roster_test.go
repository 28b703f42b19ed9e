package crawl_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/crawl"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

const rosterCorp = "dingrostercorp"

// rosterEnv is a simulated corp of 150 employees, bound with AgentId 7 to an app holding the
// given permissions (nil: all), and a store whose mapping reads roster.sys02-certNo.
type rosterEnv struct {
	sim *dingtalksim.Server
	st  *store.Store
	dt  *dingtalk.Client
	app dingtalk.App
}

func newRosterEnv(t *testing.T, perms []string) rosterEnv {
	t.Helper()
	ctx := context.Background()
	opts := dingtalksim.DefaultOptions()
	opts.Limits = dingtalksim.Limits{}
	sim := dingtalksim.New(opts)
	if err := sim.LoadOrg(dingtalksim.GenerateOrg(rosterCorp, dingtalksim.OrgSpec{Seed: 3, Employees: 150, MultiDeptRatio: 0.2})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: rosterCorp, AppKey: "rosterkey", AppSecret: "s", AgentID: 7, Permissions: perms}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	st := testenv.NewStore(t)
	if _, err := st.Bind(ctx, store.BindInput{CorpID: rosterCorp, AppKey: "rosterkey", AgentID: 7, Actor: "test",
		SealSecret: func(string) ([]byte, error) { return []byte("sealed"), nil }}); err != nil {
		t.Fatal(err)
	}
	m, err := fieldmap.Parse([]byte(`{"fields": [{"name": "cert_no", "from": "roster.sys02-certNo", "type": "string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetFieldMapping(ctx, rosterCorp, "test", m); err != nil {
		t.Fatal(err)
	}
	return rosterEnv{sim: sim, st: st, dt: dingtalk.New(dingtalk.Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL}),
		app: dingtalk.App{CorpID: rosterCorp, AppKey: "rosterkey", AppSecret: "s"}}
}

// fullSync crawls the org with the corp's roster plan and applies the run.
func (e rosterEnv) fullSync(t *testing.T, id string) (int64, crawl.Progress) {
	t.Helper()
	ctx := context.Background()
	run, err := e.st.StartRun(ctx, store.StartRunInput{CorpID: rosterCorp, Kind: "full", Trigger: "test",
		WorkflowID: "fullsync/" + rosterCorp, TemporalRunID: id})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := e.st.RosterPlan(ctx, rosterCorp)
	if err != nil {
		t.Fatal(err)
	}
	c := &crawl.Crawler{Source: e.dt, Sink: e.st, App: func() dingtalk.App { return e.app }, RunID: run,
		Roster: &crawl.Roster{Source: e.dt, Plan: plan}}
	p, err := c.Run(ctx, store.CrawlState{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Apply(ctx, run, store.DeletionsGuarded); err != nil {
		t.Fatal(err)
	}
	return run, p
}

// certNos are the employees' stored cert_no custom fields by userid.
func (e rosterEnv) certNos(t *testing.T) map[string]string {
	t.Helper()
	var rows []struct {
		UserID string `db:"userid"`
		CertNo string `db:"cert_no"`
	}
	if err := e.st.DB().Select(&rows, `SELECT userid, coalesce(attrs -> 'custom_fields' ->> 'cert_no', '') AS cert_no
		FROM employees WHERE corp_id = $1 AND status = 'active'`, rosterCorp); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.UserID] = r.CertNo
	}
	return out
}

func TestAFullSyncStoresTheMappedRosterFields(t *testing.T) {
	e := newRosterEnv(t, nil)
	e.fullSync(t, "r1")
	got := e.certNos(t)
	truth := e.sim.Truth(rosterCorp).Users
	if len(got) != len(truth) {
		t.Fatalf("%d employees stored, the simulator has %d", len(got), len(truth))
	}
	for _, u := range truth {
		want, _ := e.sim.Roster(rosterCorp, u.UserID)
		if got[u.UserID] == "" || got[u.UserID] != want[dingtalksim.RosterCertNo] {
			t.Fatalf("employee %s: custom_fields.cert_no %q, the simulator's roster holds %q", u.UserID, got[u.UserID], want[dingtalksim.RosterCertNo])
		}
	}
	// One roster call per flushed batch of up to 100 distinct users: 150 users take 2 or a few more.
	if n := e.sim.Calls(rosterCorp)[dingtalksim.APIRosterQuery]; n < 2 || n > 6 {
		t.Fatalf("%d roster calls for 150 employees", n)
	}

	// A roster change reaches the store with the next sync, and only that employee changes.
	who := truth[7].UserID
	if err := e.sim.SetRosterField(rosterCorp, who, dingtalksim.RosterCertNo, "11010119800101001X"); err != nil {
		t.Fatal(err)
	}
	run, _ := e.fullSync(t, "r2")
	if got := e.certNos(t)[who]; got != "11010119800101001X" {
		t.Fatalf("after the roster change cert_no is %q", got)
	}
	var changed []string
	if err := e.st.DB().Select(&changed, `SELECT record_id FROM sync_changes WHERE run_id = $1 AND entity = 'employee'`, run); err != nil ||
		len(changed) != 1 || changed[0] != who {
		t.Fatalf("the second sync changed %v (%v), want only %s", changed, err, who)
	}
}

func TestARosterPermissionRefusalIsRecordedAndKeepsStoredValues(t *testing.T) {
	e := newRosterEnv(t, nil)
	e.fullSync(t, "r1")
	before := e.certNos(t)
	// The app loses the roster permission.
	perms := []string{dingtalksim.PermDepartmentRead, dingtalksim.PermUserRead, dingtalksim.PermUserSensitive}
	if err := e.sim.AddApp(dingtalksim.App{CorpID: rosterCorp, AppKey: "rosterkey", AppSecret: "s", AgentID: 7, Permissions: perms}); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCalls()
	run, p := e.fullSync(t, "r2")
	var msgs []string
	if err := e.st.DB().Select(&msgs, `SELECT message FROM sync_errors WHERE run_id = $1 AND entity = 'roster' AND kind = 'permission'`, run); err != nil ||
		len(msgs) != 1 || !strings.Contains(msgs[0], "qyapi_smartwork_hrm") {
		t.Fatalf("recorded roster errors %v (%v): want one naming the permission", msgs, err)
	}
	if p.RosterErrors != 1 || p.RecordErrors != 0 {
		t.Fatalf("crawl progress %+v: want the roster refusal counted as one roster error, apart from the departments", p)
	}
	if n := e.sim.Calls(rosterCorp)[dingtalksim.APIRosterQuery]; n != 1 {
		t.Fatalf("%d roster calls after the refusal, want 1: the refusal stops further calls", n)
	}
	after := e.certNos(t)
	for id, v := range before {
		if after[id] != v {
			t.Fatalf("employee %s: cert_no %q became %q after a refused roster read", id, v, after[id])
		}
	}
}
