package dingtalk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dingsync/dingsync/internal/callback"
)

// Stream mode (dingtalk-api.md §6b): the app opens a connection through the gateway, dials the
// WebSocket it names, and DingTalk sends frames on it; every frame is acknowledged on the same
// socket. This file holds the frames; stream_open.go the gateway call, stream_conn.go the
// connection and stream_run.go the reconnecting loop.

// Frame types and the SYSTEM topics of Stream mode.
const (
	StreamTypeSystem   = "SYSTEM"
	StreamTypeEvent    = "EVENT"
	StreamTypeCallback = "CALLBACK"

	// StreamTopicPing asks the client to echo the frame's data.
	StreamTopicPing = "ping"
	// StreamTopicDisconnect tells the client to acknowledge, close and reconnect.
	StreamTopicDisconnect = "disconnect"
)

// Ack codes and statuses of Stream mode.
const (
	StreamCodeOK       = 200
	StreamCodeNotFound = 404 // no handler for the frame's type and topic
	StreamCodeError    = 500 // the handler failed: DingTalk redelivers the event
	StreamStatusOK     = "SUCCESS"
	StreamStatusLater  = "LATER"
)

// StreamFrame is one frame DingTalk sends on a Stream connection:
// {"specVersion","type","time","headers":{...},"data":"<JSON string>"}.
type StreamFrame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Time        int64             `json:"time"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// Header returns the frame header key ("" if absent).
func (f StreamFrame) Header(key string) string { return f.Headers[key] }

// MessageID is the id every frame's ack must echo.
func (f StreamFrame) MessageID() string { return f.Headers["messageId"] }

// Topic is the frame's topic: ping or disconnect for SYSTEM frames, "*" or a callback path
// otherwise.
func (f StreamFrame) Topic() string { return f.Headers["topic"] }

// ParseStreamFrame decodes a frame; it refuses one without a type or a messageId, which
// could not be dispatched or acknowledged.
func ParseStreamFrame(raw []byte) (StreamFrame, error) {
	var f StreamFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		return StreamFrame{}, fmt.Errorf("stream frame is not a JSON frame object: %w", err)
	}
	switch {
	case f.Type == "":
		return StreamFrame{}, errors.New("stream frame has no type")
	case f.MessageID() == "":
		return StreamFrame{}, errors.New("stream frame has no headers.messageId")
	}
	return f, nil
}

// ContactEvent parses an EVENT frame's event into the shape the HTTP push produces: a contact
// event, whose data carries the ids and time ({"timeStamp":"…","userId":[…]} or
// {"deptId":[…]}), or an approval event (bpms_instance_change), whose data carries the
// instance ({"processInstanceId","processCode","type","result",…}). The headers carry the
// type, id, corp and birth time, which are added to the data (replacing keys of the same name
// in any case) before callback.ParseEvent reads it.
func (f StreamFrame) ContactEvent() (callback.Event, error) {
	if f.Type != StreamTypeEvent {
		return callback.Event{}, fmt.Errorf("stream frame of type %q is not an event", f.Type)
	}
	fields := map[string]json.RawMessage{}
	if strings.TrimSpace(f.Data) != "" {
		if err := json.Unmarshal([]byte(f.Data), &fields); err != nil {
			return callback.Event{}, fmt.Errorf("stream event data is not a JSON object: %w", err)
		}
	}
	set := func(key, value string) {
		for k := range fields {
			if strings.EqualFold(k, key) {
				delete(fields, k)
			}
		}
		raw, _ := json.Marshal(value) // a string always marshals
		fields[key] = raw
	}
	if typ := f.Header("eventType"); typ != "" {
		set("EventType", typ)
	}
	if id := f.Header("eventId"); id != "" {
		set("eventId", id)
	}
	if corp := f.Header("eventCorpId"); corp != "" {
		set("CorpId", corp)
	}
	if born := f.Header("eventBornTime"); born != "" && !hasKeyFold(fields, "EventTime") && !hasKeyFold(fields, "TimeStamp") {
		if _, err := strconv.ParseInt(born, 10, 64); err == nil {
			set("EventTime", born)
		}
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return callback.Event{}, err
	}
	return callback.ParseEvent(merged)
}

func hasKeyFold(fields map[string]json.RawMessage, key string) bool {
	for k := range fields {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// StreamAck is the client's reply to a frame:
// {"code":200,"headers":{"messageId","contentType"},"message":"ok","data":"<JSON string>"}.
type StreamAck struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

// streamAck builds an ack of messageID.
func streamAck(messageID string, code int, message, data string) StreamAck {
	return StreamAck{Code: code, Headers: map[string]string{"messageId": messageID, "contentType": "application/json"},
		Message: message, Data: data}
}

// AckSuccess acknowledges an event as handled: DingTalk will not send it again.
func AckSuccess(messageID string) StreamAck {
	return streamAck(messageID, StreamCodeOK, "ok", `{"status":"SUCCESS","message":"success"}`)
}

// AckLater refuses an event for now (it could not be stored): DingTalk redelivers it.
func AckLater(messageID string) StreamAck {
	return streamAck(messageID, StreamCodeError, "later", `{"status":"LATER","message":"later"}`)
}

// AckPong answers a SYSTEM ping by echoing its data.
func AckPong(ping StreamFrame) StreamAck {
	return streamAck(ping.MessageID(), StreamCodeOK, "ok", ping.Data)
}

// AckNoHandler answers a frame this client does not subscribe to.
func AckNoHandler(messageID string) StreamAck {
	return streamAck(messageID, StreamCodeNotFound, "no handler for this type and topic", "")
}
