package callback

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxIDs caps the user and department ids of one event, so a hostile or broken payload
// cannot make the receiver fan out without bound. DingTalk's contact events carry a few.
const maxIDs = 1000

// EventCheckURL is the event type DingTalk sends to verify a callback URL.
const EventCheckURL = "check_url"

// Event is one decrypted contact or approval event, from either the HTTP push (PascalCase or camelCase
// keys) or Stream. A Stream frame carries the type and id in its headers (eventType,
// eventId): add them to its data as EventType and eventId before parsing.
type Event struct {
	// ID is eventId, else BizId, else a stable hash of (type, corp, time, ids): never empty
	// after ParseEvent.
	ID string
	// Type is EventType: user_add_org, user_modify_org, user_leave_org, user_active_org,
	// org_dept_create, org_dept_modify, org_dept_remove, bpms_instance_change, check_url, ...
	Type   string
	CorpID string
	// Time is EventTime, else TimeStamp (ms, number or string); zero if absent.
	Time time.Time
	// UserIDs are UserId / userId.
	UserIDs []string
	// DeptIDs are DeptId / deptId (numbers or numeric strings).
	DeptIDs []int64
	// Approval is the instance a bpms_instance_change event names; nil for other events.
	Approval *ApprovalChange
}

// rawEvent is the payload as sent. encoding/json matches keys case-insensitively, so it
// reads EventType and eventType, UserId and userId alike; values whose JSON type varies
// stay raw and are read by hand.
type rawEvent struct {
	EventType string          `json:"EventType"`
	EventID   string          `json:"eventId"`
	BizID     string          `json:"BizId"`
	CorpID    string          `json:"CorpId"`
	EventTime json.RawMessage `json:"EventTime"`
	TimeStamp json.RawMessage `json:"TimeStamp"`
	UserID    json.RawMessage `json:"UserId"`
	DeptID    json.RawMessage `json:"DeptId"`
}

