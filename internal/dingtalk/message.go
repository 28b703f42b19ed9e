package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SendProgress is how far DingTalk got delivering one asynchronous work notification.
type SendProgress struct {
	// ProgressInPercent is 0 to 100.
	ProgressInPercent int64 `json:"progress_in_percent"`
	// Status is 0 (not started), 1 (sending) or 2 (done).
	Status int64 `json:"status"`
}

type sendProgressParams struct {
	AgentID int64 `json:"agent_id"`
	TaskID  int64 `json:"task_id"`
}

type sendProgressResult struct {
	Progress *SendProgress `json:"progress"`
}

// GetSendProgress returns the progress of work-notification task taskID sent by the app's
// agent agentID. DingTalk, not the client, checks the ids, so a permission probe may pass
// placeholders: an app without the message permission gets KindPermission (60011).
func (c *Client) GetSendProgress(ctx context.Context, app App, agentID, taskID int64) (SendProgress, error) {
	spec := oapiSpec{api: APIMessageSendProgress, topLevel: true}
	res, err := oapiDo(ctx, c, app, spec, sendProgressParams{agentID, taskID}, func(r *sendProgressResult) error {
		if r.Progress == nil {
			return errors.New("no progress")
		}
		return nil
	})
	if err != nil {
		return SendProgress{}, err
	}
	return *res.Progress, nil
}

// Limits of work notifications (dingtalk-api.md §8).
const (
	// MaxMessageUsers is the most userids one asyncsend_v2 call may name.
	MaxMessageUsers = 100
	// MaxMessageBytes is the largest msg object asyncsend_v2 accepts, as encoded JSON.
	MaxMessageBytes = 2048
	// MessagesPerUserDaily is how many messages one app may deliver to one user a day.
	MessagesPerUserDaily = 500
)

// Codes in getsendresult's forbidden_list: DingTalk accepted the message but did not
// deliver it to that user.
const (
	ForbiddenDailyLimit = "143105" // the user got MessagesPerUserDaily messages today
	ForbiddenDuplicate  = "143106" // the user got the same content today
)

// TextMessage is a plain-text work notification to users, sent by the app's agent.
type TextMessage struct {
	AgentID int64
	UserIDs []string
	Content string
}

type textMsg struct {
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
}

type asyncSendParams struct {
	AgentID int64           `json:"agent_id"`
	UserIDs string          `json:"userid_list"`
	Msg     json.RawMessage `json:"msg"`
}

type asyncSendResult struct {
	TaskID *int64 `json:"task_id"`
}

// EncodeTextMessage is the msg object asyncsend_v2 carries for content, as sent (HTML
// characters unescaped, so its size is what DingTalk counts against MaxMessageBytes).
func EncodeTextMessage(content string) []byte {
	m := textMsg{MsgType: "text"}
	m.Text.Content = content
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// SendTextMessage sends m with asyncsend_v2 and returns DingTalk's task id. Success means
// DingTalk accepted the task, not that anyone got it: a message over a per-user limit is
// dropped silently, and only GetSendResult tells. The client retries what DingTalk refused
// (throttling) and brief transient failures; a retry after a lost answer may reach DingTalk
// twice, and DingTalk then drops the copy as a duplicate (143106).
func (c *Client) SendTextMessage(ctx context.Context, app App, m TextMessage) (int64, error) {
	msg := EncodeTextMessage(m.Content)
	switch {
	case m.AgentID <= 0:
		return 0, invalidArgument(APIMessageAsyncSend, "no agent id: work notifications are sent by the app's agent (AgentId)")
	case len(m.UserIDs) == 0 || len(m.UserIDs) > MaxMessageUsers:
		return 0, invalidArgument(APIMessageAsyncSend, "%d userids, want 1 to %d", len(m.UserIDs), MaxMessageUsers)
	case strings.TrimSpace(m.Content) == "":
		return 0, invalidArgument(APIMessageAsyncSend, "empty message")
	case len(msg) > MaxMessageBytes:
		return 0, invalidArgument(APIMessageAsyncSend, "message of %d bytes, at most %d allowed", len(msg), MaxMessageBytes)
	}
	params := asyncSendParams{AgentID: m.AgentID, UserIDs: strings.Join(m.UserIDs, ","), Msg: msg}
	spec := oapiSpec{api: APIMessageAsyncSend, topLevel: true}
	res, err := oapiDo(ctx, c, app, spec, params, func(r *asyncSendResult) error {
		if r.TaskID == nil {
			return errors.New("no task_id")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return *res.TaskID, nil
}

// SendResult is who got one work-notification task, by outcome (getsendresult).
type SendResult struct {
	InvalidUserIDs   []string             `json:"invalid_user_id_list"`
	ForbiddenUserIDs []string             `json:"forbidden_user_id_list"`
	FailedUserIDs    []string             `json:"failed_user_id_list"`
	ReadUserIDs      []string             `json:"read_user_id_list"`
	UnreadUserIDs    []string             `json:"unread_user_id_list"`
	InvalidDeptIDs   []int64              `json:"invalid_dept_id_list"`
	Forbidden        []ForbiddenRecipient `json:"forbidden_list"`
}

// ForbiddenRecipient is a user DingTalk did not deliver to because of a limit.
type ForbiddenRecipient struct {
	// Code is ForbiddenDailyLimit or ForbiddenDuplicate.
	Code   string `json:"code"`
	Count  int64  `json:"count"`
	UserID string `json:"userid"`
}

// UnmarshalJSON reads a forbidden_list entry whose code is a string ("143105", as
// documented) or a number.
func (f *ForbiddenRecipient) UnmarshalJSON(b []byte) error {
	var raw struct {
		Code   json.RawMessage `json:"code"`
		Count  int64           `json:"count"`
		UserID string          `json:"userid"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	f.Count, f.UserID = raw.Count, raw.UserID
	f.Code = string(bytes.Trim(raw.Code, `"`))
	if f.Code != "" && strings.Trim(f.Code, "0123456789") != "" {
		return fmt.Errorf("forbidden_list: code %s is not a number", raw.Code)
	}
	return nil
}

type sendResultResult struct {
	SendResult *SendResult `json:"send_result"`
}

// GetSendResult returns who got work-notification task taskID of agent agentID.
func (c *Client) GetSendResult(ctx context.Context, app App, agentID, taskID int64) (SendResult, error) {
	spec := oapiSpec{api: APIMessageSendResult, topLevel: true}
	res, err := oapiDo(ctx, c, app, spec, sendProgressParams{agentID, taskID}, func(r *sendResultResult) error {
		if r.SendResult == nil {
			return errors.New("no send_result")
		}
		return nil
	})
	if err != nil {
		return SendResult{}, err
	}
	return *res.SendResult, nil
}
