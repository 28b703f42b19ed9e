package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coder/websocket"
)

// StreamHandler handles one EVENT frame. Returning nil acknowledges it (DingTalk will not send
// it again); an error answers LATER, and DingTalk redelivers it. It runs for one frame at a time,
// in arrival order.
type StreamHandler func(ctx context.Context, frame StreamFrame) error

const (
	maxStreamFrame   = 1 << 20 // bytes; contact events are far smaller
	streamQueueSize  = 256     // EVENT frames read but not handled yet
	streamWriteLimit = 5 * time.Second
)

// streamConn is one open Stream connection: a reader that answers SYSTEM frames at once and
// queues EVENT frames, a handler goroutine that handles and acknowledges them in order, and a
// keep-alive that pings the socket when it is idle.
type streamConn struct {
	ws     *websocket.Conn
	handle StreamHandler
	opts   StreamOptions
	corpID string
	log    *slog.Logger
}

// errStreamDisconnect ends a connection DingTalk asked to close: reconnect at once.
var errStreamDisconnect = errors.New("dingtalk asked the stream connection to disconnect")

// run serves the connection until it fails, ctx ends, or DingTalk sends disconnect (then the
// events already read are handled and acknowledged before the socket closes, and run returns
// errStreamDisconnect).
func (s *streamConn) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ws.SetReadLimit(maxStreamFrame)
	events := make(chan StreamFrame, streamQueueSize)
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		for f := range events {
			if ctx.Err() == nil {
				s.event(ctx, f)
			}
		}
	}()
	go s.keepAlive(ctx)
	err := s.read(ctx, events)
	close(events)
	if errors.Is(err, errStreamDisconnect) {
		<-handled
		_ = s.ws.Close(websocket.StatusNormalClosure, "disconnect")
		return err
	}
	cancel()
	_ = s.ws.CloseNow()
	<-handled
	return err
}

// read reads frames until the socket fails or DingTalk asks to disconnect.
func (s *streamConn) read(ctx context.Context, events chan<- StreamFrame) error {
	for {
		typ, raw, err := s.ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("read the stream: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		f, err := ParseStreamFrame(raw)
		if err != nil {
			s.log.Warn("dingtalk stream: skipping a frame that does not parse", "corp", s.corpID, "error", err)
			continue
		}
		switch {
		case f.Type == StreamTypeSystem && f.Topic() == StreamTopicPing:
			if err := s.write(ctx, AckPong(f)); err != nil {
				return err
			}
		case f.Type == StreamTypeSystem && f.Topic() == StreamTopicDisconnect:
			if err := s.write(ctx, AckSuccess(f.MessageID())); err != nil {
				return err
			}
			return errStreamDisconnect
		case f.Type == StreamTypeEvent:
			select {
			case events <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			if err := s.write(ctx, AckNoHandler(f.MessageID())); err != nil {
				return err
			}
		}
	}
}

// event handles one EVENT frame and acknowledges it: SUCCESS once the handler returned nil,
// LATER otherwise. A failed ack write leaves the event unacknowledged: DingTalk redelivers it.
func (s *streamConn) event(ctx context.Context, f StreamFrame) {
	ack := AckSuccess(f.MessageID())
	if err := s.handle(ctx, f); err != nil {
		ack = AckLater(f.MessageID())
		s.log.Warn("dingtalk stream: event not handled; DingTalk will redeliver it", "corp", s.corpID,
			"event_id", f.Header("eventId"), "error", err)
	}
	if err := s.write(ctx, ack); err != nil && ctx.Err() == nil {
		s.log.Warn("dingtalk stream: ack not sent; DingTalk will redeliver the event", "corp", s.corpID,
			"event_id", f.Header("eventId"), "error", err)
	}
}

// write sends an ack (the socket allows concurrent writers).
func (s *streamConn) write(ctx context.Context, ack StreamAck) error {
	raw, err := json.Marshal(ack)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, streamWriteLimit)
	defer cancel()
	if err := s.ws.Write(wctx, websocket.MessageText, raw); err != nil {
		return fmt.Errorf("write to the stream: %w", err)
	}
	return nil
}

// keepAlive pings the socket every KeepAlive and closes it when no pong comes within PongWait,
// so a connection that died silently is noticed and replaced.
func (s *streamConn) keepAlive(ctx context.Context) {
	t := time.NewTicker(s.opts.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.opts.PongWait)
		err := s.ws.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("dingtalk stream: no pong; reconnecting", "corp", s.corpID, "error", err)
			_ = s.ws.CloseNow()
			return
		}
	}
}
