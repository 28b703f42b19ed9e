package dingtalksim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// send posts an asyncsend_v2 text message to users and returns the task id.
func (e *env) send(token string, agentID int64, users []string, content string) int64 {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"agent_id": agentID, "userid_list": strings.Join(users, ","),
		"msg": map[string]any{"msgtype": "text", "text": map[string]string{"content": content}}})
	status, raw := e.rawCall(APIMessageAsyncSend, token, string(body))
	var r struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		TaskID  int64  `json:"task_id"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &r) != nil || r.ErrCode != 0 || r.TaskID == 0 {
		e.t.Fatalf("asyncsend_v2: HTTP %d %s", status, raw)
	}
	return r.TaskID
}

// result fetches a task's send_result.
func (e *env) result(token string, agentID, taskID int64) sendResult {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"agent_id": agentID, "task_id": taskID})
	status, raw := e.rawCall(APIMessageSendResult, token, string(body))
	var r struct {
		ErrCode    int        `json:"errcode"`
		SendResult sendResult `json:"send_result"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &r) != nil || r.ErrCode != 0 {
		e.t.Fatalf("getsendresult: HTTP %d %s", status, raw)
	}
	return r.SendResult
}

func TestWorkNotificationsDeliverAndReportEachRecipient(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	users := e.sim.Truth(testCorp).Users
	a, b := users[0].UserID, users[1].UserID
	task := e.send(tok, 42, []string{a, b, "nobody"}, "同步失败: run starter runs")
	res := e.result(tok, 42, task)
	if !slices.Equal(res.UnreadUsers, []string{a, b}) || !slices.Equal(res.InvalidUsers, []string{"nobody"}) || len(res.Forbidden) != 0 {
		t.Fatalf("send_result %+v", res)
	}
	if got := e.sim.Messages(testCorp, a); len(got) != 1 || got[0].Content != "同步失败: run starter runs" || got[0].TaskID != task {
		t.Fatalf("%s received %+v", a, got)
	}
	e.sim.MarkMessagesRead(testCorp, a)
	if res := e.result(tok, 42, task); !slices.Equal(res.ReadUsers, []string{a}) || !slices.Equal(res.UnreadUsers, []string{b}) {
		t.Fatalf("after %s read it: %+v", a, res)
	}
}

// DingTalk's limits are silent: the call succeeds, nothing is delivered, and only
// getsendresult's forbidden_list says why.
func TestOverLimitMessagesAreAcceptedButSilentlyDropped(t *testing.T) {
	e := newEnv(t, noQPS)
	e.sim.SetMessagesPerUserDaily(2)
	tok := e.token(testKey, testSecret)
	u := e.sim.Truth(testCorp).Users[0].UserID
	e.send(tok, 42, []string{u}, "first")
	dup := e.send(tok, 42, []string{u}, "first")
	if res := e.result(tok, 42, dup); !slices.Equal(res.ForbiddenUsers, []string{u}) || len(res.Forbidden) != 1 ||
		res.Forbidden[0].Code != "143106" || len(res.UnreadUsers) != 0 {
		t.Fatalf("the same content twice a day: %+v", res)
	}
	e.send(tok, 42, []string{u}, "second")
	capped := e.send(tok, 42, []string{u}, "third")
	if res := e.result(tok, 42, capped); len(res.Forbidden) != 1 || res.Forbidden[0].Code != "143105" || res.Forbidden[0].UserID != u {
		t.Fatalf("over the daily cap: %+v", res)
	}
	if got := e.sim.Messages(testCorp, u); len(got) != 2 {
		t.Fatalf("%s received %d messages, want 2 (first, second)", u, len(got))
	}
	e.clock.Advance(24 * time.Hour) // a new day in China: both limits start over
	tok = e.token(testKey, testSecret)
	if res := e.result(tok, 42, e.send(tok, 42, []string{u}, "first")); !slices.Equal(res.UnreadUsers, []string{u}) {
		t.Fatalf("the next day: %+v", res)
	}
}

func TestAsyncSendRefusesWhatDingTalkRefuses(t *testing.T) {
	e := newEnv(t, noQPS)
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "agent7", AppSecret: "x", AgentID: 7})
	full, agent7, bare := e.token(testKey, testSecret), e.token("agent7", "x"), e.bareApp()
	many := make([]string, 101)
	for i := range many {
		many[i] = "u" + strings.Repeat("x", i%3)
	}
	text := func(s string) map[string]any {
		return map[string]any{"msgtype": "text", "text": map[string]string{"content": s}}
	}
	for _, c := range []struct {
		name  string
		token string
		body  map[string]any
		code  int
	}{
		{"no agent", full, map[string]any{"userid_list": "u1", "msg": text("x")}, CodeBadRequestBody},
		{"no recipients", full, map[string]any{"agent_id": 1, "msg": text("x")}, CodeBadRequestBody},
		{"101 userids", full, map[string]any{"agent_id": 1, "userid_list": strings.Join(many, ","), "msg": text("x")}, CodeBadRequestBody},
		{"over 2048 bytes", full, map[string]any{"agent_id": 1, "userid_list": "u1", "msg": text(strings.Repeat("长", 700))}, CodeBadRequestBody},
		{"unknown msgtype", full, map[string]any{"agent_id": 1, "userid_list": "u1", "msg": map[string]any{"msgtype": "sms"}}, CodeBadRequestBody},
		{"another app's agent", agent7, map[string]any{"agent_id": 8, "userid_list": "u1", "msg": text("x")}, CodeInvalidAgentID},
		{"no permission", bare, map[string]any{"agent_id": 1, "userid_list": "u1", "msg": text("x")}, CodeNoPermission},
	} {
		raw, _ := json.Marshal(c.body)
		if r := decodeOapi(t, http.StatusOK, mustRaw(e.rawCall(APIMessageAsyncSend, c.token, string(raw)))); r.ErrCode != c.code {
			t.Errorf("%s: errcode %d (%s), want %d", c.name, r.ErrCode, r.ErrMsg, c.code)
		}
	}
	if got := e.sim.AllMessages(testCorp); len(got) != 0 {
		t.Fatalf("refused calls delivered %v", got)
	}
}

func mustRaw(status int, raw []byte) []byte {
	if status != http.StatusOK {
		return []byte(`{"errcode":-999}`)
	}
	return raw
}
