package dingtalksim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// streamClient is a raw Stream client: it reads frames into a channel, so tests can wait for
// one with a timeout without closing the socket.
type streamClient struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan simFrame
	closed chan struct{}
}

// openStream calls the gateway and returns its status and body.
func (e *env) openStream(clientID, secret, subs string) (int, streamOpenBody, []byte) {
	e.t.Helper()
	body := fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"subscriptions":%s,"ua":"test"}`, clientID, secret, subs)
	status, raw := e.do(http.MethodPost, APIStreamOpen, http.Header{"Content-Type": {"application/json"}}, []byte(body))
	var ep streamOpenBody
	_ = json.Unmarshal(raw, &ep)
	return status, ep, raw
}

// connectStream opens and dials a connection of the test app subscribed to every event.
func (e *env) connectStream() *streamClient {
	e.t.Helper()
	status, ep, raw := e.openStream(testKey, testSecret, `[{"type":"EVENT","topic":"*"}]`)
	if status != http.StatusOK {
		e.t.Fatalf("open: HTTP %d: %s", status, raw)
	}
	return e.dialStream(ep)
}

func (e *env) dialStream(ep streamOpenBody) *streamClient {
	e.t.Helper()
	ws, _, err := websocket.Dial(context.Background(), ep.Endpoint+"?ticket="+ep.Ticket, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	c := &streamClient{t: e.t, ws: ws, frames: make(chan simFrame, 100), closed: make(chan struct{})}
	e.t.Cleanup(func() { _ = ws.CloseNow() })
	go func() {
		defer close(c.closed)
		for {
			_, raw, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var f simFrame
			if json.Unmarshal(raw, &f) == nil {
				c.frames <- f
			}
		}
	}()
	return c
}

// next returns the next frame of type typ (others are skipped), failing after timeout.
func (c *streamClient) next(typ string, timeout time.Duration) simFrame {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f := <-c.frames:
			if f.Type == typ {
				return f
			}
		case <-c.closed:
			c.t.Fatalf("the connection closed while waiting for a %s frame", typ)
		case <-deadline:
			c.t.Fatalf("no %s frame within %s", typ, timeout)
		}
	}
}

// none fails if a frame of type typ arrives within d.
func (c *streamClient) none(typ string, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if f.Type == typ {
				c.t.Fatalf("unexpected %s frame: %+v", typ, f)
			}
		case <-c.closed:
			return
		case <-deadline:
			return
		}
	}
}

// reply sends an ack of f with code and data.
func (c *streamClient) reply(f simFrame, code int, data string) {
	c.t.Helper()
	raw, _ := json.Marshal(simAck{Code: code, Message: "ok", Data: data,
		Headers: map[string]string{"messageId": f.Headers["messageId"], "contentType": "application/json"}})
	if err := c.ws.Write(context.Background(), websocket.MessageText, raw); err != nil {
		c.t.Fatal(err)
	}
}

func (c *streamClient) ack(f simFrame) {
	c.t.Helper()
	c.reply(f, 200, `{"status":"SUCCESS","message":"success"}`)
}

// waitClosed fails unless the server closes the connection within timeout.
func (c *streamClient) waitClosed(timeout time.Duration) {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(timeout):
		c.t.Fatalf("the connection is still open after %s", timeout)
	}
}

// renameUser changes a user's title, which records a user_modify_org event.
func (e *env) renameUser(i int, title string) Event {
	e.t.Helper()
	u := e.sim.Truth(testCorp).Users[i]
	u.Title = title
	if _, err := e.sim.UpdateUser(testCorp, u); err != nil {
		e.t.Fatal(err)
	}
	evs := e.sim.Events(testCorp)
	return evs[len(evs)-1]
}

func (e *env) setStream(o StreamOptions) {
	e.t.Helper()
	if err := e.sim.SetStreamOptions(o); err != nil {
		e.t.Fatal(err)
	}
}

func dataOf(t *testing.T, f simFrame) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(strings.NewReader(f.Data)).Decode(&m); err != nil {
		t.Fatalf("data %q: %v", f.Data, err)
	}
	return m
}
