package dingtalk

import (
	"context"
	"errors"
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
