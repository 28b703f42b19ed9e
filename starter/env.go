package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/dingsync/dingsync/internal/config"
	"github.com/dingsync/dingsync/internal/store"
)

// environment opens the HR store and the Temporal client on first use.
type environment struct {
	cfg      *config.Config
	st       *store.Store
	temporal client.Client
}

func (e *environment) config() config.Config {
	if e.cfg == nil {
		c := config.FromEnv()
		e.cfg = &c
	}
	return *e.cfg
}

func (e *environment) store(ctx context.Context) (*store.Store, error) {
	if e.st != nil {
		return e.st, nil
	}
	st, err := store.Open(ctx, e.config().DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	e.st = st
	return st, nil
}

func (e *environment) client() (client.Client, error) {
	if e.temporal != nil {
		return e.temporal, nil
	}
	cfg := e.config()
	c, err := client.Dial(client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (%v): start the dev server (`make dev-server`) or set TEMPORAL_ADDRESS", cfg.TemporalAddress, err)
	}
	e.temporal = c
	return c, nil
}

func (e *environment) close() {
	if e.st != nil {
		e.st.Close()
	}
	if e.temporal != nil {
		e.temporal.Close()
	}
}
