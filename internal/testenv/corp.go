package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
)

// Corp is one test's DingTalk corp and HR store: a fresh migrated database, an in-process
// simulator (no rate limits) holding the corp's generated org and app, a secret key, and a
// free address for the worker's public endpoints.
type Corp struct {
	DBURL     string
	Store     *store.Store
	Sim       *dingtalksim.Server
	SimURL    string
	SecretKey string // base64 of 32 bytes, as DINGSYNC_SECRET_KEY
	CorpID    string
	AppKey    string
	AppSecret string
	HTTPAddr  string
}

// NewCorp makes a Corp whose corp id starts with corpPrefix, with an org of the given spec.
// Everything it started is stopped when the test ends.
func NewCorp(t *testing.T, corpPrefix string, spec dingtalksim.OrgSpec) Corp {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c := Corp{DBURL: NewDatabase(t), SecretKey: base64.StdEncoding.EncodeToString(key),
		CorpID: corpPrefix + RandomHex(4), AppKey: "dingapp" + RandomHex(4), AppSecret: "sec-" + RandomHex(16)}
	opts := dingtalksim.DefaultOptions()
	opts.Limits = dingtalksim.Limits{}
	c.Sim = dingtalksim.New(opts)
	if err := c.Sim.LoadOrg(dingtalksim.GenerateOrg(c.CorpID, spec)); err != nil {
		t.Fatal(err)
	}
	if err := c.Sim.AddApp(dingtalksim.App{CorpID: c.CorpID, AppKey: c.AppKey, AppSecret: c.AppSecret}); err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	srv := httptest.NewServer(c.Sim)
	t.Cleanup(srv.Close)
	c.SimURL = srv.URL
	st, err := store.Open(context.Background(), c.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.Store = st
	return c
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
