package dingtalksim

import (
	"fmt"
	"net/http"
)

// streamBody is StreamOptions as JSON, durations in milliseconds; on PUT, absent fields keep
// their value.
type streamBody struct {
	AckTimeoutMs      *int64   `json:"ackTimeoutMs"`
	PingIntervalMs    *int64   `json:"pingIntervalMs"`
	Window            *int     `json:"window"`
	DuplicateRate     *float64 `json:"duplicateRate"`
	LaterDelayMs      *int64   `json:"laterDelayMs"`
	DisconnectGraceMs *int64   `json:"disconnectGraceMs"`
	Seed              *int64   `json:"seed"`
}

func streamJSON(o StreamOptions) streamBody {
	ack, ping, later, grace := o.AckTimeout.Milliseconds(), o.PingInterval.Milliseconds(), o.LaterDelay.Milliseconds(), o.DisconnectGrace.Milliseconds()
	return streamBody{AckTimeoutMs: &ack, PingIntervalMs: &ping, Window: &o.Window, DuplicateRate: &o.DuplicateRate,
		LaterDelayMs: &later, DisconnectGraceMs: &grace, Seed: &o.Seed}
}

// apply overlays the fields given on o.
func (b streamBody) apply(o StreamOptions) StreamOptions {
	overlayMillis(b.AckTimeoutMs, &o.AckTimeout)
	overlayMillis(b.PingIntervalMs, &o.PingInterval)
	overlayMillis(b.LaterDelayMs, &o.LaterDelay)
	overlayMillis(b.DisconnectGraceMs, &o.DisconnectGrace)
	overlay(b.Window, &o.Window)
	overlay(b.DuplicateRate, &o.DuplicateRate)
	overlay(b.Seed, &o.Seed)
	return o
}

// streamAdmin registers the Stream routes of the admin API:
//
//	GET  /_sim/stream                      200 {"ackTimeoutMs","pingIntervalMs","window","duplicateRate",
//	                                       "laterDelayMs","disconnectGraceMs","seed"} (StreamOptions)
//	PUT  /_sim/stream                      body: any of those fields; 200 the options now in force
//	GET  /_sim/stream/{appKey}             200 StreamStats of the app
//	POST /_sim/stream/{appKey}/disconnect  SYSTEM disconnect on each connection; 200 {"connections":n}
//	POST /_sim/stream/{appKey}/drop        closes each connection at once; 200 {"connections":n}
func (s *Server) streamAdmin(handle func(string, func(*http.Request) (int, any, error))) {
	handle("GET /_sim/stream", func(*http.Request) (int, any, error) {
		return http.StatusOK, streamJSON(s.CurrentStreamOptions()), nil
	})
	handle("PUT /_sim/stream", func(r *http.Request) (int, any, error) {
		var req streamBody
		if err := readJSON(r, &req); err != nil {
			return 0, nil, err
		}
		if err := s.SetStreamOptions(req.apply(s.CurrentStreamOptions())); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, streamJSON(s.CurrentStreamOptions()), nil
	})
	handle("GET /_sim/stream/{appKey}", func(r *http.Request) (int, any, error) {
		return http.StatusOK, s.StreamStats(r.PathValue("appKey")), nil
	})
	for action, fn := range map[string]func(string) int{"disconnect": s.StreamDisconnect, "drop": s.StreamDrop} {
		handle("POST /_sim/stream/{appKey}/"+action, func(r *http.Request) (int, any, error) {
			n := fn(r.PathValue("appKey"))
			if n == 0 {
				return 0, nil, fmt.Errorf("%w: app %q has no stream connection", ErrNotFound, r.PathValue("appKey"))
			}
			s.logger.Info("stream "+action, "app", r.PathValue("appKey"), "connections", n)
			return http.StatusOK, map[string]int{"connections": n}, nil
		})
	}
}
