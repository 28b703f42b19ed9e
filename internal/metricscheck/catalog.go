// Package metricscheck checks dingsync's metrics contract from every side: the catalogue in
// README.md, the collectors metrics.New defines, what a running worker exports, and the PromQL
// of the dashboards and alert rules in dashboards/. The tests that use it live beside the
// things they check (internal/e2e, dashboards/); this package only parses and compares.
package metricscheck

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Entry is one row of the README's metrics catalogue.
type Entry struct {
	Name string // e.g. dingsync_sync_runs_total
	Type string // counter, gauge or histogram
	// Labels are the label names, in the table's order.
	Labels []string
	// Values holds the value set of each label whose cell enumerates it
	// ("`kind`: full, incremental"); labels described in prose ("`corp`: the corp id") have none.
	Values map[string][]string
}

var (
	catalogueName = regexp.MustCompile("^`(dingsync_[a-z0-9_]+)`$")
	labelCell     = regexp.MustCompile("^`([a-zA-Z_][a-zA-Z0-9_]*)`(?::\\s*(.*))?$")
	enumValue     = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// ParseCatalogue reads the dingsync_* rows of the table in README.md's "## Metrics" section.
// Each row is | `name` | type | labels | meaning |, labels being "—" or "; "-separated cells
// of the form "`label`: v1, v2" (an enumerated set) or "`label`: prose".
func ParseCatalogue(readme []byte) ([]Entry, error) {
	var entries []Entry
	in, seen := false, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Metrics"
			continue
		case !in || !strings.HasPrefix(line, "|"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		m := catalogueName.FindStringSubmatch(cells[0])
		if m == nil {
			if strings.Contains(cells[0], "dingsync_") {
				return nil, fmt.Errorf("README.md:%d: metric cell %q is not a backquoted dingsync_ name", n, cells[0])
			}
			continue // header, separator, or a row of another table
		}
		if len(cells) != 4 {
			return nil, fmt.Errorf("README.md:%d: %s: want 4 cells (metric, type, labels, meaning), got %d", n, m[1], len(cells))
		}
		e, err := parseRow(m[1], cells[1], cells[2])
		if err != nil {
			return nil, fmt.Errorf("README.md:%d: %w", n, err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("README.md:%d: %s is catalogued twice", n, e.Name)
		}
		seen[e.Name] = true
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("README.md has no dingsync_ rows in a \"## Metrics\" table")
	}
	return entries, nil
}

func parseRow(name, typ, labels string) (Entry, error) {
	e := Entry{Name: name, Type: typ, Values: map[string][]string{}}
	switch typ {
	case "counter", "gauge", "histogram":
	default:
		return e, fmt.Errorf("%s: type %q, want counter, gauge or histogram", name, typ)
	}
	if labels == "—" || labels == "-" || labels == "" {
		return e, nil
	}
	for _, cell := range strings.Split(labels, ";") {
		m := labelCell.FindStringSubmatch(strings.TrimSpace(cell))
		if m == nil {
			return e, fmt.Errorf("%s: label cell %q is not \"`label`: values\"", name, strings.TrimSpace(cell))
		}
		e.Labels = append(e.Labels, m[1])
		var values []string
		for _, v := range strings.Split(m[2], ",") {
			v = strings.TrimSpace(v)
			if !enumValue.MatchString(v) {
				values = nil
				break
			}
			values = append(values, v)
		}
		if values != nil {
			e.Values[m[1]] = values
		}
	}
	return e, nil
}
