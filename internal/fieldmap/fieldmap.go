// Package fieldmap is a binding's declarative field mapping: which DingTalk fields (standard
// ones, keys of the employee's extension JSON, or smart-HR roster fields) become which typed
// custom fields of the HR store (employees.attrs.custom_fields), through which transforms. It
// is pure: the store applies it when it stages employees and when a mapping changes.
package fieldmap

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Mapping is a binding's field mapping (bindings.field_mapping).
type Mapping struct {
	Fields []Field `json:"fields"`
}

// Field maps one DingTalk field to one custom field.
type Field struct {
	// Name is the custom field's key in custom_fields.
	Name string `json:"name"`
	// From is a standard field of the employee (mobile, job_number, hired_date, …),
	// "extension.<key>" for a key of DingTalk's extension JSON, or "roster.<fieldCode>" for a
	// field of the smart-HR roster (花名册), e.g. roster.sys02-certNo, read by syncs as text.
	From string `json:"from"`
	// Type is what the custom field holds: string, number, bool or date (YYYY-MM-DD).
	Type string `json:"type"`
	// Transforms apply in order: trim, lower, upper, e164 (a mobile number in E.164, China's
	// +86 assumed without a country code), date_ms (epoch milliseconds to a date in China time).
	Transforms []string `json:"transforms,omitempty"`
	// Enum maps values to others after the transforms; a value it does not list becomes null.
	Enum map[string]string `json:"enum,omitempty"`
}

// Field types.
const (
	TypeString = "string"
	TypeNumber = "number"
	TypeBool   = "bool"
	TypeDate   = "date"
)

// standardFields are the employee fields a mapping may read, with the JSON type each holds.
var standardFields = map[string]string{
	"name": TypeString, "unionid": TypeString, "state_code": TypeString, "mobile": TypeString,
	"telephone": TypeString, "job_number": TypeString, "title": TypeString, "email": TypeString,
	"org_email": TypeString, "work_place": TypeString, "remark": TypeString, "hired_date": TypeNumber,
	"activated": TypeBool, "admin": TypeBool, "boss": TypeBool, "exclusive_account": TypeBool,
	"hide_mobile": TypeBool,
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Source prefixes of fields that are not standard.
const (
	extensionPrefix = "extension."
	rosterPrefix    = "roster."
)

// MaxRosterCodes is how many distinct roster fields a mapping may read: what one roster
// call takes.
const MaxRosterCodes = 100

// Parse reads and validates a mapping.
func Parse(raw []byte) (Mapping, error) {
	var m Mapping
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("field mapping: %w (want {\"fields\": [{\"name\", \"from\", \"type\", \"transforms\", \"enum\"}]})", err)
	}
	return m, m.Validate()
}

