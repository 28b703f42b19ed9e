package dingtalksim

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestGenerateOrgIsDeterministic(t *testing.T) {
	spec := OrgSpec{Seed: 42, Employees: 2000}
	a, b := GenerateOrg("c", spec), GenerateOrg("c", spec)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different orgs")
	}
	spec.Seed = 43
	if reflect.DeepEqual(a, GenerateOrg("c", spec)) {
		t.Fatal("different seeds gave the same org")
	}
	// The truth of a loaded org is the generated org, with derived fields filled in.
	s1, s2 := New(DefaultOptions()), New(DefaultOptions())
	for _, s := range []*Server{s1, s2} {
		if err := s.LoadOrg(GenerateOrg("c", OrgSpec{Seed: 42, Employees: 2000})); err != nil {
			t.Fatal(err)
		}
	}
	t1, t2 := s1.Truth("c"), s2.Truth("c")
	if !reflect.DeepEqual(t1, t2) {
		t.Fatal("same seed gave different truths")
	}
	if len(t1.Users) != len(a.Users) || len(t1.Departments) != len(a.Departments) || t1.Users[0].UserID != a.Users[0].UserID {
		t.Fatal("truth differs from the generated org")
	}
}

func TestGenerateOrgShape(t *testing.T) {
	tests := []struct {
		employees int
		seed      int64
	}{
		{employees: 10_000, seed: 1},
		{employees: 100_000, seed: 2},
	}
	for _, tt := range tests {
		start := time.Now()
		org := GenerateOrg("c", OrgSpec{Seed: tt.seed, Employees: tt.employees})
		elapsed := time.Since(start)
		if elapsed > 2*time.Second && !raceEnabled {
			t.Errorf("%d employees: generation took %v, want < 2s", tt.employees, elapsed)
		}
		wantDepts := float64(tt.employees) / 20
		if got := float64(len(org.Departments)); math.Abs(got-wantDepts) > wantDepts*0.1 {
			t.Errorf("%d employees: %v departments, want ≈%v", tt.employees, got, wantDepts)
		}
		if len(org.Users) != tt.employees {
			t.Errorf("%d users, want %d", len(org.Users), tt.employees)
		}
		checkOrgShape(t, org)
	}
}

// checkOrgShape checks the realism properties GenerateOrg promises.
func checkOrgShape(t *testing.T, org Org) {
	t.Helper()
	parent := map[int64]int64{}
	for _, d := range org.Departments {
		parent[d.ID] = d.ParentID
	}
	maxDepth := 0
	for id := range parent {
		depth := 1
		for a := id; a != RootDepartmentID; a = parent[a] {
			depth++
		}
		maxDepth = max(maxDepth, depth)
	}
	if maxDepth != 5 {
		t.Errorf("max depth %d, want 5", maxDepth)
	}
	multi, inactive, withExt, leaders := 0, 0, 0, 0
	names := map[string]int{}
	jobNumbers := map[string]int{}
	rare, outsideBMP := false, false
	for _, u := range org.Users {
		if len(u.DeptIDList) > 1 {
			multi++
		}
		if !u.Active {
			inactive++
		}
		if u.Extension != "" {
			withExt++
			if !strings.HasPrefix(u.Extension, `{"`) {
				t.Fatalf("extension %q is not a JSON object", u.Extension)
			}
		}
		for _, l := range u.LeaderInDept {
			if l.Leader {
				leaders++
			}
		}
		names[u.Name]++
		if u.JobNumber != "" {
			jobNumbers[u.JobNumber]++
		}
		for _, r := range u.Name {
			rare = rare || strings.ContainsRune("𠮷䶮堃喆", r)
			outsideBMP = outsideBMP || utf8.RuneLen(r) == 4
		}
	}
	n := float64(len(org.Users))
	if r := float64(multi) / n; r < 0.04 || r > 0.06 {
		t.Errorf("%.3f of users in two departments, want ≈0.05", r)
	}
	if r := float64(inactive) / n; r < 0.01 || r > 0.03 {
		t.Errorf("%.3f inactive, want ≈0.02", r)
	}
	if r := float64(withExt) / n; r < 0.25 || r > 0.35 {
		t.Errorf("%.3f with extension, want ≈0.3", r)
	}
	if leaders < len(org.Departments)/2 {
		t.Errorf("%d leaders for %d departments", leaders, len(org.Departments))
	}
	dupNames, dupJobs := 0, 0
	for _, c := range names {
		if c > 1 {
			dupNames++
		}
	}
	for _, c := range jobNumbers {
		if c > 1 {
			dupJobs++
		}
	}
	if dupNames < len(org.Users)/100 {
		t.Errorf("only %d duplicated names", dupNames)
	}
	if dupJobs == 0 {
		t.Error("no duplicated job numbers")
	}
	if !rare || !outsideBMP {
		t.Errorf("rare characters: %v, outside the BMP: %v", rare, outsideBMP)
	}
	if len(org.Leavers) == 0 {
		t.Error("no leavers")
	}
}

func TestGenerateOrgSmallAndEmpty(t *testing.T) {
	for _, n := range []int{0, 1, 3, 25} {
		s := New(DefaultOptions())
		if err := s.LoadOrg(GenerateOrg("c", OrgSpec{Seed: 1, Employees: n})); err != nil {
			t.Fatalf("%d employees: %v", n, err)
		}
		truth := s.Truth("c")
		if len(truth.Users) != n || truth.Departments[0].ID != RootDepartmentID {
			t.Fatalf("%d employees: got %d users, first department %d", n, len(truth.Users), truth.Departments[0].ID)
		}
		if truth.Departments[0].MemberCount != int64(n) {
			t.Fatalf("%d employees: root member_count %d", n, truth.Departments[0].MemberCount)
		}
	}
}
