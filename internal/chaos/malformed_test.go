package chaos

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// corrupter is a proxy in front of the simulator that rewrites the successful answers of
// one API: a DingTalk that answers with the wrong types, missing fields, huge strings or
// invalid UTF-8.
type corrupter struct {
	api     string
	rewrite atomic.Pointer[func([]byte) []byte]
	hits    atomic.Int64
}

// newCorrupter serves a proxy to the simulator at target; set rewrite to corrupt api's answers.
func newCorrupter(t *testing.T, target, api string) (*corrupter, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &corrupter{api: api}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		rw := c.rewrite.Load()
		if resp.Request.URL.Path != c.api || rw == nil || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		body = (*rw)(body)
		c.hits.Add(1)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// replaceFirst rewrites the first match of re in a body with repl.
func replaceFirst(re, repl string) func([]byte) []byte {
	r := regexp.MustCompile(re)
	return func(b []byte) []byte {
		done := false
		return r.ReplaceAllFunc(b, func(m []byte) []byte {
			if done {
				return m
			}
			done = true
			return r.ReplaceAll(m, []byte(repl))
		})
	}
}

// malformedCases are corrupted DingTalk answers, each of which the client must refuse as a
// typed malformed-response error, never pass on.
var malformedCases = []struct {
	name    string
	api     string
	rewrite func([]byte) []byte
	code    string // the error code wanted (default dingtalk.CodeMalformedResponse)
}{
	{"userid a number", dingtalksim.APIUserList, replaceFirst(`"userid":"[^"]*"`, `"userid":12345`), ""},
	{"dept_id_list a string", dingtalksim.APIUserList, replaceFirst(`"dept_id_list":\[[^\]]*\]`, `"dept_id_list":"1,2"`), ""},
	{"has_more a string", dingtalksim.APIUserList, replaceFirst(`"has_more":(true|false)`, `"has_more":"false"`), ""},
	{"list missing", dingtalksim.APIUserList, replaceFirst(`"list":`, `"lost":`), ""},
	{"list of nulls", dingtalksim.APIUserList, replaceFirst(`"list":\[`, `"list":[null,`), ""},
	{"hired_date overflows", dingtalksim.APIUserList, replaceFirst(`"userid":`, `"hired_date":1e400,"userid":`), ""},
	{"extension an object", dingtalksim.APIUserList, replaceFirst(`"userid":`, `"extension":{"a":{"b":[1,2]}},"userid":`), ""},
	{"name with invalid UTF-8", dingtalksim.APIUserList, replaceFirst(`"name":"`, "\"name\":\"\xff\xfe\xfd"), ""},
	{"name with NUL", dingtalksim.APIUserList, replaceFirst(`"name":"`, `"name":"\u0000`), ""},
	{"body over 16 MiB", dingtalksim.APIUserList, replaceFirst(`"name":"`, `"name":"`+strings.Repeat("长", 6<<20)), ""},
	// An HTML page under 200 is how DingTalk's IP ban looks: throttled for 5 minutes.
	{"HTML under 200", dingtalksim.APIUserList, func([]byte) []byte { return []byte("<html><body>维护中</body></html>") }, dingtalk.CodeIPBanned},
	{"dept_id a string", dingtalksim.APIDepartmentListSub, replaceFirst(`"dept_id":(\d+)`, `"dept_id":"$1"`), ""},
	{"result missing", dingtalksim.APIDepartmentListSub, replaceFirst(`"result":`, `"resolt":`), ""},
	{"department name invalid UTF-8", dingtalksim.APIDepartmentListSub, replaceFirst(`"name":"`, "\"name\":\"\xc3\x28"), ""},
	{"user/get userid with NUL", dingtalksim.APIUserGet, replaceFirst(`"userid":"`, `"userid":"\u0000`), ""},
	{"token missing", dingtalksim.APIAccessToken, replaceFirst(`"accessToken":`, `"accessTokn":`), ""},
	{"token a number", dingtalksim.APIAccessToken, replaceFirst(`"accessToken":"[^"]*"`, `"accessToken":42`), ""},
	{"expireIn a string", dingtalksim.APIAccessToken, replaceFirst(`"expireIn":(\d+)`, `"expireIn":"$1"`), ""},
}

// TestChaosMalformedDingTalkResponses puts a corrupting proxy between dingsync's DingTalk
// client and the simulator: every corrupted answer must come back as a typed
// *dingtalk.Error (transient, code malformed_response, naming the API), never as data and
// never as a panic.
func TestChaosMalformedDingTalkResponses(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 741, Employees: 30})
	truth := h.sim.Truth(h.corpID)
	app := dingtalk.App{CorpID: h.corpID, AppKey: h.appKey, AppSecret: h.appSecret, CredentialVersion: 1}
	for _, tc := range malformedCases {
		t.Run(tc.name, func(t *testing.T) {
			c, base := newCorrupter(t, h.simURL, tc.api)
			client := dingtalk.New(dingtalk.Config{OAPIBaseURL: base, APIBaseURL: base, MaxAttempts: 1, RequestTimeout: 5 * time.Second})
			if tc.api != dingtalksim.APIAccessToken { // a good token first, so the corrupted call is the one under test
				if _, err := client.Token(context.Background(), app); err != nil {
					t.Fatal(err)
				}
			}
			c.rewrite.Store(&tc.rewrite)
			ctx := context.Background()
			var err error
			switch tc.api {
			case dingtalksim.APIUserList:
				_, err = client.ListUsers(ctx, app, truth.Users[0].DeptIDList[0], 0, 0)
			case dingtalksim.APIDepartmentListSub:
				_, err = client.ListSubDepartments(ctx, app, 1)
			case dingtalksim.APIUserGet:
				_, err = client.GetUser(ctx, app, truth.Users[0].UserID)
			case dingtalksim.APIAccessToken:
				_, err = client.Token(ctx, app)
			}
			if c.hits.Load() == 0 {
				t.Fatalf("the proxy corrupted nothing: the case proves nothing")
			}
			sc.fault("malformed responses", 1)
			want := tc.code
			if want == "" {
				want = dingtalk.CodeMalformedResponse
			}
			var de *dingtalk.Error
			if !errors.As(err, &de) || de.Code != want || !strings.Contains(err.Error(), tc.api) {
				t.Errorf("corrupted %s answer (%s): got %v, want a *dingtalk.Error with code %s naming the API", tc.api, tc.name, err, want)
			}
		})
	}
}

