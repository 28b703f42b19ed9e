package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
)

// statusOf reads `starter status --json`.
func (h *harness) statusOf() (status struct {
	Status      string                  `json:"status"`
	Reason      string                  `json:"reason"`
	Permissions []store.PermissionCheck `json:"permissions"`
	Snapshots   []store.Snapshot        `json:"snapshots"`
}) {
	h.t.Helper()
	out := h.mustStarter("", "status", "--corp-id", h.corpID, "--json")
	if err := json.Unmarshal([]byte(lastLine(out)), &status); err != nil {
		h.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return status
}

func (h *harness) permission(name string) store.PermissionCheck {
	h.t.Helper()
	for _, p := range h.statusOf().Permissions {
		if p.Permission == name {
			return p
		}
	}
	h.t.Fatalf("status lists no permission %s", name)
	return store.PermissionCheck{}
}

func TestBindVerifiesRegistersEventsAndSyncs(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 21, Employees: 300})
	h.startWorker()
	out, code := h.bindCLI(h.appSecret, "--callback-url", h.callbackURL())
	if code != 0 {
		t.Fatalf("bind exited %d:\n%s", code, out)
	}
	for _, want := range []string{"[ok]      verify the credentials", "[ok]      check permissions", "snapshot", "register the event callback", "initial full sync", "is active"} {
		if !strings.Contains(out, want) {
			t.Errorf("bind output lacks %q:\n%s", want, out)
		}
	}
	h.assertStoreMatchesDingTalk()
	st := h.statusOf()
	if st.Status != "active" || len(st.Permissions) != 6 || len(st.Snapshots) != 1 {
		t.Fatalf("status = %+v, want active with 6 permissions and 1 snapshot", st)
	}
	for _, p := range st.Permissions {
		if !p.Granted {
			t.Errorf("permission %s reported missing on an app that has it: %s", p.Permission, p.Detail)
		}
	}
	reg, ok := h.sim.Callback(h.corpID)
	if !ok || reg.URL != h.callbackURL() || len(reg.AESKey) != 43 {
		t.Fatalf("callback registration = %+v (%v)", reg, ok)
	}
	if n := h.count(`SELECT count(*) FROM credentials WHERE kind IN ('callback_token', 'callback_aes_key') AND status = 'active'`); n != 2 {
		t.Fatalf("%d active callback secrets stored, want 2", n)
	}
	// Binding again with the same app is idempotent.
	if out, code := h.bindCLI(h.appSecret); code != 0 {
		t.Fatalf("re-bind exited %d:\n%s", code, out)
	}
	// Another AppKey for a bound corp is refused.
	h.appKey = "dingotherapp"
	if out, code := h.bindCLI(h.appSecret); code == 0 || !strings.Contains(out, "unbind it first") {
		t.Fatalf("bind with another AppKey: exit %d\n%s", code, out)
	}
}

func TestBindWithWrongSecretSaysSoThenRebindFixesIt(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 22, Employees: 50})
	h.startWorker()
	out, code := h.bindCLI("wrong-secret")
	if code == 0 || !strings.Contains(out, "AppKey/AppSecret") || !strings.Contains(out, "credentials_invalid") {
		t.Fatalf("bind with a wrong secret: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "wrong-secret") {
		t.Fatalf("the output shows the secret:\n%s", out)
	}
	if out, code := h.bindCLI(h.appSecret); code != 0 || !strings.Contains(out, "is active") {
		t.Fatalf("re-bind with the right secret: exit %d\n%s", code, out)
	}
	h.assertStoreMatchesDingTalk()
}

func TestBindFromAnIPOutsideTheWhitelistNamesTheWhitelist(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 23, Employees: 50})
	if err := h.sim.AddApp(dingtalksim.App{CorpID: h.corpID, AppKey: h.appKey, AppSecret: h.appSecret,
		AllowedIPs: []string{"10.9.9.9"}}); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	out, code := h.bindCLI(h.appSecret)
	if code == 0 || !strings.Contains(strings.ToLower(out), "whitelist") {
		t.Fatalf("bind from outside the whitelist: exit %d\n%s", code, out)
	}
}

