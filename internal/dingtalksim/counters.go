package dingtalksim

import (
	"maps"
	"sync"
)

// counters count API calls per corp, API and outcome.
type counters struct {
	mu sync.Mutex
	m  map[string]map[string]map[string]int64 // corp → API → outcome → calls
}

func newCounters() *counters { return &counters{m: map[string]map[string]map[string]int64{}} }

func (c *counters) add(corpID, api, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	apis := c.m[corpID]
	if apis == nil {
		apis = map[string]map[string]int64{}
		c.m[corpID] = apis
	}
	outcomes := apis[api]
	if outcomes == nil {
		outcomes = map[string]int64{}
		apis[api] = outcomes
	}
	outcomes[outcome]++
}

// Calls returns how many calls of each API (keyed by path, e.g. APIUserList) corpID made,
// whatever their outcome. Calls that could not be tied to a corp (unknown token or app
// key) are counted under corpID "".
func (s *Server) Calls(corpID string) map[string]int64 {
	s.counters.mu.Lock()
	defer s.counters.mu.Unlock()
	out := map[string]int64{}
	for api, outcomes := range s.counters.m[corpID] {
		for _, n := range outcomes {
			out[api] += n
		}
	}
	return out
}

// CallOutcomes returns corpID's calls per API and outcome (Outcome* constants).
func (s *Server) CallOutcomes(corpID string) map[string]map[string]int64 {
	s.counters.mu.Lock()
	defer s.counters.mu.Unlock()
	out := map[string]map[string]int64{}
	for api, outcomes := range s.counters.m[corpID] {
		out[api] = maps.Clone(outcomes)
	}
	return out
}

// ResetCalls zeroes every counter.
func (s *Server) ResetCalls() {
	s.counters.mu.Lock()
	defer s.counters.mu.Unlock()
	clear(s.counters.m)
}
