package dingtalksim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Contact change event types, named as DingTalk names them.
const (
	EventUserAddOrg    = "user_add_org"
	EventUserModifyOrg = "user_modify_org"
	EventUserLeaveOrg  = "user_leave_org"
	EventUserActiveOrg = "user_active_org"
	EventDeptCreate    = "org_dept_create"
	EventDeptModify    = "org_dept_modify"
	EventDeptRemove    = "org_dept_remove"
)

// Event is one change to an org, recorded by every mutation, or to an approval instance:
// what DingTalk would push to the corp's apps as a contact event or a bpms_instance_change.
type Event struct {
	// ID is unique across simulator runs, like DingTalk's eventId.
	ID     string `json:"eventId"`
	CorpID string `json:"corpId"`
	Type   string `json:"eventType"`
	// Time is the event time in unix milliseconds.
	Time    int64    `json:"eventTime"`
	UserIDs []string `json:"userId,omitempty"`
	DeptIDs []int64  `json:"deptId,omitempty"`
	// Approval is the instance a bpms_instance_change event is about (nil for contact events).
	Approval *ApprovalEvent `json:"approval,omitempty"`
}

// Events returns corpID's recorded events, oldest first.
func (s *Server) Events(corpID string) []Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.corps[corpID]
	if c == nil {
		return []Event{}
	}
	out := make([]Event, len(c.events))
	for i, e := range c.events {
		e.UserIDs, e.DeptIDs = slices.Clone(e.UserIDs), slices.Clone(e.DeptIDs)
		if e.Approval != nil {
			a := *e.Approval
			e.Approval = &a
		}
		out[i] = e
	}
	return out
}

// OnEvent registers hook to receive every event after its change is visible, in order,
// synchronously: mutations wait for it, so it should be quick (the callback pusher queues).
func (s *Server) OnEvent(hook func(Event)) {
	s.mutMu.Lock()
	defer s.mutMu.Unlock()
	s.hooks = append(s.hooks, hook)
}

// mutate is the one way the org changes: it runs change on corpID's org under the write
// lock, records the event change describes (adding its id, corp and time) and hands it to
// the hooks.
func (s *Server) mutate(corpID string, change func(c *corp, now time.Time) (Event, error)) (Event, error) {
	s.mutMu.Lock()
	defer s.mutMu.Unlock()
	now := s.clock()
	s.mu.Lock()
	c := s.corps[corpID]
	if c == nil {
		s.mu.Unlock()
		return Event{}, fmt.Errorf("%w: corp %q has no org", ErrNotFound, corpID)
	}
	ev, err := change(c, now)
	if err == nil {
		ev = c.record(corpID, ev, now)
	}
	s.mu.Unlock()
	if err != nil {
		return Event{}, err
	}
	s.logger.Info("org changed", "corp", corpID, "event", ev.Type, "users", ev.UserIDs, "depts", ev.DeptIDs)
	s.notify(ev)
	return ev, nil
}

// record stamps ev with a new id, the corp and now, and appends it to the corp's events;
// callers hold s.mutMu and s.mu.
func (c *corp) record(corpID string, ev Event, now time.Time) Event {
	var id [16]byte
	_, _ = rand.Read(id[:])
	ev.ID, ev.CorpID, ev.Time = hex.EncodeToString(id[:]), corpID, now.UnixMilli()
	c.events = append(c.events, ev)
	return ev
}

// notify hands a recorded event to the hooks; callers hold s.mutMu, so hooks see events in
// the order they were recorded.
func (s *Server) notify(ev Event) {
	for _, h := range s.hooks {
		h(ev)
	}
}
