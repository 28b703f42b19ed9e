package dingtalk

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dingsync/dingsync/internal/callback"
)

// Event parses the failed push's event into the shape the HTTP push produces. The payload is
// callbackData, else bpmsCallBackData (an object or a string holding one). A payload without
// EventType (an approval payload may not name it) takes the entry's call_back_tag; nothing
// else is filled in, so an event's content-hash id is the one its push would have had.
func (f FailedPush) Event() (callback.Event, error) {
	payload := f.payload()
	ev, err := callback.ParseEvent(payload)
	if err == nil || f.Tag == "" {
		return ev, err
	}
	fields := map[string]json.RawMessage{}
	if json.Unmarshal(payload, &fields) != nil || hasKeyFold(fields, "EventType") {
		return ev, fmt.Errorf("failed push of %s: %w", f.Tag, err)
	}
	fields["EventType"], _ = json.Marshal(f.Tag) // a string always marshals
	merged, err := json.Marshal(fields)
	if err != nil {
		return callback.Event{}, err
	}
	return callback.ParseEvent(merged)
}

// payload is the event's plaintext JSON.
func (f FailedPush) payload() []byte {
	if len(bytes.TrimSpace([]byte(f.Data))) > 0 {
		return []byte(f.Data)
	}
	raw := bytes.TrimSpace(f.BpmsData)
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}
