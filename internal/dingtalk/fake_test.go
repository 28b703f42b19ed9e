package dingtalk

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testAppKey = "dingappkey"
	testSecret = "S3CRET-must-never-leak"
)

var testApp = App{CorpID: "corp1", AppKey: testAppKey, AppSecret: testSecret, CredentialVersion: 1}

// fake is a minimal DingTalk: a token endpoint that issues tok-1, tok-2, ... and routes
// that tests install per path. Both API families are served by the same server.
type fake struct {
	srv *httptest.Server

	mu         sync.Mutex
	secrets    map[string]string // appKey → accepted secret
	valid      map[string]bool   // tokens currently accepted
	issued     int
	expireIn   int64
	tokenDelay time.Duration
	hits       map[string]int
	routes     map[string]http.HandlerFunc
	lastBody   map[string][]byte
	lastReq    map[string]*http.Request
}

func newFake(t *testing.T) *fake {
	f := &fake{
		secrets:  map[string]string{testAppKey: testSecret},
		valid:    map[string]bool{},
		expireIn: 7200,
		hits:     map[string]int{},
		routes:   map[string]http.HandlerFunc{},
		lastBody: map[string][]byte{},
		lastReq:  map[string]*http.Request{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// newTestClient returns a client of f that does not make tests wait for rate limits or
// backoff; mod adjusts its config.
func newTestClient(f *fake, mod func(*Config)) *Client {
	cfg := Config{
		OAPIBaseURL: f.srv.URL,
		APIBaseURL:  f.srv.URL,
		QPS:         10000,
		MaxAttempts: 3,
	}
	if mod != nil {
		mod(&cfg)
	}
	c := New(cfg)
	c.retryBase = time.Millisecond
	return c
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.hits[r.URL.Path]++
	f.lastBody[r.URL.Path] = body
	f.lastReq[r.URL.Path] = r
	h := f.routes[r.URL.Path]
	f.mu.Unlock()
	switch {
	case h != nil:
		h(w, r)
	case r.URL.Path == APIToken:
		f.serveToken(w, body)
	default:
		http.NotFound(w, r)
	}
}

func (f *fake) serveToken(w http.ResponseWriter, body []byte) {
	time.Sleep(f.tokenDelay) // set before the server is used
	var p tokenParams
	_ = json.Unmarshal(body, &p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.AppSecret == "" || f.secrets[p.AppKey] != p.AppSecret {
		// A careless server echoing the secret: the client must still not leak it.
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"code": "invalidClientIdOrSecret", "requestid": "req-tok",
			"message": "无效的clientId或者clientSecret: " + p.AppSecret,
		})
		return
	}
	f.issued++
	tok := fmt.Sprintf("tok-%d", f.issued)
	f.valid[tok] = true
	writeJSON(w, http.StatusOK, map[string]any{"accessToken": tok, "expireIn": f.expireIn})
}

// route installs h for path.
func (f *fake) route(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = h
}

// oapi installs an oapi route that checks the query token and answers with result.
func (f *fake) oapi(path string, result any) {
	f.route(path, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiOK(w, result)
		}
	})
}

// oapiAuthorized answers 41001/40014 like DingTalk unless the request has a valid token.
func (f *fake) oapiAuthorized(w http.ResponseWriter, r *http.Request) bool {
	tok := r.URL.Query().Get("access_token")
	f.mu.Lock()
	ok := f.valid[tok]
	f.mu.Unlock()
	switch {
	case tok == "":
		oapiErr(w, 41001, "缺少access_token参数")
	case !ok:
		oapiErr(w, 40014, "不合法的access_token")
	}
	return ok
}

func (f *fake) setSecret(appKey, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[appKey] = secret
}

func (f *fake) hitCount(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fake) body(path string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastBody[path]
}

func (f *fake) request(path string) *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastReq[path]
}

func (f *fake) tokensIssued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oapiOK(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "result": result, "request_id": "req-ok"})
}

func oapiErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": code, "errmsg": msg, "request_id": "req-err"})
}

// requireKind asserts err is an *Error of kind k and returns it.
func requireKind(t *testing.T, err error, k Kind) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, k, e.Kind, "error: %v", err)
	return e
}

// recorder is an Observer that records outcomes.
type recorder struct {
	mu       sync.Mutex
	outcomes []string
}

func (r *recorder) ObserveRequest(api, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes = append(r.outcomes, api+" "+outcome)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.outcomes...)
}
