package dingtalksim

import (
	"net/http"
	"time"
)

// pushBody is PushOptions as JSON, durations in milliseconds; on PUT, absent fields keep
// their value.
type pushBody struct {
	Paused           *bool    `json:"paused"`
	DuplicateRate    *float64 `json:"duplicateRate"`
	DelayMs          *int64   `json:"delayMs"`
	JitterMs         *int64   `json:"jitterMs"`
	ReorderWindow    *int     `json:"reorderWindow"`
	Concurrency      *int     `json:"concurrency"`
	DropToFailedList *bool    `json:"dropToFailedList"`
	TimeoutMs        *int64   `json:"timeoutMs"`
	SkipURLCheck     *bool    `json:"skipUrlCheck"`
	Seed             *int64   `json:"seed"`
}

func pushJSON(o PushOptions) pushBody {
	delay, jitter, timeout := o.Delay.Milliseconds(), o.Jitter.Milliseconds(), o.Timeout.Milliseconds()
	return pushBody{Paused: &o.Paused, DuplicateRate: &o.DuplicateRate, DelayMs: &delay, JitterMs: &jitter,
		ReorderWindow: &o.ReorderWindow, Concurrency: &o.Concurrency, DropToFailedList: &o.DropToFailedList, TimeoutMs: &timeout,
		SkipURLCheck: &o.SkipURLCheck, Seed: &o.Seed}
}

// apply overlays the fields given on o.
func (b pushBody) apply(o PushOptions) PushOptions {
	ms := func(v *int64, d *time.Duration) {
		if v != nil {
			*d = time.Duration(*v) * time.Millisecond
		}
	}
	set := func(v *bool, f *bool) {
		if v != nil {
			*f = *v
		}
	}
	set(b.Paused, &o.Paused)
	set(b.DropToFailedList, &o.DropToFailedList)
	set(b.SkipURLCheck, &o.SkipURLCheck)
	ms(b.DelayMs, &o.Delay)
	ms(b.JitterMs, &o.Jitter)
	ms(b.TimeoutMs, &o.Timeout)
	if b.DuplicateRate != nil {
		o.DuplicateRate = *b.DuplicateRate
	}
	if b.ReorderWindow != nil {
		o.ReorderWindow = *b.ReorderWindow
	}
	if b.Concurrency != nil {
		o.Concurrency = *b.Concurrency
	}
	if b.Seed != nil {
		o.Seed = *b.Seed
	}
	return o
}

func (s *Server) adminSetPush(r *http.Request) (int, any, error) {
	var req pushBody
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	if err := s.SetPushOptions(req.apply(s.CurrentPushOptions())); err != nil {
		return 0, nil, err
	}
	o := s.CurrentPushOptions()
	s.logger.Info("push options changed", "paused", o.Paused, "dropToFailedList", o.DropToFailedList, "skipUrlCheck", o.SkipURLCheck)
	return http.StatusOK, pushJSON(o), nil
}

func (s *Server) adminPushStats(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct {
		CorpID string `json:"corpId"`
		PushStats
	}{corpID, s.PushStats(corpID)}, nil
}
