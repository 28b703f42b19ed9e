package dingtalksim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// rawCall posts an oapi call and classifies the reply as a client would see it.
func (e *env) rawCall(path, token, body string) (int, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path+"?access_token="+url.QueryEscape(token), nil, []byte(body))
}

// errorKind names what a reply is: "ok", "errcode-1", "http502", ...
func errorKind(status int, raw []byte) string {
	var r oapiResp
	switch {
	case status != http.StatusOK:
		return "http" + http.StatusText(status)
	case json.Unmarshal(raw, &r) != nil:
		return "not-json"
	case r.ErrCode == CodeSystemBusy:
		return "errcode-1"
	case r.ErrCode != 0:
		return "errcode"
	}
	return "ok"
}

func TestErrorRate(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	check(t, e.sim.SetFaults("", Faults{Seed: 1, ErrorRate: 1}))
	kinds := map[string]int{}
	var sequence []string
	for range 30 {
		k := errorKind(e.rawCall(APIUserCount, tok, `{"only_active":true}`))
		kinds[k]++
		sequence = append(sequence, k)
	}
	for _, want := range []string{"errcode-1", "http" + http.StatusText(502), "http" + http.StatusText(503)} {
		if kinds[want] == 0 {
			t.Errorf("no %s among %v", want, kinds)
		}
	}
	if len(kinds) != 3 {
		t.Errorf("kinds %v", kinds)
	}
	if n := e.sim.CallOutcomes(testCorp)[APIUserCount][OutcomeError]; n != 30 {
		t.Errorf("error outcomes %d", n)
	}
	// The same seed replays the same faults.
	check(t, e.sim.SetFaults("", Faults{Seed: 1, ErrorRate: 1}))
	for i := range 30 {
		if k := errorKind(e.rawCall(APIUserCount, tok, `{"only_active":true}`)); k != sequence[i] {
			t.Fatalf("call %d: %s, first run %s", i, k, sequence[i])
		}
	}
	// Restricted to other APIs, and cleared.
	check(t, e.sim.SetFaults("", Faults{ErrorRate: 1, APIs: []string{APIUserList}}))
	e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)
	e.sim.ClearFaults()
	e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)
	wantErr(t, e.sim.SetFaults("", Faults{ErrorRate: 0.8, TimeoutRate: 0.5}), ErrInvalid)
}

func TestFaultsPerCorp(t *testing.T) {
	e := newEnv(t, noQPS)
	check(t, e.sim.LoadOrg(GenerateOrg("other", OrgSpec{Seed: 1, Employees: 10})))
	mustAddApp(t, e.sim, App{CorpID: "other", AppKey: "otherkey", AppSecret: "x"})
	mine, other := e.token(testKey, testSecret), e.token("otherkey", "x")
	check(t, e.sim.SetFaults(testCorp, Faults{ErrorRate: 1, APIs: []string{APIUserCount}}))
	for range 5 {
		if k := errorKind(e.rawCall(APIUserCount, mine, `{"only_active":true}`)); k == "ok" {
			t.Fatal("faulty corp got ok")
		}
		e.mustOK(APIUserCount, other, `{"only_active":true}`, nil)
	}
	if e.sim.Calls("other")[APIUserCount] != 5 || e.sim.Calls(testCorp)[APIUserCount] != 5 {
		t.Fatalf("calls: %v / %v", e.sim.Calls("other"), e.sim.Calls(testCorp))
	}
	e.sim.ResetCalls()
	if len(e.sim.Calls(testCorp)) != 0 {
		t.Fatal("ResetCalls left counts")
	}
}

func TestMalformedRate(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	check(t, e.sim.SetFaults(testCorp, Faults{Seed: 3, MalformedRate: 1, APIs: []string{APIDepartmentListSub}}))
	kinds := map[string]int{}
	for range 30 {
		status, raw := e.rawCall(APIDepartmentListSub, tok, `{"dept_id":1}`)
		var env struct {
			ErrCode int              `json:"errcode"`
			Result  *json.RawMessage `json:"result"`
		}
		var items []deptListItem
		switch {
		case status != http.StatusOK:
			t.Fatalf("HTTP %d", status)
		case json.Unmarshal(raw, &env) != nil:
			kinds["truncated"]++
		case env.ErrCode != 0:
			t.Fatalf("errcode %d", env.ErrCode)
		case env.Result == nil:
			kinds["missing result"]++
		case json.Unmarshal(*env.Result, &items) != nil:
			kinds["wrong types"]++
		default:
			t.Fatalf("intact reply %s", raw)
		}
	}
	if len(kinds) != 3 {
		t.Fatalf("corruptions %v", kinds)
	}
	if n := e.sim.CallOutcomes(testCorp)[APIDepartmentListSub][OutcomeMalformed]; n != 30 {
		t.Fatalf("malformed outcomes %d", n)
	}
}

func TestTimeoutAndLatency(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	check(t, e.sim.SetFaults("", Faults{TimeoutRate: 1}))
	client := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := client.Post(e.srv.URL+APIUserCount+"?access_token="+tok, "application/json", nil)
	var netErr interface{ Timeout() bool }
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("want a client timeout, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the hang did not end with the request")
	}
	check(t, e.sim.SetFaults("", Faults{Latency: 60 * time.Millisecond, Jitter: 10 * time.Millisecond}))
	start = time.Now()
	e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("latency %v, want >= 60ms", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for e.sim.CallOutcomes(testCorp)[APIUserCount][OutcomeTimeout] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("outcomes %v", e.sim.CallOutcomes(testCorp))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestThrottleBurstAndIPBanNow(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	check(t, e.sim.SetFaults(testCorp, Faults{ThrottleBurst: 3}))
	for i := range 3 {
		if r := e.call(APIUserCount, tok, `{"only_active":true}`, nil); r.ErrCode != CodeQPSLimit {
			t.Fatalf("call %d: errcode %d", i, r.ErrCode)
		}
		e.token(testKey, testSecret) // token endpoints are not throttled
	}
	e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)

	check(t, e.sim.SetFaults("", Faults{IPBanNow: true}))
	if status, raw := e.rawCall(APIUserCount, tok, `{"only_active":true}`); status != http.StatusOK || !bytesContains(raw, `"status":1111`) {
		t.Fatalf("banned call: %d %s", status, raw)
	}
	e.sim.LiftIPBans()
	e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)
}

func TestMain(m *testing.M) {
	// No test may hang for ever on a misbehaving simulator.
	http.DefaultClient.Timeout = 10 * time.Second
	os.Exit(m.Run())
}