func TestMissingOptionalPermissionsDegradeButStillSync(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 24, Employees: 200})
	// The seed's "messages don't arrive" and "employee fields missing": no message permission,
	// no permission for sensitive contact fields.
	if err := h.sim.AddApp(dingtalksim.App{CorpID: h.corpID, AppKey: h.appKey, AppSecret: h.appSecret,
		Permissions: []string{dingtalksim.PermDepartmentRead, dingtalksim.PermUserRead, dingtalksim.PermAttendanceRead,
			dingtalksim.PermApprovalRead}}); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	out, code := h.bindCLI(h.appSecret)
	if code != 0 || !strings.Contains(out, "[degraded]") {
		t.Fatalf("bind without optional permissions: exit %d\n%s", code, out)
	}
	for _, name := range []string{"qyapi_message_corpconversation", "Contact.User.mobile"} {
		p := h.permission(name)
		if p.Granted || p.Required || !strings.Contains(p.Fix, "权限管理") {
			t.Errorf("permission %s = %+v, want missing, optional, with the console fix", name, p)
		}
	}
	if n := h.count(`SELECT count(*) FROM employees`); n == 0 {
		t.Fatal("the directory did not sync")
	}
	if text := h.mustStarter("", "status", "--corp-id", h.corpID); !strings.Contains(text, "MISSING") {
		t.Fatalf("status does not show the missing permissions:\n%s", text)
	}
}

func TestMissingRequiredPermissionWaitsThenResumeRechecks(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 25, Employees: 100})
	if err := h.sim.AddApp(dingtalksim.App{CorpID: h.corpID, AppKey: h.appKey, AppSecret: h.appSecret,
		Permissions: []string{dingtalksim.PermUserRead}}); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	out, code := h.bindCLI(h.appSecret)
	if code == 0 || !strings.Contains(out, "qyapi_get_department_list") || !strings.Contains(out, "starter resume") {
		t.Fatalf("bind without department read: exit %d\n%s", code, out)
	}
	if n := h.count(`SELECT count(*) FROM employees`); n != 0 {
		t.Fatalf("%d employees synced without the required permission", n)
	}
	// The admin grants it in the console; ops re-check.
	if err := h.sim.AddApp(dingtalksim.App{CorpID: h.corpID, AppKey: h.appKey, AppSecret: h.appSecret}); err != nil {
		t.Fatal(err)
	}
	if out := h.mustStarter("", "resume", "--corp-id", h.corpID); !strings.Contains(out, "is active") {
		t.Fatalf("resume after the grant:\n%s", out)
	}
	h.assertStoreMatchesDingTalk()
}

func TestPauseResumeUnbindAndSnapshotRestore(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 26, Employees: 100})
	h.startWorker()
	// The eHR system already held some rows for this corp before binding.
	h.bind(h.appSecret)
	if _, out, code := h.syncFull(); code != 0 {
		t.Fatalf("pre-binding sync failed:\n%s", out)
	}
	before := h.count(`SELECT count(*) FROM employees WHERE status = 'active'`)
	users := h.sim.Truth(h.corpID).Users
	for _, u := range users[:3] {
		if err := h.sim.RemoveUser(h.corpID, u.UserID); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := h.bindCLI(h.appSecret); code != 0 {
		t.Fatalf("bind exited %d:\n%s", code, out)
	}
	if n := h.count(`SELECT count(*) FROM employees WHERE status = 'active'`); n != before-3 {
		t.Fatalf("%d active after binding, want %d", n, before-3)
	}

	h.mustStarter("", "pause", "--corp-id", h.corpID, "--by", "bob", "--reason", "migration")
	if _, out, code := h.syncFull(); code == 0 || !strings.Contains(out, "paused") {
		t.Fatalf("sync of a paused corp: exit %d\n%s", code, out)
	}
	snap := h.statusOf().Snapshots[0]
	out := h.mustStarter("", "snapshot", "restore", "--corp-id", h.corpID, "--snapshot-id", itoa(snap.ID), "--by", "bob")
	if !strings.Contains(out, "restored snapshot") || h.count(`SELECT count(*) FROM employees WHERE status = 'active'`) != before {
		t.Fatalf("restore: %s (active %d, want %d)", out, h.count(`SELECT count(*) FROM employees WHERE status = 'active'`), before)
	}
	h.mustStarter("", "resume", "--corp-id", h.corpID, "--by", "bob")
	out = h.mustStarter("", "unbind", "--corp-id", h.corpID, "--by", "bob")
	if !strings.Contains(out, "HR data kept") {
		t.Fatalf("unbind does not say the data is kept:\n%s", out)
	}
	if st := h.statusOf(); st.Status != "unbound" {
		t.Fatalf("status after unbind = %s", st.Status)
	}
	if n := h.count(`SELECT count(*) FROM employees`); n == 0 {
		t.Fatal("unbind deleted HR data")
	}
	if n := h.count(`SELECT count(*) FROM ops_log WHERE action IN ('pause', 'resume', 'unbind', 'restore snapshot')`); n != 4 {
		t.Fatalf("%d ops actions logged, want pause, restore, resume and unbind", n)
	}
}
