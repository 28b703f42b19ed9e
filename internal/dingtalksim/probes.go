package dingtalksim

import "errors"

// The work-notification endpoint, served so that binding can probe the message permission: it
// checks the permission and the parameters, then answers that every task is done
// (dingtalk-api.md §8). Attendance and approvals, which binding probes too, are served with
// their data (attendance.go, approvals_api.go).

// sendProgressBody is the getsendprogress response.
type sendProgressBody struct {
	oapiStatus
	Progress struct {
		ProgressInPercent int `json:"progress_in_percent"`
		Status            int `json:"status"` // 0 waiting, 1 sending, 2 done
	} `json:"progress"`
}

// sendProgressRequest is the getsendprogress body.
type sendProgressRequest struct {
	AgentID *int64 `json:"agent_id"`
	TaskID  *int64 `json:"task_id"`
}

func (r *sendProgressRequest) check() error {
	switch {
	case r.AgentID == nil:
		return errors.New("agent_id is required")
	case r.TaskID == nil:
		return errors.New("task_id is required")
	}
	return nil
}

// sendProgress serves POST /topapi/message/corpconversation/getsendprogress: every task
// is done.
func (s *Server) sendProgress(c *call) reply {
	if _, rep, ok := parse(c, (*sendProgressRequest).check); !ok {
		return rep
	}
	body := sendProgressBody{oapiStatus: c.oapiOK()}
	body.Progress.ProgressInPercent, body.Progress.Status = 100, 2
	return c.okFlat(body)
}
