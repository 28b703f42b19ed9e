package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Limits of /v1.0/workflow/processes/instanceIds/query.
const (
	// MaxApprovalPageSize is the largest page instanceIds/query returns.
	MaxApprovalPageSize = 20
	// MaxApprovalWindow is the longest start-time window of one instanceIds/query call.
	MaxApprovalWindow = 120 * 24 * time.Hour
)

// ApprovalQuery selects one page of approval instance ids.
type ApprovalQuery struct {
	// ProcessCode is the approval form (PROC-...); required.
	ProcessCode string
	// Start is the earliest instance start time (DingTalk allows up to 365 days ago); required.
	Start time.Time
	// End is the latest instance start time, at most MaxApprovalWindow after Start; zero
	// means now.
	End time.Time
	// NextToken is the previous page's NextToken; 0 for the first page.
	NextToken int64
	// MaxResults is the page size, 1..MaxApprovalPageSize; 0 means the maximum.
	MaxResults int
}

// ApprovalIDPage is one page of approval instance ids.
type ApprovalIDPage struct {
	InstanceIDs []string
	// NextToken continues with the next page; 0 on the last page.
	NextToken int64
}

type approvalParams struct {
	ProcessCode string `json:"processCode"`
	StartTime   int64  `json:"startTime"`
	EndTime     int64  `json:"endTime,omitempty"`
	NextToken   int64  `json:"nextToken"`
	MaxResults  int    `json:"maxResults"`
}

// approvalResult is the answer of instanceIds/query; nextToken may come as a number or as a
// numeric string.
type approvalResult struct {
	Result *struct {
		List      []string        `json:"list"`
		NextToken json.RawMessage `json:"nextToken"`
	} `json:"result"`
}

// QueryApprovalInstanceIDs returns one page of the ids of q's approval instances. An app
// without the workflow permission gets KindPermission naming the missing scope.
func (c *Client) QueryApprovalInstanceIDs(ctx context.Context, app App, q ApprovalQuery) (ApprovalIDPage, error) {
	if err := checkApprovalQuery(&q); err != nil {
		return ApprovalIDPage{}, err
	}
	params := approvalParams{ProcessCode: q.ProcessCode, StartTime: q.Start.UnixMilli(), NextToken: q.NextToken,
		MaxResults: q.MaxResults}
	if !q.End.IsZero() {
		params.EndTime = q.End.UnixMilli()
	}
	body, err := json.Marshal(params)
	if err != nil {
		return ApprovalIDPage{}, &Error{Kind: KindInvalidRequest, API: APIApprovalInstanceIDs,
			Message: "encode request: " + err.Error()}
	}
	var page ApprovalIDPage
	err = c.call(ctx, app, func(token string) *request {
		return c.apiRequest(http.MethodPost, APIApprovalInstanceIDs, token, nil, body, func(raw []byte) error {
			var r approvalResult
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if r.Result == nil {
				return errors.New("no result")
			}
			next, err := parseNextToken(r.Result.NextToken)
			if err != nil {
				return err
			}
			page = ApprovalIDPage{InstanceIDs: r.Result.List, NextToken: next}
			if page.InstanceIDs == nil {
				page.InstanceIDs = []string{}
			}
			return nil
		})
	})
	return page, err
}

// checkApprovalQuery refuses a query DingTalk would reject and defaults q.MaxResults.
func checkApprovalQuery(q *ApprovalQuery) error {
	switch {
	case q.ProcessCode == "":
		return invalidArgument(APIApprovalInstanceIDs, "no process code")
	case q.Start.IsZero():
		return invalidArgument(APIApprovalInstanceIDs, "no start time")
	case !q.End.IsZero() && q.End.Before(q.Start):
		return invalidArgument(APIApprovalInstanceIDs, "time window ends before it starts")
	case !q.End.IsZero() && q.End.Sub(q.Start) > MaxApprovalWindow:
		return invalidArgument(APIApprovalInstanceIDs, "time window of %s is longer than %s",
			q.End.Sub(q.Start), MaxApprovalWindow)
	case q.NextToken < 0:
		return invalidArgument(APIApprovalInstanceIDs, "invalid next token %d", q.NextToken)
	case q.MaxResults < 0 || q.MaxResults > MaxApprovalPageSize:
		return invalidArgument(APIApprovalInstanceIDs, "invalid page size %d", q.MaxResults)
	case q.MaxResults == 0:
		q.MaxResults = MaxApprovalPageSize
	}
	return nil
}

// parseNextToken reads a nextToken given as a number, a numeric string, or nothing (0).
func parseNextToken(raw json.RawMessage) (int64, error) {
	s := string(bytes.Trim(raw, `"`))
	if s == "" || s == "null" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("nextToken is not a page number")
	}
	return n, nil
}
