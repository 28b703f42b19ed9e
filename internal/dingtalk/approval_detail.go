package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// APIs of approval forms and instance details (new API family).
const (
	// APIApprovalProcesses lists the approval forms (GET; userId omitted: every form of the org).
	APIApprovalProcesses = "/v1.0/workflow/processes/userVisibilities/templates"
	// APIApprovalInstance reads one approval instance (GET ?processInstanceId=).
	APIApprovalInstance = "/v1.0/workflow/processInstances"
	// MaxApprovalProcessPageSize is the largest page of approval forms.
	MaxApprovalProcessPageSize = 100
)

// CodeApprovalInstanceNotExist is the code of an instance id DingTalk does not know.
const CodeApprovalInstanceNotExist = "processInstanceNotExist"

// ApprovalProcess is one approval form.
type ApprovalProcess struct {
	ProcessCode string `json:"processCode"`
	Name        string `json:"name"`
	DirName     string `json:"dirName"`
}

// ApprovalProcessPage is one page of approval forms; NextToken is 0 on the last page.
type ApprovalProcessPage struct {
	Processes []ApprovalProcess
	NextToken int64
}

// ListApprovalProcesses returns one page of the org's approval forms, from nextToken (0 first).
func (c *Client) ListApprovalProcesses(ctx context.Context, app App, nextToken int64) (ApprovalProcessPage, error) {
	if nextToken < 0 {
		return ApprovalProcessPage{}, invalidArgument(APIApprovalProcesses, "invalid next token %d", nextToken)
	}
	query := url.Values{"maxResults": {strconv.Itoa(MaxApprovalProcessPageSize)}, "nextToken": {strconv.FormatInt(nextToken, 10)}}
	var page ApprovalProcessPage
	err := c.call(ctx, app, func(token string) *request {
		return c.apiRequest(http.MethodGet, APIApprovalProcesses, token, query, nil, func(raw []byte) error {
			var r struct {
				Result *struct {
					ProcessList []ApprovalProcess `json:"processList"`
					NextToken   json.RawMessage   `json:"nextToken"`
				} `json:"result"`
			}
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
			for _, p := range r.Result.ProcessList {
				if p.ProcessCode == "" {
					return errors.New("approval form without processCode")
				}
			}
			page = ApprovalProcessPage{Processes: r.Result.ProcessList, NextToken: next}
			return nil
		})
	})
	return page, err
}

// ApprovalFormValue is one filled-in component of an instance's form.
type ApprovalFormValue struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Value         string `json:"value"`
	ExtValue      string `json:"extValue,omitempty"`
	ComponentType string `json:"componentType"`
	BizAlias      string `json:"bizAlias,omitempty"`
}

// ApprovalInstance is one approval instance's details.
type ApprovalInstance struct {
	ID               string `json:"-"`
	Title            string `json:"title"`
	OriginatorUserID string `json:"originatorUserId"`
	OriginatorDeptID string `json:"originatorDeptId"`
	// Status is RUNNING, TERMINATED (withdrawn) or COMPLETED; Result is agree or refuse once
	// COMPLETED.
	Status     string              `json:"status"`
	Result     string              `json:"result"`
	BusinessID string              `json:"businessId"`
	FormValues []ApprovalFormValue `json:"formComponentValues"`
	// CreateTime and FinishTime are parsed from DingTalk's "yyyy-MM-ddTHH:mmZ"; FinishTime is
	// zero while the instance runs.
	CreateTime time.Time `json:"-"`
	FinishTime time.Time `json:"-"`
	// Raw is the instance exactly as DingTalk returned it (the `result` object).
	Raw json.RawMessage `json:"-"`
}

// GetApprovalInstance reads the details of instance id. An id DingTalk does not know is an
// invalid request with code CodeApprovalInstanceNotExist.
func (c *Client) GetApprovalInstance(ctx context.Context, app App, id string) (ApprovalInstance, error) {
	if id == "" {
		return ApprovalInstance{}, invalidArgument(APIApprovalInstance, "no process instance id")
	}
	query := url.Values{"processInstanceId": {id}}
	var inst ApprovalInstance
	err := c.call(ctx, app, func(token string) *request {
		return c.apiRequest(http.MethodGet, APIApprovalInstance, token, query, nil, func(raw []byte) error {
			var r struct {
				Result json.RawMessage `json:"result"`
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if len(r.Result) == 0 || string(r.Result) == "null" {
				return errors.New("no result")
			}
			var v struct {
				ApprovalInstance
				CreateTime string `json:"createTime"`
				FinishTime string `json:"finishTime"`
			}
			if err := json.Unmarshal(r.Result, &v); err != nil {
				return err
			}
			if v.Status == "" {
				return errors.New("instance without status")
			}
			out := v.ApprovalInstance
			var err error
			if out.CreateTime, err = parseApprovalTime(v.CreateTime); err != nil {
				return fmt.Errorf("createTime: %w", err)
			}
			if out.FinishTime, err = parseApprovalTime(v.FinishTime); err != nil {
				return fmt.Errorf("finishTime: %w", err)
			}
			out.ID, out.Raw = id, append(json.RawMessage{}, r.Result...)
			inst = out
			return nil
		})
	})
	return inst, err
}

// parseApprovalTime reads an instance time: "2022-08-31T11:52Z", or RFC 3339; "" is zero.
func parseApprovalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04Z07:00", time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}
