package callback

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EventApprovalChange is DingTalk's event for an approval instance that started, was decided
// (finish, with result agree or refuse) or was withdrawn (terminate).
const EventApprovalChange = "bpms_instance_change"

// Approval change kinds, the payload's type.
const (
	ApprovalStart     = "start"
	ApprovalFinish    = "finish"
	ApprovalTerminate = "terminate"
)

// ApprovalChange is what a bpms_instance_change event says about its instance. The event
// carries the instance's id and form, not its state: the receiver re-reads the instance.
type ApprovalChange struct {
	InstanceID  string // processInstanceId
	ProcessCode string // processCode: the form (PROC-...)
	// Change is the payload's type: start, finish or terminate ("" if absent).
	Change string
	// Result is agree or refuse on a finish ("" otherwise).
	Result string
	// StaffID is the originator's userid.
	StaffID string
	Title   string
	// CreateTime and FinishTime are the instance's (zero if absent).
	CreateTime, FinishTime time.Time
}

// rawApproval is a bpms_instance_change payload: the same keys in the HTTP push, the Stream
// frame's data and the failed-push list's bpmsCallBackData.
type rawApproval struct {
	ProcessInstanceID json.RawMessage `json:"processInstanceId"`
	ProcessCode       json.RawMessage `json:"processCode"`
	Type              json.RawMessage `json:"type"`
	Result            json.RawMessage `json:"result"`
	StaffID           json.RawMessage `json:"staffId"`
	Title             json.RawMessage `json:"title"`
	CreateTime        json.RawMessage `json:"createTime"`
	FinishTime        json.RawMessage `json:"finishTime"`
}

// parseApproval reads a bpms_instance_change payload. The instance id and process code are
// required (the re-read needs the one and the stored row the other); the rest is kept when it
// reads and dropped when it does not, as the re-read gives the truth anyway.
func parseApproval(plaintext []byte) (*ApprovalChange, error) {
	var raw rawApproval
	if err := json.Unmarshal(plaintext, &raw); err != nil {
		return nil, fmt.Errorf("callback: %s event is not a JSON object of the expected fields: %w", EventApprovalChange, err)
	}
	text := func(v json.RawMessage) string {
		if isAbsent(v) {
			return ""
		}
		s, _ := scalar(v)
		return s
	}
	a := &ApprovalChange{InstanceID: text(raw.ProcessInstanceID), ProcessCode: text(raw.ProcessCode),
		Change: text(raw.Type), Result: text(raw.Result), StaffID: text(raw.StaffID), Title: text(raw.Title)}
	switch {
	case a.InstanceID == "":
		return nil, errors.New("callback: bpms_instance_change event has no processInstanceId")
	case a.ProcessCode == "":
		return nil, fmt.Errorf("callback: bpms_instance_change event of instance %s has no processCode", a.InstanceID)
	}
	a.CreateTime, _ = parseTime(raw.CreateTime, nil)
	a.FinishTime, _ = parseTime(raw.FinishTime, nil)
	return a, nil
}

// when is the time of the change: the finish time of a decided or withdrawn instance, else its
// create time.
func (a *ApprovalChange) when() time.Time {
	if !a.FinishTime.IsZero() {
		return a.FinishTime
	}
	return a.CreateTime
}
