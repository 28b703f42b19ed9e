package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxLeaveRecordPageSize is the largest page empLeaveRecords returns.
const MaxLeaveRecordPageSize = 50

// LeaveRecordQuery selects one page of departures.
type LeaveRecordQuery struct {
	// Start is the earliest leave time; required.
	Start time.Time
	// End is the latest leave time; zero means now.
	End time.Time
	// NextToken is the previous page's NextToken; empty for the first page.
	NextToken string
	// MaxResults is the page size, 1..MaxLeaveRecordPageSize; 0 means the maximum.
	MaxResults int
}

// LeaveRecord is one departure from /v1.0/contact/empLeaveRecords.
type LeaveRecord struct {
	UserID    string `json:"userId"`
	Name      string `json:"name"`
	StateCode string `json:"stateCode"`
	Mobile    string `json:"mobile"`
	LeaveTime string `json:"leaveTime"`
	// LeaveReason is oapi, cancel, leave, unknown or delete.
	LeaveReason string `json:"leaveReason"`
}

// LeaveRecordPage is one page of departures; NextToken is empty on the last page.
type LeaveRecordPage struct {
	Records   []LeaveRecord `json:"records"`
	NextToken string        `json:"nextToken"`
}

// ListLeaveRecords returns one page of the employees who left in q's time window.
func (c *Client) ListLeaveRecords(ctx context.Context, app App, q LeaveRecordQuery) (LeaveRecordPage, error) {
	switch {
	case q.Start.IsZero():
		return LeaveRecordPage{}, invalidArgument(APIEmpLeaveRecords, "no start time")
	case q.MaxResults < 0 || q.MaxResults > MaxLeaveRecordPageSize:
		return LeaveRecordPage{}, invalidArgument(APIEmpLeaveRecords, "invalid page size %d", q.MaxResults)
	case q.MaxResults == 0:
		q.MaxResults = MaxLeaveRecordPageSize
	}
	query := url.Values{
		"startTime":  {q.Start.Format(time.RFC3339)},
		"maxResults": {strconv.Itoa(q.MaxResults)},
	}
	if !q.End.IsZero() {
		query.Set("endTime", q.End.Format(time.RFC3339))
	}
	if q.NextToken != "" {
		query.Set("nextToken", q.NextToken)
	}
	var page LeaveRecordPage
	err := c.call(ctx, app, func(token string) *request {
		return c.apiRequest(http.MethodGet, APIEmpLeaveRecords, token, query, nil, func(raw []byte) error {
			var p LeaveRecordPage
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			for _, r := range p.Records {
				if r.UserID == "" {
					return errors.New("leave record without userId")
				}
			}
			page = p
			return nil
		})
	})
	return page, err
}
