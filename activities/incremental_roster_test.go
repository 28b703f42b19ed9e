package activities_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

func TestAnIncrementalReReadFetchesTheMappedRosterFieldsOnlyWhenMapped(t *testing.T) {
	ctx := context.Background()
	const corp = "dingincroster"
	opts := dingtalksim.DefaultOptions()
	opts.Limits = dingtalksim.Limits{}
	sim := dingtalksim.New(opts)
	if err := sim.LoadOrg(dingtalksim.GenerateOrg(corp, dingtalksim.OrgSpec{Seed: 4, Employees: 12})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: corp, AppKey: "k", AppSecret: "s", AgentID: 9}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	st := testenv.NewStore(t)
	if _, err := st.Bind(ctx, store.BindInput{CorpID: corp, AppKey: "k", AgentID: 9, Actor: "test",
		SealSecret: func(string) ([]byte, error) { return []byte("sealed"), nil }}); err != nil {
		t.Fatal(err)
	}
	a := &activities.Incremental{Store: st, DingTalk: dingtalk.New(dingtalk.Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL})}
	app := dingtalk.App{CorpID: corp, AppKey: "k", AppSecret: "s"}
	users := sim.Truth(corp).Users
	ids := []string{users[0].UserID, users[5].UserID}

	batch, err := activities.ReadUsers(ctx, a, app, ids)
	if err != nil || len(batch.Users) == 0 || batch.Users[0].Roster != nil {
		t.Fatalf("without a roster mapping: %+v, %v", batch.Users, err)
	}
	if n := sim.Calls(corp)[dingtalksim.APIRosterQuery]; n != 0 {
		t.Fatalf("%d roster calls without roster fields in the mapping", n)
	}

	m, err := fieldmap.Parse([]byte(`{"fields": [{"name": "cert_no", "from": "roster.sys02-certNo", "type": "string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetFieldMapping(ctx, corp, "test", m); err != nil {
		t.Fatal(err)
	}
	batch, err = activities.ReadUsers(ctx, a, app, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range batch.Users {
		want, _ := sim.Roster(corp, u.User.UserID)
		if u.RosterUnread || u.Roster[dingtalksim.RosterCertNo] != want[dingtalksim.RosterCertNo] || len(u.Roster) != 1 {
			t.Fatalf("staged %s with roster %v, the simulator holds %s", u.User.UserID, u.Roster, want[dingtalksim.RosterCertNo])
		}
	}
	if n := sim.Calls(corp)[dingtalksim.APIRosterQuery]; n != 1 {
		t.Fatalf("%d roster calls for two re-read users, want 1", n)
	}
}
