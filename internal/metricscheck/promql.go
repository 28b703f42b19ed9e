package metricscheck

import (
	"fmt"
	"regexp"
	"strings"
)

// Keywords of PromQL that read like identifiers but are not metric names: operators,
// modifiers and aggregations (which may be followed by "by (…)" rather than "("). Functions
// need no list: they are the identifiers followed by "(".
var promqlKeywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true,
}

// labelListKeywords are followed by a parenthesized list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// MetricNames returns the metric names a PromQL expression selects, in order of appearance.
// It is a lexer, not a parser: run `promtool check rules` for syntax. It skips strings, label
// matchers ({…}), ranges ([…]), numbers, durations, keywords, function names and the label
// lists of by/without/on/ignoring/group_left/group_right; what is left are the selectors'
// names. `{__name__="x"}` selectors are refused, as they hide the name from this check.
func MetricNames(expr string) ([]string, error) {
	if strings.Contains(expr, "__name__") {
		return nil, fmt.Errorf("%q: select metrics by name, not with __name__", expr)
	}
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			i = skipTo(expr, i, '{', '}')
		case c == '[':
			i = skipTo(expr, i, '[', ']')
		case c == '#':
			i = skipLine(expr, i)
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			i = skipNumber(expr, i)
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdentChar(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := skipSpace(expr, j)
			switch {
			case labelListKeywords[word] && k < len(expr) && expr[k] == '(':
				j = skipTo(expr, k, '(', ')')
			case word == "offset":
				j = skipNumber(expr, skipSpace(expr, k))
			case promqlKeywords[word] || (k < len(expr) && expr[k] == '('):
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

// LabelValuesQuery returns the series selector of a Grafana `label_values(selector, label)`
// variable query, or ok=false for other queries.
func LabelValuesQuery(q string) (selector string, ok bool) {
	m := regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`).FindStringSubmatch(q)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var grafanaVar = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// ExpandGrafanaVars replaces Grafana's variables in an expression so PromQL tools can read it:
// interval variables ($__rate_interval, $__interval, $__range) by 5m, any other by "x".
func ExpandGrafanaVars(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(strings.TrimLeft(v, "${"), "__") {
			return "5m"
		}
		return "x"
	})
}

func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		if s[i] == '\\' && q != '`' {
			i++
			continue
		}
		if s[i] == q {
			return i + 1
		}
	}
	return i
}

// skipTo skips the bracketed group that starts at s[i] (quotes inside it included).
func skipTo(s string, i int, open, closing byte) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case open:
			depth++
		case closing:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

func skipLine(s string, i int) int {
	for i < len(s) && s[i] != '\n' {
		i++
	}
	return i
}

// skipNumber skips a number or a duration (0.99, 1e3, 0x1f, 26h, 1h30m).
func skipNumber(s string, i int) int {
	for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' || ((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
		i++
	}
	return i
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
