// Package store is dingsync's Postgres HR store: bindings, encrypted credentials, the HR read
// model (departments, employees, memberships), the sync log (runs, changes, errors) and the
// per-run staging that full syncs read DingTalk into before one transactional apply.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/dingsync/dingsync/schema"
)

// DefaultURL is the database used when DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/dingsync?sslmode=disable"

// Store is the HR store. It is safe for concurrent use.
type Store struct {
	db *sqlx.DB
}

// DB exposes the underlying pool for tests and tools that read the HR tables directly.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Open connects to the database at dsn, creating the database if it does not exist yet.
// It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := connect(ctx, dsn)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "3D000" { // invalid_catalog_name
		if err := createDatabase(ctx, dsn); err != nil {
			return nil, err
		}
		db, err = connect(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{db: db}, nil
}

func connect(ctx context.Context, dsn string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is not a valid Postgres URL (%v): use the form %s", err, DefaultURL)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		var pqErr *pq.Error
		if errors.As(err, &pqErr) {
			return nil, err
		}
		return nil, fmt.Errorf("cannot reach Postgres at %s (%v): start it (on Debian: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or point DATABASE_URL at a running server", redactURL(dsn), err)
	}
	return db, nil
}

func createDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database: created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// redactURL drops the password from a database URL so it can appear in an error.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the configured DATABASE_URL"
	}
	return u.Redacted()
}

// Migrate applies every pending migration in schema/, holding a Postgres advisory lock so
// workers starting together do not race.
func (s *Store) Migrate(ctx context.Context) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	// Migrations developed side by side may land out of number order: a store already past
	// a number still gets the lower one that arrived later (each is independent of the others).
	provider, err := goose.NewProvider(goose.DialectPostgres, s.db.DB, schema.Migrations,
		goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate the HR store: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ErrNotFound is returned when a named row does not exist.
var ErrNotFound = sql.ErrNoRows
