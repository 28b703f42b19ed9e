package store_test

import (
	"context"
	"testing"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

func TestEventIntakeIsKeptOnRebindAndStreamCorpsListsIt(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	bind := func(corp, intake string) {
		t.Helper()
		if _, err := st.Bind(ctx, store.BindInput{CorpID: corp, AppKey: "key-" + corp, EventIntake: intake, Actor: "test",
			SealSecret: func(string) ([]byte, error) { return []byte("sealed"), nil }}); err != nil {
			t.Fatal(err)
		}
	}
	intake := func(corp string) string {
		t.Helper()
		b, err := st.GetBinding(ctx, corp)
		if err != nil {
			t.Fatal(err)
		}
		return b.EventIntake
	}
	bind("corphttp", "")
	bind("corpstream", store.EventIntakeStream)
	bind("corpgone", store.EventIntakeStream)
	if err := st.SetBindingStatus(ctx, "corpgone", store.BindingUnbound, "test"); err != nil {
		t.Fatal(err)
	}
	bind("corpstream", "") // a rebind without the flag keeps the intake
	if intake("corphttp") != store.EventIntakeHTTP || intake("corpstream") != store.EventIntakeStream {
		t.Fatalf("intakes %q and %q, want http and stream", intake("corphttp"), intake("corpstream"))
	}
	corps, err := st.StreamCorps(ctx)
	if err != nil || len(corps) != 1 || corps[0] != "corpstream" {
		t.Fatalf("stream corps %v (%v), want only corpstream (corpgone is unbound)", corps, err)
	}
	if _, err := st.Bind(ctx, store.BindInput{CorpID: "corpbad", AppKey: "k", EventIntake: "carrier-pigeon", Actor: "test",
		SealSecret: func(string) ([]byte, error) { return []byte("s"), nil }}); err == nil {
		t.Fatal("an unknown event intake was stored")
	}
}

func TestStreamLocksAreExclusiveAndGoWithTheSession(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	a, err := st.OpenSessionLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.OpenSessionLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	try := func(l *store.SessionLocks, corp string, want bool) {
		t.Helper()
		if ok, err := l.TryLock(ctx, corp); err != nil || ok != want {
			t.Fatalf("TryLock(%s) = %v, %v; want %v", corp, ok, err, want)
		}
	}
	try(a, "corp1", true)
	try(b, "corp1", false)
	try(b, "corp2", true)
	if err := b.Unlock(ctx, "corp2"); err != nil {
		t.Fatal(err)
	}
	try(a, "corp2", true)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	try(b, "corp1", true) // the session ended: its locks are free
	try(b, "corp2", true)
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
