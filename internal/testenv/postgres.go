// Package testenv starts what dingsync's integration tests need: a fresh Postgres database
// per test, the Temporal dev server built into bin/, the DingTalk simulator and worker
// processes. Nothing here is a mock: these are the real parts, run locally.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	_ "github.com/lib/pq" // Postgres driver

	"github.com/dingsync/dingsync/internal/store"
)

// BaseURL is the Postgres server tests create their databases on: DATABASE_URL, or the
// default local server.
func BaseURL() string {
	if v := os.Getenv("DATABASE_URL"); v != "" {
		return v
	}
	return store.DefaultURL
}

// NewDatabase creates an empty database named for the test, returns its URL and drops it
// when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "dingsync_test_" + strings.ToLower(sanitize(t.Name())) + "_" + hex.EncodeToString(suffix)
	if len(name) > 63 {
		name = name[:54] + "_" + hex.EncodeToString(suffix)
	}
	admin := *u
	admin.Path = "/postgres"
	db, err := sqlx.Open("postgres", admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name)); err != nil {
		t.Fatalf("create test database (is Postgres running? `make services`): %v", err)
	}
	t.Cleanup(func() {
		db, err := sqlx.Open("postgres", admin.String())
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}

// NewStore opens and migrates a fresh database for the test.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
