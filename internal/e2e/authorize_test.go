package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/workflows"
)

// authorizeLink runs `starter authorize --json --no-wait` and returns the login link.
func (h *harness) authorizeLink() string {
	h.t.Helper()
	out := h.mustStarter("", "authorize", "--corp-id", h.corpID, "--json", "--wait=false")
	var res struct{ URL string }
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil || res.URL == "" {
		h.t.Fatalf("authorize printed no link: %v\n%s", err, out)
	}
	return res.URL
}

// openLink is the admin's browser: it follows DingTalk's redirect to the worker.
func openLink(t *testing.T, link string) (status int, body, finalURL string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Request.URL.String()
}

func (h *harness) authorizeResult() (activities.AuthorizeResult, error) {
	c, err := devServer.Client()
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res activities.AuthorizeResult
	err = c.GetWorkflow(ctx, workflows.AuthorizeWorkflowID(h.corpID), "").Get(ctx, &res)
	return res, err
}

func userWhere(t *testing.T, users []dingtalksim.User, admin bool) dingtalksim.User {
	t.Helper()
	for _, u := range users {
		if u.Admin == admin {
			return u
		}
	}
	t.Fatalf("the generated org has no user with admin=%v", admin)
	return dingtalksim.User{}
}

func TestAdminConsentIsRecordedAndTheLinkWorksOnce(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 31, Employees: 200})
	h.startWorker()
	h.bind(h.appSecret)
	admin := userWhere(t, h.sim.Truth(h.corpID).Users, true)
	if err := h.sim.SetConsentingUser(h.appKey, admin.UserID); err != nil {
		t.Fatal(err)
	}
	status, body, callback := openLink(t, h.authorizeLink())
	if status != http.StatusOK || !strings.Contains(body, "Authorization received") {
		t.Fatalf("redirect answered %d: %s", status, body)
	}
	res, err := h.authorizeResult()
	if err != nil || res.UserID != admin.UserID {
		t.Fatalf("authorization = %+v, %v; want %s", res, err, admin.UserID)
	}
	if n := h.count(`SELECT count(*) FROM bindings WHERE authorized_by LIKE '%' || $1 || '%' AND authorized_at IS NOT NULL`, admin.UserID); n != 1 {
		t.Fatal("who authorized is not recorded on the binding")
	}
	if status, body, _ := openLink(t, callback); status != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Fatalf("reused link answered %d: %s", status, body)
	}
	forged := strings.Replace(callback, "state=", "state=forged", 1)
	if status, body, _ := openLink(t, forged); status != http.StatusBadRequest || !strings.Contains(body, "unknown state") {
		t.Fatalf("forged state answered %d: %s", status, body)
	}
	if n := h.count(`SELECT count(*) FROM ops_log WHERE action = 'authorize'`); n != 1 {
		t.Fatalf("%d authorize entries in the ops log", n)
	}
}

func TestConsentFromANonAdminIsRefused(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 32, Employees: 200})
	h.startWorker()
	h.bind(h.appSecret)
	if err := h.sim.SetConsentingUser(h.appKey, userWhere(t, h.sim.Truth(h.corpID).Users, false).UserID); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := openLink(t, h.authorizeLink()); status != http.StatusOK {
		t.Fatalf("redirect answered %d: %s", status, body)
	}
	_, err := h.authorizeResult()
	if err == nil || !strings.Contains(workflows.FailureMessage(err), "is not an admin") {
		t.Fatalf("authorization by a non-admin: %v", err)
	}
	if n := h.count(`SELECT count(*) FROM bindings WHERE authorized_by IS NOT NULL`); n != 0 {
		t.Fatal("a non-admin's consent was recorded")
	}
}
