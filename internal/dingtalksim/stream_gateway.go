package dingtalksim

import (
	"encoding/json"
	"net/http"
	"time"
)

// streamOpenRequest is the POST /v1.0/gateway/connections/open body.
type streamOpenRequest struct {
	ClientID      string               `json:"clientId"`
	ClientSecret  string               `json:"clientSecret"`
	Subscriptions []streamSubscription `json:"subscriptions"`
	UserAgent     string               `json:"ua"`
	LocalIP       string               `json:"localIp"`
	Extras        map[string]string    `json:"extras"`
}

type streamSubscription struct {
	Type  string `json:"type"`
	Topic string `json:"topic"`
}

// streamOpenBody is its response.
type streamOpenBody struct {
	Endpoint string `json:"endpoint"`
	Ticket   string `json:"ticket"`
}

// Frame types of Stream mode.
const (
	streamSystem   = "SYSTEM"
	streamEvent    = "EVENT"
	streamCallback = "CALLBACK"
)

// openStreamConnection serves POST /v1.0/gateway/connections/open: it checks clientId and
// clientSecret as the token endpoints do (a refusal is HTTP 401 invalidClientIdOrSecret, a
// whitelist miss HTTP 403 IpNotInWhiteList) and the subscriptions, and hands out a one-time
// ticket for the WebSocket endpoint on this host, valid for a minute.
func (s *Server) openStreamConnection(c *call) reply {
	var req streamOpenRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		return c.invalid("body is not valid JSON")
	}
	if req.ClientID == "" || req.ClientSecret == "" {
		return c.invalid("clientId and clientSecret are required")
	}
	if len(req.Subscriptions) == 0 {
		return c.invalid("subscriptions must name at least one {type, topic}")
	}
	events := false
	for _, sub := range req.Subscriptions {
		if (sub.Type != streamSystem && sub.Type != streamEvent && sub.Type != streamCallback) || sub.Topic == "" {
			return c.invalid("subscriptions: type must be SYSTEM, EVENT or CALLBACK, with a topic")
		}
		events = events || sub.Type == streamEvent
	}
	s.auth.mu.RLock()
	app, code := s.auth.login(req.ClientID, req.ClientSecret, c.ip, c.now)
	s.auth.mu.RUnlock()
	switch code {
	case CodeOK:
	case CodeIPNotAllowed:
		return c.ipDenied()
	default:
		return c.apiFail(http.StatusUnauthorized, APICodeBadCredentials, "无效的clientId或者clientSecret", OutcomeAuth)
	}
	ticket := s.stream.issueTicket(app.AppKey, app.CorpID, events, c.now)
	scheme := "ws"
	if c.r.TLS != nil {
		scheme = "wss"
	}
	return c.ok(streamOpenBody{Endpoint: scheme + "://" + c.r.Host + StreamConnectPath, Ticket: ticket})
}

// issueTicket records a one-time ticket for appKey and puts the app in Stream mode (its
// corp's events queue for it from now on, if it subscribes to events).
func (h *streamHub) issueTicket(appKey, corpID string, events bool, now time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for t, v := range h.tickets {
		if !now.Before(v.expires) {
			delete(h.tickets, t)
		}
	}
	a := h.appLocked(appKey, corpID)
	a.subscribed = a.subscribed || events
	a.stats.Opens++
	t := newSecret()
	h.tickets[t] = streamTicket{appKey: appKey, events: events, expires: now.Add(streamTicketTTL)}
	return t
}

// takeTicket consumes a ticket; ok is false for an unknown, used or expired one.
func (h *streamHub) takeTicket(t string) (streamTicket, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.tickets[t]
	delete(h.tickets, t)
	return v, ok && h.clock().Before(v.expires)
}