// TestChaosMalformedAnswersDuringAFullSync crawls through a proxy that keeps corrupting one
// user of every user/list page (a NUL in the name, or invalid UTF-8): the client must refuse
// those pages, so nothing is stored, the worker stays up, and the pending crawl's last
// failure says the response was malformed.
func TestChaosMalformedAnswersDuringAFullSync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite func([]byte) []byte
	}{
		{"NUL in a name", replaceFirst(`"name":"`, `"name":"\u0000`)},
		{"invalid UTF-8 in a name", replaceFirst(`"name":"`, "\"name\":\"\xff\xfe")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc := begin(t)
			h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 742, Employees: 100})
			c, base := newCorrupter(t, h.simURL, dingtalksim.APIUserList)
			c.rewrite.Store(&tc.rewrite)
			h.bind()
			h.startWorker("DINGTALK_OAPI_BASE_URL="+base, "DINGTALK_API_BASE_URL="+base)
			h.mustStarter("sync", "full", "--corp-id", h.corpID)
			failure := ""
			waitFor(t, 90*time.Second, "the crawl fails or the run ends", func() bool {
				failure = h.crawlFailure()
				return failure != "" || h.count(`SELECT count(*) FROM sync_runs WHERE status <> 'running'`) > 0
			})
			sc.fault("malformed responses", int(c.hits.Load()))
			h.assertWorkerAlive()
			if n := h.count(`SELECT count(*) FROM employees`); n != 0 {
				t.Errorf("%d employees stored from corrupted answers", n)
			}
			if !strings.Contains(failure, "malformed response") {
				t.Errorf("the crawl's last failure does not say the response was malformed: %q", failure)
			}
			h.terminate("fullsync/" + h.corpID)
		})
	}
}

// crawlFailure is the last failure of the corp's full sync's pending activities, if any.
func (h *harness) crawlFailure() string {
	c, err := devServer.Client()
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(context.Background(), "fullsync/"+h.corpID, "")
	if err != nil {
		return ""
	}
	var failure string
	for _, pa := range desc.GetPendingActivities() {
		failure += pa.GetLastFailure().GetMessage()
	}
	return failure
}

// terminate ends a workflow the scenario left running.
func (h *harness) terminate(workflowID string) {
	c, err := devServer.Client()
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	_ = c.TerminateWorkflow(context.Background(), workflowID, "", "chaos scenario done")
}
