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
	overlay(b.Paused, &o.Paused)
	overlay(b.DropToFailedList, &o.DropToFailedList)
	overlay(b.SkipURLCheck, &o.SkipURLCheck)
	overlayMillis(b.DelayMs, &o.Delay)
	overlayMillis(b.JitterMs, &o.Jitter)
	overlayMillis(b.TimeoutMs, &o.Timeout)
	overlay(b.DuplicateRate, &o.DuplicateRate)
	overlay(b.ReorderWindow, &o.ReorderWindow)
	overlay(b.Concurrency, &o.Concurrency)
	overlay(b.Seed, &o.Seed)
	return o
}

// overlay sets *dst to *v when the JSON body gave v (absent fields keep their value).
func overlay[T any](v *T, dst *T) {
	if v != nil {
		*dst = *v
	}
}

// overlayMillis sets *dst to v milliseconds when the JSON body gave v.
func overlayMillis(v *int64, dst *time.Duration) {
	if v != nil {
		*dst = time.Duration(*v) * time.Millisecond
	}
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
