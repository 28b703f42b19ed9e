package dingtalksim

import (
	"encoding/json"
	"time"
)

// Approval events: starting, deciding or withdrawing an instance (AddApprovalInstance,
// SetApprovalStatus, /_sim/approvals) records a bpms_instance_change event, which goes through
// the same hooks as contact events: pushed to a callback that subscribes to the tag, queued for
// the corp's Stream apps, and filed in the failed list (under bpmsCallBackData) when a push
// fails.

// EventApprovalChange is DingTalk's event for an approval instance that started, was decided
// or was withdrawn.
const EventApprovalChange = "bpms_instance_change"

// Kinds of approval change, the payload's type.
const (
	ApprovalChangeStart     = "start"
	ApprovalChangeFinish    = "finish"    // COMPLETED, with result agree or refuse
	ApprovalChangeTerminate = "terminate" // TERMINATED: withdrawn
)

// ApprovalEvent is the payload of a bpms_instance_change event, with DingTalk's keys: the same
// in the HTTP push (beside EventType, corpId and eventId) and the Stream frame's data (beside
// corpId).
type ApprovalEvent struct {
	InstanceID  string `json:"processInstanceId"`
	ProcessCode string `json:"processCode"`
	Type        string `json:"type"`
	Result      string `json:"result,omitempty"`
	Title       string `json:"title"`
	StaffID     string `json:"staffId"` // the originator
	CreateTime  int64  `json:"createTime"`
	FinishTime  int64  `json:"finishTime,omitempty"`
	URL         string `json:"url"`
}

// approvalEvent describes change of inst.
func approvalEvent(inst ApprovalInstance, change string) *ApprovalEvent {
	a := &ApprovalEvent{InstanceID: inst.ID, ProcessCode: inst.ProcessCode, Type: change, Title: inst.Title,
		StaffID: inst.OriginatorUserID, CreateTime: inst.CreateTime.UnixMilli(),
		URL: "https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?procInstId=" + inst.ID}
	if change != ApprovalChangeStart {
		a.Result = inst.Result
		if !inst.FinishTime.IsZero() {
			a.FinishTime = inst.FinishTime.UnixMilli()
		}
	}
	return a
}

// decisionChange is the change a status is the outcome of: finish, terminate, or "" (RUNNING).
func decisionChange(status string) string {
	switch status {
	case ApprovalCompleted:
		return ApprovalChangeFinish
	case ApprovalTerminated:
		return ApprovalChangeTerminate
	}
	return ""
}

// changeApprovals runs change, which starts or decides instances of corpID and describes what
// it did, then records an event of each description and hands it to the hooks, all under the
// mutation lock, so events keep the order of the changes. A corp without an org records none.
func (s *Server) changeApprovals(corpID string, change func(now time.Time) ([]*ApprovalEvent, error)) error {
	s.mutMu.Lock()
	defer s.mutMu.Unlock()
	now := s.clock()
	changes, err := change(now)
	if err != nil {
		return err
	}
	var events []Event
	s.mu.Lock()
	if c := s.corps[corpID]; c != nil {
		for _, a := range changes {
			events = append(events, c.record(corpID, Event{Type: EventApprovalChange, Approval: a}, now))
		}
	}
	s.mu.Unlock()
	for _, ev := range events {
		s.logger.Info("approval changed", "corp", corpID, "instance", ev.Approval.InstanceID, "type", ev.Approval.Type)
		s.notify(ev)
	}
	return nil
}

// bpmsPushPayload is the plaintext of a bpms_instance_change HTTP push.
type bpmsPushPayload struct {
	EventType string `json:"EventType"`
	CorpID    string `json:"corpId"`
	EventID   string `json:"eventId"`
	ApprovalEvent
}

// approvalPushPayload is ev's HTTP push plaintext.
func approvalPushPayload(ev Event) []byte {
	// Marshal cannot fail on strings and numbers.
	payload, _ := json.Marshal(bpmsPushPayload{EventType: ev.Type, CorpID: ev.CorpID, EventID: ev.ID, ApprovalEvent: *ev.Approval})
	return payload
}

// approvalStreamData is ev's Stream EVENT frame data (type, id and time go in the headers).
func approvalStreamData(ev Event) []byte {
	data, _ := json.Marshal(struct {
		CorpID string `json:"corpId"`
		ApprovalEvent
	}{ev.CorpID, *ev.Approval})
	return data
}
