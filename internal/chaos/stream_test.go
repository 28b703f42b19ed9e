package chaos

import (
	"fmt"
	"sync"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// stream changes the simulator's org at a steady pace, as HR does in DingTalk, so events
// flow: title changes, hires, leavers, rejoiners (a userid that left comes back), moves and
// department renames. Every change pushes an event to the registered callback.
//
// Rejoins are off except where a scenario is about event order: a leave that arrives after
// the same user's rejoin wrongly deactivates them (see TestChaosStaleLeaveAfterRejoin).
type stream struct {
	h     *harness
	every time.Duration
	stop  chan struct{}
	done  chan struct{}

	rejoins bool // leavers come back with the same userid

	mu      sync.Mutex
	changes int
	users   map[string]dingtalksim.User // active users, as last written
	ids     []string                    // keys of users, for random picks
	left    []dingtalksim.User          // users who left, to rejoin
	depts   []dingtalksim.Department
}

// startStream starts changing the org every interval until Stop; with rejoins, some leavers
// come back with the same userid.
func (h *harness) startStream(every time.Duration, rejoins bool) *stream {
	s := h.newStream()
	s.every, s.rejoins = every, rejoins
	go s.run()
	h.t.Cleanup(func() { s.Stop() })
	return s
}

// newStream returns a stream that changes the org only when told (change).
func (h *harness) newStream() *stream {
	truth := h.sim.Truth(h.corpID)
	s := &stream{h: h, stop: make(chan struct{}), done: make(chan struct{}),
		users: map[string]dingtalksim.User{}, depts: truth.Departments}
	for _, u := range truth.Users {
		s.users[u.UserID] = u
		s.ids = append(s.ids, u.UserID)
	}
	return s
}

// Stop ends the stream and returns how many changes it made.
func (s *stream) Stop() int {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

func (s *stream) run() {
	defer close(s.done)
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if err := s.change(i); err != nil {
			s.h.t.Errorf("change the org: %v", err)
			return
		}
	}
}

// change makes one random change; i makes names unique.
func (s *stream) change(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, sc, corp := s.h, s.h.sc, s.h.corpID
	var err error
	switch r := sc.intN(20); {
	case r < 9: // a title change
		u := s.users[s.pick()]
		u.Title = fmt.Sprintf("岗位%d", i)
		u, err = h.sim.UpdateUser(corp, u)
		s.users[u.UserID] = u
	case r < 11: // a hire
		u := dingtalksim.User{UserID: fmt.Sprintf("hire%d%s", i, randomHex(2)), Name: fmt.Sprintf("新人%d", i),
			DeptIDList: []int64{s.depts[sc.intN(len(s.depts))].ID}, Active: true}
		if u, err = h.sim.AddUser(corp, u); err == nil {
			s.add(u)
		}
	case r < 13: // a leaver
		id := s.pick()
		if err = h.sim.RemoveUser(corp, id); err == nil {
			s.left = append(s.left, s.users[id])
			s.remove(id)
		}
	case r < 15 && s.rejoins && len(s.left) > 0: // a leaver rejoins with the same userid
		u := s.left[0]
		s.left = s.left[1:]
		u.Title = fmt.Sprintf("回归%d", i)
		if u, err = h.sim.AddUser(corp, u); err == nil {
			s.add(u)
		}
	case r < 18: // a move
		u := s.users[s.pick()]
		to := s.depts[sc.intN(len(s.depts))].ID
		if from := u.DeptIDList[0]; from != to && !contains(u.DeptIDList, to) {
			u, err = h.sim.MoveUser(corp, u.UserID, from, to)
			s.users[u.UserID] = u
		}
	default: // a department renamed
		k := 1 + sc.intN(len(s.depts)-1) // never the root
		d := s.depts[k]
		d.Name = fmt.Sprintf("%s-%d", d.Name, i)
		if d, err = h.sim.UpdateDepartment(corp, d); err == nil {
			s.depts[k] = d
		}
	}
	if err == nil {
		s.changes++
	}
	return err
}

func (s *stream) pick() string { return s.ids[s.h.sc.intN(len(s.ids))] }

func (s *stream) add(u dingtalksim.User) {
	s.users[u.UserID] = u
	s.ids = append(s.ids, u.UserID)
}

func (s *stream) remove(id string) {
	delete(s.users, id)
	for i, v := range s.ids {
		if v == id {
			s.ids[i] = s.ids[len(s.ids)-1]
			s.ids = s.ids[:len(s.ids)-1]
			return
		}
	}
}

func contains(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}
