package dingtalksim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
)

const testCallbackToken = "pushtoken123"

// pushed is one push a receiver got.
type pushed struct {
	query url.Values
	raw   []byte // the decrypted plaintext
	event callback.Event
}

// receiver is a callback endpoint that answers like dingsync's receiver (decrypt, verify,
// reply an encrypted success), or as misbehave says.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	crypter *callback.Crypter

	mu        sync.Mutex
	got       []pushed
	misbehave func(w http.ResponseWriter, r *http.Request) // nil: answer success
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	c, err := callback.NewCrypter(testCallbackToken, testAESKey, testCorp)
	check(t, err)
	rc := &receiver{t: t, crypter: c}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var body struct {
		Encrypt string `json:"encrypt"`
	}
	raw, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || json.Unmarshal(raw, &body) != nil {
		rc.t.Errorf("push %s %s: body %s", r.Method, r.URL, raw)
		http.Error(w, "bad push", http.StatusBadRequest)
		return
	}
	msg, err := rc.crypter.Decrypt(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), body.Encrypt)
	if err != nil {
		rc.t.Errorf("push does not decrypt: %v", err)
		http.Error(w, "bad push", http.StatusBadRequest)
		return
	}
	ev, err := callback.ParseEvent(msg)
	if err != nil {
		rc.t.Errorf("push %s does not parse: %v", msg, err)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, pushed{query: q, raw: msg, event: ev})
	misbehave := rc.misbehave
	rc.mu.Unlock()
	if misbehave != nil {
		misbehave(w, r)
		return
	}
	reply, err := rc.crypter.SuccessReply(q.Get("timestamp"), "r3plyn0n")
	if err != nil {
		rc.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

func (rc *receiver) setMisbehave(f func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.misbehave = f
}

// events returns what the receiver got, check_url left out.
func (rc *receiver) events() []pushed {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []pushed
	for _, p := range rc.got {
		if p.event.Type != callback.EventCheckURL {
			out = append(out, p)
		}
	}
	return out
}

// checks counts the check_url pushes the receiver got.
func (rc *receiver) checks() int {
	rc.mu.Lock()
	n := len(rc.got)
	rc.mu.Unlock()
	return n - len(rc.events())
}

// register registers u as testCorp's callback for tags and fails the test unless
// errcode is want.
func (e *env) register(tok, path string, tags []string, u string, want int) {
	e.t.Helper()
	r := e.call(path, tok, callbackBodyJSON(tags, testCallbackToken, testAESKey, u), nil)
	if r.ErrCode != want {
		e.t.Fatalf("%s %s: errcode %d %s, want %d", path, u, r.ErrCode, r.ErrMsg, want)
	}
}

// failedPage is a get_call_back_failed_result answer.
type failedPage struct {
	ErrCode    int          `json:"errcode"`
	HasMore    bool         `json:"has_more"`
	FailedList []failedPush `json:"failed_list"`
}

func (e *env) failedResult(tok string) failedPage {
	e.t.Helper()
	status, raw := e.get(APICallbackFailed + "?access_token=" + url.QueryEscape(tok))
	var p failedPage
	if status != http.StatusOK || json.Unmarshal(raw, &p) != nil || p.ErrCode != 0 || p.FailedList == nil {
		e.t.Fatalf("get_call_back_failed_result: HTTP %d %s", status, raw)
	}
	return p
}

// waitPushes waits for the pushes to settle, failing the test after 10 s.
func (e *env) waitPushes() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check(e.t, e.sim.WaitPushesIdle(ctx))
}

// addUsers adds n users to department 1 (n user_add_org events) and returns their ids.
func (e *env) addUsers(n int, prefix string) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		u, err := e.sim.AddUser(testCorp, User{UserID: prefix + string(rune('a'+i/26)) + string(rune('a'+i%26)), Name: "推送", DeptIDList: []int64{1}, Active: true})
		check(e.t, err)
		ids[i] = u.UserID
	}
	return ids
}

func userIDsOf(ps []pushed) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.event.UserIDs...)
	}
	return out
}