// Validate refuses unknown source fields, bad names, unknown types and transforms, and
// transforms that clash with the source's or the target's type.
func (m Mapping) Validate() error {
	seen := map[string]bool{}
	for i, f := range m.Fields {
		where := fmt.Sprintf("field %d (%s)", i+1, f.Name)
		if !nameRE.MatchString(f.Name) {
			return fmt.Errorf("%s: name must be lower-case letters, digits and _, starting with a letter", where)
		}
		if seen[f.Name] {
			return fmt.Errorf("%s: the name is used twice", where)
		}
		seen[f.Name] = true
		src, err := sourceType(f.From)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if !slices.Contains([]string{TypeString, TypeNumber, TypeBool, TypeDate}, f.Type) {
			return fmt.Errorf("%s: type %q: want string, number, bool or date", where, f.Type)
		}
		t := src
		for _, tr := range f.Transforms {
			if t, err = transformType(tr, t); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if len(f.Enum) > 0 {
			t = TypeString
		}
		if !assignable(t, f.Type) {
			return fmt.Errorf("%s: %s holds a %s, which cannot become a %s: add a transform (date_ms for dates from hired_date) or change the type", where, f.From, t, f.Type)
		}
	}
	if n := len(m.RosterCodes()); n > MaxRosterCodes {
		return fmt.Errorf("the mapping reads %d roster fields, at most %d allowed (one DingTalk roster call per 100 employees reads them all)", n, MaxRosterCodes)
	}
	return nil
}

// RosterCodes are the distinct roster field codes the mapping reads, sorted (none: nil). A
// sync reads exactly these from DingTalk's roster API, and only when there are some.
func (m Mapping) RosterCodes() []string {
	var codes []string
	for _, f := range m.Fields {
		if code, ok := strings.CutPrefix(f.From, rosterPrefix); ok && !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	return codes
}

// rosterCodeRE is what a roster field code looks like: sys02-certNo, customField-1a2b.
var rosterCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// sourceType is the type a source field holds ("any" for extension keys and roster fields).
func sourceType(from string) (string, error) {
	if key, ok := strings.CutPrefix(from, extensionPrefix); ok {
		if key == "" {
			return "", fmt.Errorf("from %q: name the extension key, e.g. extension.工号", from)
		}
		return "any", nil
	}
	if code, ok := strings.CutPrefix(from, rosterPrefix); ok {
		if !rosterCodeRE.MatchString(code) {
			return "", fmt.Errorf("from %q: name the roster field code, e.g. roster.sys02-certNo (codes are letters, digits, - _ and .)", from)
		}
		return "any", nil
	}
	if t, ok := standardFields[from]; ok {
		return t, nil
	}
	names := make([]string, 0, len(standardFields))
	for n := range standardFields {
		names = append(names, n)
	}
	slices.Sort(names)
	return "", fmt.Errorf("from %q is not a DingTalk employee field: use one of %s, extension.<key> or roster.<fieldCode>", from, strings.Join(names, ", "))
}

// transformType checks a transform against the type it gets and returns the type it gives.
func transformType(tr, in string) (string, error) {
	switch tr {
	case "trim", "lower", "upper", "e164":
		if in != TypeString && in != "any" {
			return "", fmt.Errorf("transform %s needs text, not a %s", tr, in)
		}
		return TypeString, nil
	case "date_ms":
		if in != TypeNumber && in != "any" {
			return "", fmt.Errorf("transform date_ms needs epoch milliseconds, not a %s", in)
		}
		return TypeDate, nil
	}
	return "", fmt.Errorf("unknown transform %q: want trim, lower, upper, e164 or date_ms", tr)
}

func assignable(have, want string) bool {
	return have == want || have == "any" || (want == TypeString && have != TypeBool)
}

// Apply computes the custom fields of one employee from their attributes (the JSON the HR store
// keeps: standard fields, the parsed extension object and the "roster" object of roster field
// values by code). A value that cannot be converted
// becomes null, so one odd record never stops a sync.
func (m Mapping) Apply(attrs map[string]any) map[string]any {
	if len(m.Fields) == 0 {
		return nil
	}
	out := make(map[string]any, len(m.Fields))
	for _, f := range m.Fields {
		out[f.Name] = f.value(attrs)
	}
	return out
}

func (f Field) value(attrs map[string]any) any {
	var v any
	if key, ok := strings.CutPrefix(f.From, extensionPrefix); ok {
		if ext, ok := attrs["extension"].(map[string]any); ok {
			v = ext[key]
		}
	} else if code, ok := strings.CutPrefix(f.From, rosterPrefix); ok {
		if roster, ok := attrs["roster"].(map[string]any); ok {
			v = roster[code]
		}
	} else {
		v = attrs[f.From]
	}
	if v == nil || v == "" {
		return nil
	}
	for _, tr := range f.Transforms {
		if v = transform(tr, v); v == nil {
			return nil
		}
	}
	if len(f.Enum) > 0 {
		mapped, ok := f.Enum[fmt.Sprint(v)]
		if !ok {
			return nil
		}
		v = mapped
	}
	return convert(v, f.Type)
}

func transform(tr string, v any) any {
	s, isString := v.(string)
	switch tr {
	case "trim":
		if isString {
			return strings.TrimSpace(s)
		}
	case "lower":
		if isString {
			return strings.ToLower(s)
		}
	case "upper":
		if isString {
			return strings.ToUpper(s)
		}
	case "e164":
		if isString {
			return e164(s)
		}
	case "date_ms":
		if ms, ok := v.(float64); ok && ms > 0 {
			return time.UnixMilli(int64(ms)).In(chinaTime).Format(time.DateOnly)
		}
	}
	return nil
}

var chinaTime = time.FixedZone("CST", 8*3600)

// e164 normalises a phone number: digits only, with +86 for an 11-digit Chinese mobile (or a
// "86"/"0086" prefix) and the given country code kept; nil when it is not a phone number.
func e164(s string) any {
	var digits strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	plus := strings.HasPrefix(strings.TrimSpace(s), "+")
	d = strings.TrimPrefix(d, "00")
	switch {
	case len(d) == 11 && d[0] == '1' && !plus:
		return "+86" + d
	case len(d) >= 8 && len(d) <= 15 && (plus || strings.HasPrefix(d, "86")):
		return "+" + d
	}
	return nil
}

func convert(v any, typ string) any {
	switch typ {
	case TypeString, TypeDate:
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v)
	case TypeNumber:
		switch x := v.(type) {
		case float64:
			return x
		case string:
			var n float64
			if _, err := fmt.Sscan(x, &n); err == nil {
				return n
			}
		}
	case TypeBool:
		switch x := v.(type) {
		case bool:
			return x
		case string:
			return x == "true" || x == "1" || x == "是"
		}
	}
	return nil
}
