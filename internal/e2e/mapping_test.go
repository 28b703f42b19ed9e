package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/internal/store"
)

const mappingYAML = `fields:
  - {name: phone, from: mobile, type: string, transforms: [e164]}
  - {name: seat, from: extension.工位, type: string, transforms: [trim, lower]}
  - {name: hired_on, from: hired_date, type: date, transforms: [date_ms]}
`

// wantCustomFields is what the mapping makes of one DingTalk user.
func wantCustomFields(t *testing.T, m fieldmap.Mapping, u dingtalk.User) any {
	raw, _ := json.Marshal(store.ProfileFromUser(u))
	var attrs map[string]any
	if err := json.Unmarshal(raw, &attrs); err != nil {
		t.Fatal(err)
	}
	return normalizedJSON(m.Apply(attrs))
}

func normalizedJSON(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

func TestAFieldMappingFillsCustomFieldsAndFollowsEvents(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 151, Employees: 200})
	h.startWorker()
	h.bindWithEvents()
	file := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(file, []byte(mappingYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("fields:\n  - {name: x, from: salary, type: number}\n"), 0o600)
	if out, code := h.starter("", "mapping", "set", "--corp-id", h.corpID, "--file", bad, "--by", "alice"); code != 2 ||
		!strings.Contains(out, `"salary" is not a DingTalk employee field`) {
		t.Fatalf("a bad mapping: exit %d\n%s", code, out)
	}
	out := h.mustStarter("", "mapping", "set", "--corp-id", h.corpID, "--file", file, "--by", "alice")
	if !strings.Contains(out, "rewrote the custom fields of 200 of 200 employees") {
		t.Fatalf("mapping set:\n%s", out)
	}
	m, err := h.st.FieldMapping(t.Context(), h.corpID)
	if err != nil {
		t.Fatal(err)
	}
	check := func() []string {
		var bad []string
		for _, u := range h.truth().Users {
			var raw []byte
			if err := h.st.DB().Get(&raw, `SELECT custom_fields FROM hr_employees WHERE corp_id = $1 AND userid = $2`, h.corpID, u.UserID); err != nil {
				bad = append(bad, u.UserID+": "+err.Error())
				continue
			}
			var got any
			_ = json.Unmarshal(raw, &got)
			if want := wantCustomFields(t, m, u); !reflect.DeepEqual(got, want) {
				bad = append(bad, u.UserID)
			}
		}
		return bad
	}
	if bad := check(); len(bad) > 0 {
		t.Fatalf("%d employees' custom fields are not what the mapping makes of DingTalk, e.g. %v", len(bad), bad[:1])
	}
	u := h.sim.Truth(h.corpID).Users[7]
	u.Mobile = "139 0000 1234"
	if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM hr_employees WHERE corp_id = $1 AND userid = $2 AND custom_fields ->> 'phone' = '+8613900001234'`, h.corpID, u.UserID) == 1
	})
	res, out, code := h.syncFull()
	if code != 0 || res.Created+res.Updated+res.Deactivated != 0 {
		t.Fatalf("a full sync after the mapping and the event changed %+v (exit %d):\n%s", res, code, out)
	}
	h.assertStoreMatchesDingTalk()
}

func TestRosterFieldsAreMappedByTheNextFullSync(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 152, Employees: 120})
	h.startWorker()
	h.bindWithEvents()
	file := filepath.Join(t.TempDir(), "roster.yaml")
	mapping := "fields:\n  - {name: cert_no, from: roster.sys02-certNo, type: string}\n" +
		"  - {name: employee_type, from: roster.sys01-employeeType, type: string, enum: {\"1\": full_time, \"2\": part_time, \"3\": intern}}\n"
	if err := os.WriteFile(file, []byte(mapping), 0o600); err != nil {
		t.Fatal(err)
	}
	out := h.mustStarter("", "mapping", "set", "--corp-id", h.corpID, "--file", file, "--by", "alice")
	if !strings.Contains(out, "started that full sync") {
		t.Fatalf("mapping set does not start the full sync that reads the new roster fields:\n%s", out)
	}
	waitFor(t, time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE corp_id = $1 AND trigger = 'mapping: new roster fields' AND status = 'succeeded'`, h.corpID) == 1
	})
	target := h.truth().Users[9].UserID
	if err := h.sim.SetRosterField(h.corpID, target, "sys02-certNo", "110101199003078515"); err != nil {
		t.Fatal(err)
	}
	if res, out, code := h.syncFull(); code != 0 || res.Updated != 1 {
		t.Fatalf("the full sync after one roster edit updated %+v, want 1 (exit %d):\n%s", res, code, out)
	}
	for _, u := range h.truth().Users {
		roster, err := h.sim.Roster(h.corpID, u.UserID)
		if err != nil {
			t.Fatal(err)
		}
		var cert, kind *string
		if err := h.st.DB().QueryRow(`SELECT custom_fields ->> 'cert_no', custom_fields ->> 'employee_type' FROM hr_employees
			WHERE corp_id = $1 AND userid = $2`, h.corpID, u.UserID).Scan(&cert, &kind); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"1": "full_time", "2": "part_time", "3": "intern"}[roster["sys01-employeeType"]]
		if cert == nil || *cert != roster["sys02-certNo"] || (want != "" && (kind == nil || *kind != want)) {
			t.Fatalf("%s: custom fields cert_no %v, employee_type %v; DingTalk's roster %v", u.UserID, cert, kind, roster)
		}
	}
	if n := h.count(`SELECT count(*) FROM hr_employees WHERE corp_id = $1 AND userid = $2 AND custom_fields ->> 'cert_no' = '110101199003078515'`,
		h.corpID, target); n != 1 {
		t.Fatalf("the roster value set in DingTalk did not reach %s", target)
	}
}