// ParseEvent reads a decrypted event payload. It refuses input that is not a JSON object,
// has no EventType, has ids of the wrong types, or has more than 1000 ids (a cap of this
// parser, not of DingTalk). check_url and other events without ids parse with none. A
// bpms_instance_change event must name its instance and form (see ApprovalChange); its time,
// absent EventTime and TimeStamp, is the instance's finish or create time.
func ParseEvent(plaintext []byte) (Event, error) {
	var raw rawEvent
	if err := json.Unmarshal(plaintext, &raw); err != nil {
		return Event{}, fmt.Errorf("callback: event is not a JSON object of the expected fields: %w", err)
	}
	if raw.EventType == "" {
		return Event{}, errors.New("callback: event has no EventType")
	}
	ev := Event{Type: raw.EventType, CorpID: raw.CorpID}
	var err error
	if ev.Time, err = parseTime(raw.EventTime, raw.TimeStamp); err != nil {
		return Event{}, err
	}
	if ev.UserIDs, err = parseIDs(raw.UserID, "UserId", userID); err != nil {
		return Event{}, err
	}
	if ev.DeptIDs, err = parseIDs(raw.DeptID, "DeptId", deptID); err != nil {
		return Event{}, err
	}
	if ev.Type == EventApprovalChange {
		if ev.Approval, err = parseApproval(plaintext); err != nil {
			return Event{}, err
		}
		if ev.Time.IsZero() {
			ev.Time = ev.Approval.when()
		}
	}
	if n := len(ev.UserIDs) + len(ev.DeptIDs); n > maxIDs {
		return Event{}, fmt.Errorf("callback: event has %d ids, more than this parser's cap of %d", n, maxIDs)
	}
	ev.ID = raw.EventID
	if ev.ID == "" {
		ev.ID = raw.BizID
	}
	if ev.ID == "" {
		ev.ID = ev.hash()
	}
	if err := ev.checkText(); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// maxTextLen bounds an event's id, type, corp and user ids (DingTalk's are well under 64 bytes).
const maxTextLen = 256

// checkText refuses texts the inbox could not keep as they came: too long, not UTF-8, or
// holding a NUL (Postgres refuses it).
func (ev Event) checkText() error {
	texts := append([]string{ev.ID, ev.Type, ev.CorpID}, ev.UserIDs...)
	if a := ev.Approval; a != nil {
		texts = append(texts, a.InstanceID, a.ProcessCode)
	}
	for _, t := range texts {
		switch {
		case len(t) > maxTextLen:
			return fmt.Errorf("callback: event has a %d-byte id or type, more than %d", len(t), maxTextLen)
		case !utf8.ValidString(t) || strings.ContainsRune(t, 0):
			return errors.New("callback: event has an id or type that is not UTF-8 text or holds a NUL")
		}
	}
	return nil
}

// parseTime reads EventTime, else TimeStamp: milliseconds as a number or a numeric string.
func parseTime(eventTime, timeStamp json.RawMessage) (time.Time, error) {
	name, v := "EventTime", eventTime
	if isAbsent(v) {
		name, v = "TimeStamp", timeStamp
	}
	if isAbsent(v) {
		return time.Time{}, nil
	}
	s, ok := scalar(v)
	ms, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil {
		return time.Time{}, fmt.Errorf("callback: %s %s is not milliseconds as an integer or a numeric string", name, clip(v))
	}
	return time.UnixMilli(ms), nil
}

// parseIDs reads an array of ids with parse, naming the field in errors. Absent or null
// is no ids.
func parseIDs[T any](v json.RawMessage, field string, parse func(json.RawMessage) (T, bool)) ([]T, error) {
	if isAbsent(v) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, fmt.Errorf("callback: %s must be an array, got %s", field, clip(v))
	}
	if len(items) > maxIDs {
		return nil, fmt.Errorf("callback: %s has %d ids, more than this parser's cap of %d", field, len(items), maxIDs)
	}
	out := make([]T, len(items))
	for i, item := range items {
		id, ok := parse(item)
		if !ok {
			return nil, fmt.Errorf("callback: %s[%d] = %s is not a valid id", field, i, clip(item))
		}
		out[i] = id
	}
	return out, nil
}

// userID reads a userid: a non-empty string, or an integer number kept as written.
func userID(v json.RawMessage) (string, bool) {
	s, ok := scalar(v)
	return s, ok && s != "" && (v[0] == '"' || isDigits(s))
}

// deptID reads a department id: a positive integer, as a number or a numeric string.
func deptID(v json.RawMessage) (int64, bool) {
	s, ok := scalar(v)
	if !ok || !isDigits(s) {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// scalar returns a JSON string's value or a JSON number's text; ok is false for anything else.
func scalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	if v[0] == '"' {
		var s string
		err := json.Unmarshal(v, &s)
		return s, err == nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", false
	}
	return n.String(), true
}

func isAbsent(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null" || string(v) == `""`
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// clip shortens a raw value for an error message.
func clip(v json.RawMessage) string {
	const n = 40
	if len(v) <= n {
		return string(v)
	}
	return string(v[:n]) + "…"
}

// hash identifies an event that came without eventId or BizId by its content, so a
// duplicate push of it gets the same ID.
func (ev Event) hash() string {
	var ms int64
	if !ev.Time.IsZero() {
		ms = ev.Time.UnixMilli()
	}
	// An approval event's instance, change and result join the key (omitted otherwise, so
	// contact events keep the ids they always had).
	var instance, change string
	if a := ev.Approval; a != nil {
		instance, change = a.InstanceID, a.Change+"/"+a.Result
	}
	key, _ := json.Marshal(struct {
		Type, Corp string
		Time       int64
		Users      []string
		Depts      []int64
		Instance   string `json:",omitempty"`
		Change     string `json:",omitempty"`
	}{ev.Type, ev.CorpID, ms, ev.UserIDs, ev.DeptIDs, instance, change})
	sum := sha256.Sum256(key)
	return "sha256:" + hex.EncodeToString(sum[:16])
}
