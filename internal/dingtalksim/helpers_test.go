package dingtalksim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

const (
	testCorp   = "dingtestcorp"
	testKey    = "dingtestkey"
	testSecret = "s3cret"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a simulator behind a real HTTP server with one generated corp and one app.
type env struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *fakeClock
}

// newEnv starts a simulator with DefaultOptions (changed by opt), a 300-employee org
// and an app holding every permission.
func newEnv(t *testing.T, opt func(*Options)) *env {
	t.Helper()
	clock := newFakeClock()
	opts := DefaultOptions()
	opts.Clock = clock.Now
	if opt != nil {
		opt(&opts)
	}
	sim := New(opts)
	if err := sim.LoadOrg(GenerateOrg(testCorp, OrgSpec{Seed: 7, Employees: 300, MembersPerDept: 10, MultiDeptRatio: 0.2})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(App{CorpID: testCorp, AppKey: testKey, AppSecret: testSecret}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: sim, srv: srv, clock: clock}
}

// oapiResp is the legacy envelope as a client sees it.
type oapiResp struct {
	ErrCode   int             `json:"errcode"`
	ErrMsg    string          `json:"errmsg"`
	RequestID string          `json:"request_id"`
	Result    json.RawMessage `json:"result"`
}

// token fetches a token for appKey/secret with gettoken.
func (e *env) token(appKey, secret string) string {
	e.t.Helper()
	var body struct {
		ErrCode     int    `json:"errcode"`
		AccessToken string `json:"access_token"`
	}
	status, raw := e.get("/gettoken?appkey=" + url.QueryEscape(appKey) + "&appsecret=" + url.QueryEscape(secret))
	if status != http.StatusOK || json.Unmarshal(raw, &body) != nil || body.ErrCode != 0 {
		e.t.Fatalf("gettoken: %d %s", status, raw)
	}
	return body.AccessToken
}

func (e *env) get(path string) (int, []byte) {
	e.t.Helper()
	return e.do(http.MethodGet, path, nil, nil)
}

func (e *env) do(method, path string, header http.Header, body []byte) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// call posts body to an oapi path with token and decodes the envelope; result (if not
// nil) receives the result on success.
func (e *env) call(path, token string, body any, result any) oapiResp {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	status, out := e.do(http.MethodPost, path+"?access_token="+url.QueryEscape(token), nil, raw)
	var r oapiResp
	if status != http.StatusOK || json.Unmarshal(out, &r) != nil {
		e.t.Fatalf("%s: HTTP %d %s", path, status, out)
	}
	if r.ErrCode == 0 && result != nil {
		if err := json.Unmarshal(r.Result, result); err != nil {
			e.t.Fatalf("%s: result %s: %v", path, r.Result, err)
		}
	}
	return r
}

// mustOK is call that fails the test unless errcode is 0.
func (e *env) mustOK(path, token string, body any, result any) {
	e.t.Helper()
	if r := e.call(path, token, body, result); r.ErrCode != 0 {
		e.t.Fatalf("%s %v: errcode %d %s", path, body, r.ErrCode, r.ErrMsg)
	}
}

// listUsers pages through user/list of dept with the given page size.
func (e *env) listUsers(token string, dept int64, size int) []userListItem {
	e.t.Helper()
	var all []userListItem
	cursor := int64(0)
	for pages := 0; ; pages++ {
		var page userPage[userListItem]
		e.mustOK(APIUserList, token, map[string]any{"dept_id": dept, "cursor": cursor, "size": size}, &page)
		all = append(all, page.List...)
		if !page.HasMore {
			return all
		}
		if page.NextCursor <= cursor || pages > 10_000 {
			e.t.Fatalf("next_cursor %d does not advance from %d", page.NextCursor, cursor)
		}
		cursor = page.NextCursor
	}
}
