package dingtalksim

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// streamConn is one accepted WebSocket connection of an app.
type streamConn struct {
	hub    *streamHub
	app    *streamApp
	ws     *websocket.Conn
	events bool // subscribed to EVENT frames

	// Guarded by hub.mu:
	inflight     int
	closing      bool   // told to disconnect: no more events
	gone         bool   // closed: its writer must not take events any more
	pendingPing  string // messageId of the ping not answered yet
	disconnectID string
}

// simFrame is a frame the simulator sends.
type simFrame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Time        int64             `json:"time"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// simAck is a client's reply to a frame.
type simAck struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

const streamWriteTimeout = 5 * time.Second

// serveStream serves the WebSocket endpoint: a valid one-time ticket upgrades the request to a
// connection of the ticket's app; anything else is HTTP 401.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	h := s.stream
	t, ok := h.takeTicket(r.URL.Query().Get("ticket"))
	if !ok {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(apiErrorBody{Code: "InvalidTicket", Message: "ticket is unknown, used or expired: open a new connection", RequestID: randomString(newAPIRequestIDAlphabet, 32)})
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.mu.Lock()
	a := h.apps[t.appKey]
	c := &streamConn{hub: h, app: a, ws: ws, events: t.events}
	a.conns[c] = struct{}{}
	a.stats.Connects++
	h.broadcastLocked()
	h.mu.Unlock()
	h.logger.Info("stream connected", "app", a.appKey, "corp", a.corpID)
	go c.writeEvents(ctx)
	go c.ping(ctx)
	c.readAcks(ctx)
	cancel()
	_ = ws.CloseNow()
	h.closed(c)
}

// writeEvents sends the app's queued events while the connection has room in its window.
func (c *streamConn) writeEvents(ctx context.Context) {
	h := c.hub
	for {
		h.mu.Lock()
		ev, id, ok := h.nextLocked(c)
		changed := h.changed
		h.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		if err := c.write(ctx, c.eventFrame(ev, id)); err != nil {
			_ = c.ws.CloseNow()
			return
		}
	}
}

// nextLocked takes the next event c may send, records it in flight with its ack timer, and
// returns it with its new messageId; callers hold h.mu.
func (h *streamHub) nextLocked(c *streamConn) (Event, string, bool) {
	a := c.app
	if !c.events || c.closing || c.gone || c.inflight >= h.opts.Window || len(a.queue) == 0 {
		return Event{}, "", false
	}
	m := a.queue[0]
	a.queue = a.queue[1:]
	m.messageID, m.conn = newSecret(), c
	c.inflight++
	a.inflight[m.messageID] = m
	id := m.messageID
	m.timer = time.AfterFunc(h.opts.AckTimeout, func() { h.timedOut(a, id) })
	a.stats.Sent++
	return m.ev, id, true
}

// timedOut queues an event again whose ack did not come in time.
func (h *streamHub) timedOut(a *streamApp, messageID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := a.inflight[messageID]
	if m == nil {
		return
	}
	a.stats.TimedOut++
	h.requeueLocked(a, m)
}

// requeueLocked takes m out of flight and puts it back in the queue; callers hold h.mu.
func (h *streamHub) requeueLocked(a *streamApp, m *streamMsg) {
	m.timer.Stop()
	delete(a.inflight, m.messageID)
	m.conn.inflight--
	m.conn = nil
	a.stats.Redelivered++
	a.insertLocked(m)
	h.broadcastLocked()
}

// readAcks reads the client's replies until the connection fails.
func (c *streamConn) readAcks(ctx context.Context) {
	for {
		typ, raw, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		var ack simAck
		if typ != websocket.MessageText || json.Unmarshal(raw, &ack) != nil {
			continue // not an ack: DingTalk ignores it too
		}
		c.hub.acked(c, ack)
	}
}

// acked applies a client's reply: a pong, the ack of a disconnect, or an event's ack.
func (h *streamHub) acked(c *streamConn, ack simAck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, id := c.app, ack.Headers["messageId"]
	switch {
	case id == "":
		return
	case id == c.pendingPing:
		c.pendingPing = ""
		a.stats.Pongs++
		return
	case id == c.disconnectID:
		return
	}
	m := a.inflight[id]
	if m == nil || m.conn != c {
		return // late: the event was already queued again
	}
	var status struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal([]byte(ack.Data), &status)
	if ack.Code == 200 && status.Status == "SUCCESS" {
		m.timer.Stop()
		delete(a.inflight, id)
		c.inflight--
		a.stats.Acked++
		h.broadcastLocked()
		return
	}
	a.stats.Later++
	m.timer.Stop()
	delete(a.inflight, id)
	c.inflight--
	m.conn = nil
	a.delayed++
	h.broadcastLocked()
	time.AfterFunc(h.opts.LaterDelay, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		a.delayed--
		a.stats.Redelivered++
		a.insertLocked(m)
		h.broadcastLocked()
	})
}

// closed forgets a connection and queues its unacknowledged events again.
func (h *streamHub) closed(c *streamConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := c.app
	c.gone = true
	delete(a.conns, c)
	for _, m := range a.inflight {
		if m.conn == c {
			h.requeueLocked(a, m)
		}
	}
	h.broadcastLocked()
	h.logger.Info("stream connection closed", "app", a.appKey, "corp", a.corpID)
}

// ping sends a SYSTEM ping every PingInterval and drops the connection when the previous one
// is still unanswered.
func (c *streamConn) ping(ctx context.Context) {
	h := c.hub
	h.mu.Lock()
	every := h.opts.PingInterval
	h.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		missed := c.pendingPing != ""
		id := newSecret()
		if missed {
			c.app.stats.Drops++
		} else {
			c.pendingPing = id
			c.app.stats.Pings++
		}
		h.mu.Unlock()
		if missed {
			h.logger.Warn("stream ping not answered: dropping the connection", "app", c.app.appKey)
			_ = c.ws.CloseNow()
			return
		}
		data, _ := json.Marshal(map[string]string{"opaque": id})
		if err := c.write(ctx, c.systemFrame("ping", id, string(data))); err != nil {
			return
		}
	}
}

// disconnect tells the client to reconnect and closes the connection after DisconnectGrace.
func (c *streamConn) disconnect() {
	h := c.hub
	h.mu.Lock()
	if c.closing {
		h.mu.Unlock()
		return
	}
	c.closing, c.disconnectID = true, newSecret()
	c.app.stats.Disconnects++
	id, grace := c.disconnectID, h.opts.DisconnectGrace
	h.mu.Unlock()
	data, _ := json.Marshal(map[string]string{"reason": "the server is rebalancing connections"})
	_ = c.write(context.Background(), c.systemFrame("disconnect", id, string(data)))
	time.AfterFunc(grace, func() { _ = c.ws.CloseNow() })
}

func (c *streamConn) write(ctx context.Context, f simFrame) error {
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, streamWriteTimeout)
	defer cancel()
	return c.ws.Write(wctx, websocket.MessageText, raw)
}

func (c *streamConn) systemFrame(topic, messageID, data string) simFrame {
	now := strconv.FormatInt(c.hub.clock().UnixMilli(), 10)
	return simFrame{SpecVersion: "1.0", Type: streamSystem, Time: c.hub.clock().UnixMilli(), Data: data,
		Headers: map[string]string{"topic": topic, "messageId": messageID, "contentType": "application/json", "time": now}}
}

// streamEventData is an EVENT frame's data (dingtalk-api.md §6c): user events
// {"timeStamp":"<ms>","userId":[...]} (user_active_org: userId only), department events
// {"deptId":[...]}.
type streamEventData struct {
	TimeStamp string   `json:"timeStamp,omitempty"`
	UserID    []string `json:"userId,omitempty"`
	DeptID    []int64  `json:"deptId,omitempty"`
}

// eventFrame is the EVENT frame of ev with DingTalk's headers.
func (c *streamConn) eventFrame(ev Event, messageID string) simFrame {
	d := streamEventData{UserID: ev.UserIDs, DeptID: ev.DeptIDs}
	switch ev.Type {
	case EventUserAddOrg, EventUserModifyOrg, EventUserLeaveOrg:
		d.TimeStamp = strconv.FormatInt(ev.Time, 10)
	}
	data, _ := json.Marshal(d)
	if ev.Approval != nil {
		data = approvalStreamData(ev)
	}
	now := c.hub.clock().UnixMilli()
	return simFrame{SpecVersion: "1.0", Type: streamEvent, Time: now, Data: string(data), Headers: map[string]string{
		"topic": "*", "messageId": messageID, "contentType": "application/json", "time": strconv.FormatInt(now, 10),
		"eventId": ev.ID, "eventBornTime": strconv.FormatInt(ev.Time, 10), "eventCorpId": ev.CorpID,
		"eventType": ev.Type, "eventUnifiedAppId": unifiedAppID(c.app.appKey),
	}}
}

// unifiedAppID is a stable UUID-shaped id of an app, as DingTalk's eventUnifiedAppId.
func unifiedAppID(appKey string) string {
	s := sha256.Sum256([]byte("unified-app:" + appKey))
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}
