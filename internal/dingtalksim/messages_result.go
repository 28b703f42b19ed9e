package dingtalksim

import (
	"errors"
	"net/http"
	"strconv"
)

// sendResult is getsendresult's send_result. User lists are userids; forbidden_list details
// each forbidden user with its code.
type sendResult struct {
	InvalidUsers   []string         `json:"invalid_user_id_list"`
	ForbiddenUsers []string         `json:"forbidden_user_id_list"`
	FailedUsers    []string         `json:"failed_user_id_list"`
	ReadUsers      []string         `json:"read_user_id_list"`
	UnreadUsers    []string         `json:"unread_user_id_list"`
	InvalidDepts   []int64          `json:"invalid_dept_id_list"`
	Forbidden      []forbiddenEntry `json:"forbidden_list"`
}

// forbiddenEntry is one forbidden_list item. DingTalk documents code as a string.
type forbiddenEntry struct {
	Code   string `json:"code"`
	Count  int    `json:"count"`
	UserID string `json:"userid"`
}

func newSendResult() sendResult {
	return sendResult{InvalidUsers: []string{}, ForbiddenUsers: []string{}, FailedUsers: []string{},
		ReadUsers: []string{}, UnreadUsers: []string{}, InvalidDepts: []int64{}, Forbidden: []forbiddenEntry{}}
}

func (r *sendResult) forbid(userID string, code, count int) {
	r.ForbiddenUsers = append(r.ForbiddenUsers, userID)
	r.Forbidden = append(r.Forbidden, forbiddenEntry{Code: strconv.Itoa(code), Count: count, UserID: userID})
}

// sendResultRequest is the getsendresult body.
type sendResultRequest struct {
	AgentID *int64 `json:"agent_id"`
	TaskID  *int64 `json:"task_id"`
}

func (r *sendResultRequest) check() error {
	switch {
	case r.AgentID == nil:
		return errors.New("agent_id is required")
	case r.TaskID == nil:
		return errors.New("task_id is required")
	}
	return nil
}

// sendResultBody is the getsendresult response: send_result sits beside errcode.
type sendResultBody struct {
	oapiStatus
	SendResult sendResult `json:"send_result"`
}

// sendResultOf serves POST /topapi/message/corpconversation/getsendresult: the task's
// recipients by outcome, read state as it is now. A task of another corp or agent is
// refused as invalid (UNCONFIRMED: DingTalk does not document that errcode).
func (s *Server) sendResultOf(c *call) reply {
	req, rep, ok := parse(c, (*sendResultRequest).check)
	if !ok {
		return rep
	}
	m := s.messages
	m.mu.Lock()
	defer m.mu.Unlock()
	task := m.tasks[*req.TaskID]
	if task == nil || task.corpID != c.app.CorpID || task.agentID != *req.AgentID {
		return c.invalid("task_id: no such task of this agent")
	}
	res := task.result
	res.ReadUsers, res.UnreadUsers = []string{}, []string{}
	for _, d := range task.delivered {
		if d.msg.Read {
			res.ReadUsers = append(res.ReadUsers, d.userID)
		} else {
			res.UnreadUsers = append(res.UnreadUsers, d.userID)
		}
	}
	return c.okFlat(sendResultBody{oapiStatus: c.oapiOK(), SendResult: res})
}

// messageAdmin registers the admin routes of work notifications:
//
//	GET /_sim/messages?corpId=[&userId=]   200 {"corpId","messages":{userid:[Message...]}}: what users received
//	PUT /_sim/messages/limits               body {"perUserDaily": n} (0: DingTalk's 500); 204
func (s *Server) messageAdmin(handle func(string, func(*http.Request) (int, any, error))) {
	handle("GET /_sim/messages", func(r *http.Request) (int, any, error) {
		corpID, err := corpParam(r)
		if err != nil {
			return 0, nil, err
		}
		msgs := s.AllMessages(corpID)
		if u := r.URL.Query().Get("userId"); u != "" {
			msgs = map[string][]Message{u: s.Messages(corpID, u)}
		}
		return http.StatusOK, map[string]any{"corpId": corpID, "messages": msgs}, nil
	})
	handle("PUT /_sim/messages/limits", func(r *http.Request) (int, any, error) {
		var body struct {
			PerUserDaily int `json:"perUserDaily"`
		}
		if err := readJSON(r, &body); err != nil {
			return 0, nil, err
		}
		s.SetMessagesPerUserDaily(body.PerUserDaily)
		return http.StatusNoContent, nil, nil
	})
}
