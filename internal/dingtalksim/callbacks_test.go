package dingtalksim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const testAESKey = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij" // dingtalk-api.md's test vector

func callbackBodyJSON(tags []string, token, aesKey, u string) map[string]any {
	return map[string]any{"call_back_tag": tags, "token": token, "aes_key": aesKey, "url": u}
}

// getCallbackRaw calls get_call_back (a GET) and decodes the flat body.
func (e *env) getCallbackRaw(token string) (oapiResp, CallbackRegistration) {
	e.t.Helper()
	status, raw := e.get(APICallbackGet + "?access_token=" + url.QueryEscape(token))
	var r oapiResp
	var reg CallbackRegistration
	if status != http.StatusOK || json.Unmarshal(raw, &r) != nil || json.Unmarshal(raw, &reg) != nil {
		e.t.Fatalf("get_call_back: HTTP %d %s", status, raw)
	}
	return r, reg
}

func TestCallbackLifecycle(t *testing.T) {
	e := newEnv(t, noQPS)
	check(t, e.sim.SetPushOptions(PushOptions{SkipURLCheck: true})) // nobody serves these URLs
	check(t, e.sim.LoadOrg(GenerateOrg("other", OrgSpec{Seed: 1, Employees: 10})))
	mustAddApp(t, e.sim, App{CorpID: "other", AppKey: "otherkey", AppSecret: "x"})
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "second", AppSecret: "x", Permissions: []string{}})
	tok, otherTok, secondTok := e.token(testKey, testSecret), e.token("otherkey", "x"), e.token("second", "x")
	first := callbackBodyJSON([]string{EventUserAddOrg, EventUserLeaveOrg}, "123456", testAESKey, "https://sync.example.com/dingtalk/callback")
	second := callbackBodyJSON([]string{EventDeptCreate, "label_user_change"}, strings.Repeat("t", 63), strings.Repeat("A1", 21)+"z", "http://10.0.0.5:8080/cb?x=1")
	steps := []struct {
		name    string
		path    string
		token   string
		body    any
		want    int
		wantReg map[string]any // the registration get_call_back reports afterwards (nil: none)
	}{
		{"get before register", APICallbackGet, tok, nil, CodeNoCallback, nil},
		{"update before register", APICallbackUpdate, tok, first, CodeNoCallback, nil},
		{"delete before register", APICallbackDelete, tok, `{}`, CodeNoCallback, nil},
		{"register", APICallbackRegister, tok, first, CodeOK, first},
		{"register again", APICallbackRegister, tok, second, CodeCallbackExists, first},
		{"another app of the corp", APICallbackRegister, secondTok, second, CodeCallbackExists, first},
		{"another corp", APICallbackGet, otherTok, nil, CodeNoCallback, first},
		{"update", APICallbackUpdate, tok, second, CodeOK, second},
		{"delete", APICallbackDelete, tok, nil, CodeOK, nil},
		{"delete again", APICallbackDelete, tok, nil, CodeNoCallback, nil},
		{"register after delete", APICallbackRegister, tok, first, CodeOK, first},
	}
	for _, st := range steps {
		var r oapiResp
		if st.path == APICallbackGet {
			r, _ = e.getCallbackRaw(st.token)
		} else {
			r = e.call(st.path, st.token, st.body, nil)
		}
		if r.ErrCode != st.want {
			t.Fatalf("%s: errcode %d %s, want %d", st.name, r.ErrCode, r.ErrMsg, st.want)
		}
		reg, ok := e.sim.Callback(testCorp)
		if ok != (st.wantReg != nil) {
			t.Fatalf("%s: registered %v", st.name, ok)
		}
		if st.wantReg == nil {
			continue
		}
		want := CallbackRegistration{Tags: st.wantReg["call_back_tag"].([]string), Token: st.wantReg["token"].(string),
			AESKey: st.wantReg["aes_key"].(string), URL: st.wantReg["url"].(string)}
		r, got := e.getCallbackRaw(tok)
		if r.ErrCode != CodeOK || !equalRegistration(got, want) || !equalRegistration(reg, want) {
			t.Fatalf("%s: get_call_back %+v, Callback %+v, want %+v", st.name, got, reg, want)
		}
	}
	if calls := e.sim.Calls(testCorp); calls[APICallbackRegister] != 4 || calls[APICallbackGet] == 0 {
		t.Fatalf("calls %v", calls)
	}
}

func equalRegistration(a, b CallbackRegistration) bool {
	return slices.Equal(a.Tags, b.Tags) && a.Token == b.Token && a.AESKey == b.AESKey && a.URL == b.URL
}

func TestCallbackValidation(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	tags := []string{EventUserModifyOrg}
	const u = "https://sync.example.com/cb"
	tests := []struct {
		name      string
		body      any
		wantField string
	}{
		{"token of 5", callbackBodyJSON(tags, "12345", testAESKey, u), "token"},
		{"token of 64", callbackBodyJSON(tags, strings.Repeat("t", 64), testAESKey, u), "token"},
		{"no token", callbackBodyJSON(tags, "", testAESKey, u), "token"},
		{"aes_key of 42", callbackBodyJSON(tags, "123456", testAESKey[1:], u), "aes_key"},
		{"aes_key of 44", callbackBodyJSON(tags, "123456", testAESKey+"a", u), "aes_key"},
		{"aes_key with +", callbackBodyJSON(tags, "123456", "+"+testAESKey[1:], u), "aes_key"},
		{"ftp url", callbackBodyJSON(tags, "123456", testAESKey, "ftp://example.com/cb"), "url"},
		{"relative url", callbackBodyJSON(tags, "123456", testAESKey, "/cb"), "url"},
		{"no tags", callbackBodyJSON(nil, "123456", testAESKey, u), "call_back_tag"},
		{"unknown tag", callbackBodyJSON([]string{EventUserAddOrg, "bpms_task_change"}, "123456", testAESKey, u), "call_back_tag"},
		{"tags as a string", `{"call_back_tag":"user_add_org","token":"123456","aes_key":"` + testAESKey + `","url":"` + u + `"}`, "call_back_tag"},
	}
	for _, tt := range tests {
		for _, path := range []string{APICallbackRegister, APICallbackUpdate} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				r := e.call(path, tok, tt.body, nil)
				if r.ErrCode != CodeBadRequestBody || !strings.Contains(r.ErrMsg, tt.wantField) {
					t.Fatalf("errcode %d %q, want 400002 naming %s", r.ErrCode, r.ErrMsg, tt.wantField)
				}
			})
		}
	}
	if _, ok := e.sim.Callback(testCorp); ok {
		t.Fatal("an invalid registration was stored")
	}
}
