package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/store"
)

// ownedStore is a synced store of 6 users in which the eHR owns title and work_place.
func ownedStore(t *testing.T) (*store.Store, org) {
	t.Helper()
	st, o := syncedStore(t, 6)
	if _, err := st.SetFieldOwners(context.Background(), "corp1", map[string]string{"title": "ehr", "work_place": "ehr"}, "test"); err != nil {
		t.Fatal(err)
	}
	return st, o
}

func TestEmployeeUpdateRefusesWhatTheEHRDoesNotOwn(t *testing.T) {
	ctx := context.Background()
	st, o := ownedStore(t)
	userID := o.users[0].User.UserID
	for _, c := range []struct {
		corp, userID string
		changes      map[string]any
		actor, want  string
	}{
		{"corp1", userID, map[string]any{"email": "a@b.c"}, "hr", "owned by DingTalk"},
		{"corp1", userID, map[string]any{"mobile": "13900000000"}, "hr", "cannot be written from the eHR"},
		{"corp1", userID, map[string]any{"title": 7}, "hr", "must be a string"},
		{"corp1", userID, map[string]any{}, "hr", "no change given"},
		{"corp1", "nobody", map[string]any{"title": "x"}, "hr", "no active employee nobody"},
		{"corp9", userID, map[string]any{"title": "x"}, "hr", "corp corp9 is not bound"},
		{"corp1", userID, map[string]any{"title": "x"}, "", "needs an actor"},
	} {
		_, err := st.UpdateEmployee(ctx, c.corp, c.userID, c.changes, c.actor, "")
		if !errors.Is(err, store.ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("update %v of %s/%s: %v, want a refusal naming %q", c.changes, c.corp, c.userID, err, c.want)
		}
	}
	var writes, edits int
	if err := st.DB().Get(&writes, `SELECT count(*) FROM ehr_writes`); err != nil || writes != 0 {
		t.Fatalf("%d writes queued by refused edits (%v)", writes, err)
	}
	if err := st.DB().Get(&edits, `SELECT count(*) FROM sync_runs WHERE kind = 'ehr_edit'`); err != nil || edits != 0 {
		t.Fatalf("%d edit runs left by refused edits (%v)", edits, err)
	}
}

func TestEmployeeUpdateRecordsAndQueuesOnce(t *testing.T) {
	ctx := context.Background()
	st, o := ownedStore(t)
	userID := o.users[1].User.UserID
	id, err := st.UpdateEmployee(ctx, "corp1", userID, map[string]any{"title": "HRBP"}, "alice", "hr-42")
	if err != nil || id == 0 {
		t.Fatalf("update = %d, %v", id, err)
	}
	again, err := st.UpdateEmployee(ctx, "corp1", userID, map[string]any{"title": "HRBP"}, "alice", "hr-42")
	if err != nil || again != id {
		t.Fatalf("the same key again = %d, %v; want write %d", again, err, id)
	}
	same, err := st.UpdateEmployee(ctx, "corp1", userID, map[string]any{"title": "HRBP"}, "alice", "")
	if err != nil || same != 0 {
		t.Fatalf("an edit to the values already held = %d, %v; want 0 (nothing to push)", same, err)
	}
	var title string
	if err := st.DB().Get(&title, `SELECT title FROM hr_employees WHERE corp_id = 'corp1' AND userid = $1`, userID); err != nil || title != "HRBP" {
		t.Fatalf("hr_employees.title = %q (%v)", title, err)
	}
	changes, err := st.ListChanges(ctx, store.ChangeFilter{CorpID: "corp1", RecordID: userID, Limit: 10})
	if err != nil || len(changes) != 2 || strings.Join(changes[1].ChangedFields, ",") != "title" {
		t.Fatalf("changes of %s = %+v (%v), want its create and the title edit", userID, changes, err)
	}
	w, err := st.GetEHRWrite(ctx, "corp1", id)
	if err != nil || w.Status != store.WritePending || string(w.Base) != `{"title": ""}` || w.Actor != "alice" {
		t.Fatalf("write = %+v (%v), want pending with the old title as base", w, err)
	}
	// The next sync reads DingTalk's old title: the eHR's edit stays, nothing else is queued.
	run := startRun(t, st, "r2")
	o.stage(t, st, run, nil)
	res, err := st.Apply(ctx, run, store.DeletionsGuarded)
	if err != nil || res.Updated != 0 {
		t.Fatalf("sync during the push = %+v, %v; want no update", res, err)
	}
	if err := st.DB().Get(&title, `SELECT title FROM hr_employees WHERE corp_id = 'corp1' AND userid = $1`, userID); err != nil || title != "HRBP" {
		t.Fatalf("after a sync, title = %q (%v), want the eHR's HRBP", title, err)
	}
	var queued int
	if err := st.DB().Get(&queued, `SELECT count(*) FROM ehr_writes`); err != nil || queued != 1 {
		t.Fatalf("%d writes queued, want the edit's only (%v)", queued, err)
	}
}

