package metricscheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/metrics"
)

// TestREADMECatalogueIsEveryDefinedMetric checks the README's table against every collector
// metrics.New defines, including those no code path has used yet (audits, rotations): same
// names, types and label names, both ways.
func TestREADMECatalogueIsEveryDefinedMetric(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range catalogueProblems(t, readme) {
		t.Error(p)
	}
}

// TestCatalogueCheckFindsMistakes makes sure the check above can fail: a README with a row
// dropped, a label renamed or a type changed is caught.
func TestCatalogueCheckFindsMistakes(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	for _, c := range []struct{ name, find, replace, want string }{
		{"row dropped", "| `dingsync_credential_rotations_total` |", "", "not in README.md"},
		{"label renamed", "`credential`: app_secret", "`cred`: app_secret", "has labels"},
		{"type changed", "| `dingsync_inbox_backlog` | gauge |", "| `dingsync_inbox_backlog` | counter |", "is a gauge"},
		{"extra row", "| `dingsync_inbox_backlog` |", "| `dingsync_inbox_backlogs` | gauge | — | x |\n| `dingsync_inbox_backlog` |", "does not define"},
	} {
		mutated := slices.Clone(lines)
		found := false
		for i, l := range mutated {
			if strings.Contains(l, c.find) {
				found = true
				if c.replace == "" {
					mutated[i] = ""
				} else {
					mutated[i] = strings.Replace(l, c.find, c.replace, 1)
				}
			}
		}
		if !found {
			t.Fatalf("%s: README.md has no %q to change", c.name, c.find)
		}
		problems := catalogueProblems(t, []byte(strings.Join(mutated, "\n")))
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: problems %q, want one containing %q", c.name, problems, c.want)
		}
	}
}

func catalogueProblems(t *testing.T, readme []byte) []string {
	entries, err := ParseCatalogue(readme)
	if err != nil {
		t.Fatal(err)
	}
	defined, fields, err := Defined(metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	ours := 0
	for name, f := range defined {
		if !strings.HasPrefix(name, "dingsync_") {
			continue
		}
		ours++
		i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name })
		if i < 0 {
			problems = append(problems, fmt.Sprintf("%s (%s) is defined in internal/metrics but not in README.md's metrics table", name, TypeName(f)))
			continue
		}
		problems = append(problems, CompareEntry(entries[i], f)...)
	}
	if ours != fields {
		problems = append(problems, fmt.Sprintf("metrics.Metrics has %d collectors but %d dingsync_ families were gathered", fields, ours))
	}
	for _, e := range entries {
		if defined[e.Name] == nil {
			problems = append(problems, fmt.Sprintf("README.md catalogues %s, which internal/metrics does not define", e.Name))
		}
	}
	for _, group := range []string{"`temporal_*`", "`go_*`", "`process_*`"} {
		if !strings.Contains(string(readme), group) {
			problems = append(problems, fmt.Sprintf("README.md's metrics section does not mention the %s group", group))
		}
	}
	return problems
}

func TestParseCatalogue(t *testing.T) {
	table := "# x\n\n## Metrics\n\n| metric | type | labels | meaning |\n|---|---|---|---|\n"
	for _, c := range []struct {
		name, rows, err string
		want            []Entry
	}{
		{name: "enumerated and prose labels",
			rows: "| `dingsync_a_total` | counter | `kind`: full, incremental; `corp`: the corp id | a |\n| `dingsync_b` | gauge | — | b |\n",
			want: []Entry{{Name: "dingsync_a_total", Type: "counter", Labels: []string{"kind", "corp"},
				Values: map[string][]string{"kind": {"full", "incremental"}}}, {Name: "dingsync_b", Type: "gauge"}}},
		{name: "unknown type", rows: "| `dingsync_a` | meter | — | a |\n", err: "type \"meter\""},
		{name: "label not quoted", rows: "| `dingsync_a` | gauge | kind: x | a |\n", err: "label cell"},
		{name: "name not quoted", rows: "| dingsync_a | gauge | — | a |\n", err: "not a backquoted"},
		{name: "twice", rows: "| `dingsync_a` | gauge | — | a |\n| `dingsync_a` | gauge | — | a |\n", err: "twice"},
		{name: "missing cell", rows: "| `dingsync_a` | gauge | a |\n", err: "want 4 cells"},
		{name: "no table", rows: "", err: "no dingsync_ rows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCatalogue([]byte(table + c.rows + "\n## Next\n| `dingsync_other` | gauge | — | x |\n"))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d entries, want %d: %+v", len(got), len(c.want), got)
			}
			for i := range got {
				w := c.want[i]
				if got[i].Name != w.Name || got[i].Type != w.Type || !slices.Equal(got[i].Labels, w.Labels) ||
					!slices.Equal(got[i].Values["kind"], w.Values["kind"]) || len(got[i].Values) != len(w.Values) {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], w)
				}
			}
		})
	}
}
