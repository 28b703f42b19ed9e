package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// ApprovalRefs are the approval instances an inbox event names, stored as
// inbox_events.instance_refs: a JSON array of {"instance_id", "process_code"}.
type ApprovalRefs []ApprovalRef

// approvalRefJSON is one element of instance_refs.
type approvalRefJSON struct {
	InstanceID  string `json:"instance_id"`
	ProcessCode string `json:"process_code"`
}

// Value encodes the refs as a JSON array (empty, never null).
func (r ApprovalRefs) Value() (driver.Value, error) {
	out := make([]approvalRefJSON, len(r))
	for i, ref := range r {
		out[i] = approvalRefJSON(ref)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// Scan decodes instance_refs.
func (r *ApprovalRefs) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		*r = ApprovalRefs{}
		return nil
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return fmt.Errorf("inbox_events.instance_refs: cannot read a %T", src)
	}
	var in []approvalRefJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("inbox_events.instance_refs is not a JSON array of instance refs: %w", err)
	}
	out := make(ApprovalRefs, len(in))
	for i, ref := range in {
		out[i] = ApprovalRef(ref)
	}
	*r = out
	return nil
}