func TestSyncKeepsEHROwnedFieldAndRecordsConflict(t *testing.T) {
	ctx := context.Background()
	st, o := ownedStore(t)
	// In DingTalk, someone changes an eHR-owned field (title) and a DingTalk-owned one (email).
	o.users[2].User.Title, o.users[2].User.Email = "经理", "new@corp.cn"
	run := startRun(t, st, "r2")
	o.stage(t, st, run, nil)
	res, err := st.Apply(ctx, run, store.DeletionsGuarded)
	if err != nil || res.Updated != 1 {
		t.Fatalf("apply = %+v, %v; want the email update", res, err)
	}
	var title, email string
	if err := st.DB().QueryRow(`SELECT title, email FROM hr_employees WHERE corp_id = 'corp1' AND userid = $1`,
		o.users[2].User.UserID).Scan(&title, &email); err != nil || title != "" || email != "new@corp.cn" {
		t.Fatalf("title %q email %q (%v): want the eHR's title kept and DingTalk's email taken", title, email, err)
	}
	conflicts, err := st.ListFieldConflicts(ctx, "corp1", 10)
	if err != nil || len(conflicts) != 1 || conflicts[0].Field != "title" || conflicts[0].BothChanged ||
		conflicts[0].Winner != "ehr" || string(conflicts[0].DingTalkValue) != `"经理"` {
		t.Fatalf("conflicts = %+v (%v), want title changed only in DingTalk, the eHR winning", conflicts, err)
	}
	writes, err := st.ListEHRWrites(ctx, "corp1", store.WritePending, 10)
	if err != nil || len(writes) != 1 || string(writes[0].Fields) != `{"title": ""}` {
		t.Fatalf("writes = %+v (%v), want one putting the eHR's title back in DingTalk", writes, err)
	}
	// The same divergence seen again (the write not pushed yet) is not recorded twice.
	run3 := startRun(t, st, "r3")
	o.stage(t, st, run3, nil)
	if _, err := st.Apply(ctx, run3, store.DeletionsGuarded); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.ListFieldConflicts(ctx, "corp1", 10); len(again) != 1 {
		t.Fatalf("%d conflicts after a second sync, want still 1", len(again))
	}
}

func TestSetFieldOwnersValidates(t *testing.T) {
	ctx := context.Background()
	st, _ := syncedStore(t, 2)
	for _, bad := range []map[string]string{{"mobile": "ehr"}, {"title": "hr"}, {}} {
		if _, err := st.SetFieldOwners(ctx, "corp1", bad, "test"); err == nil {
			t.Errorf("owners %v accepted", bad)
		}
	}
	if _, err := st.SetFieldOwners(ctx, "corp9", map[string]string{"title": "ehr"}, "test"); !errors.Is(err, store.ErrUnknownCorp) {
		t.Errorf("an unbound corp: %v", err)
	}
	owners, err := st.SetFieldOwners(ctx, "corp1", map[string]string{"title": "ehr"}, "test")
	if err != nil || owners.Owner("title") != "ehr" || owners.Owner("email") != "dingtalk" {
		t.Fatalf("owners = %v (%v)", owners, err)
	}
	owners, err = st.SetFieldOwners(ctx, "corp1", map[string]string{"title": "dingtalk"}, "test")
	if err != nil || len(owners.EHROwned()) != 0 {
		t.Fatalf("after giving title back, owners = %v (%v)", owners, err)
	}
}
