package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// APIRosterQuery reads smart-HR (智能人事) roster fields of up to MaxRosterUsers employees.
// Like every API it is rate-limited per (corp, API) at the client's per-API rate; DingTalk
// exempts the HR APIs from the monthly call quota.
const APIRosterQuery = "/v1.0/hrm/rosters/lists/query"

// Limits of /v1.0/hrm/rosters/lists/query.
const (
	// MaxRosterUsers is the most userids one roster query takes.
	MaxRosterUsers = 100
	// MaxRosterFields is the most field codes one roster query takes.
	MaxRosterFields = 100
)

// rosterPermission is the permission the roster API needs (智能人事 花名册 read), the name
// the simulator checks; DingTalk's refusal names the scope it wants in requiredScopes.
const rosterPermission = "qyapi_smartwork_hrm"

// RosterQuery selects roster fields of some employees.
type RosterQuery struct {
	// AgentID is the app's AgentId (appAgentId, required): the binding's agent_id.
	AgentID int64
	// UserIDs are the employees, 1..MaxRosterUsers.
	UserIDs []string
	// FieldCodes are the roster field codes to read (sys00-name, sys02-certNo, …),
	// 1..MaxRosterFields.
	FieldCodes []string
}

// RosterValues are roster field values: userid → field code → value. An employee DingTalk
// returned nothing for is absent; a field without a value is absent from its map.
type RosterValues map[string]map[string]string

type rosterParams struct {
	UserIDList      []string `json:"userIdList"`
	FieldFilterList []string `json:"fieldFilterList"`
	AppAgentID      int64    `json:"appAgentId"`
}

// rosterResult is the answer of rosters/lists/query.
type rosterResult struct {
	Result *[]struct {
		CorpID        string `json:"corpId"`
		UserID        string `json:"userId"`
		FieldDataList []struct {
			FieldCode      string          `json:"fieldCode"`
			FieldName      string          `json:"fieldName"`
			GroupID        string          `json:"groupId"`
			FieldValueList []rosterFieldIn `json:"fieldValueList"`
		} `json:"fieldDataList"`
	} `json:"result"`
}

type rosterFieldIn struct {
	Value     string `json:"value"`
	Label     string `json:"label"`
	ItemIndex int    `json:"itemIndex"`
}

// QueryRoster reads q's roster fields of q's employees, one value per field: the value
// DingTalk stores, not its display label, so an option field (sys01-employeeType) gives its
// stable option value ("1") rather than the label ("全职") an admin may rename; a field
// holding no value but a label gives the label; a multi-valued field gives its values in
// itemIndex order, joined by ",". An app without the roster permission gets KindPermission.
func (c *Client) QueryRoster(ctx context.Context, app App, q RosterQuery) (RosterValues, error) {
	if err := checkRosterQuery(q); err != nil {
		return nil, err
	}
	body, err := json.Marshal(rosterParams{UserIDList: q.UserIDs, FieldFilterList: q.FieldCodes, AppAgentID: q.AgentID})
	if err != nil {
		return nil, &Error{Kind: KindInvalidRequest, API: APIRosterQuery, Message: "encode request: " + err.Error()}
	}
	var out RosterValues
	err = c.call(ctx, app, func(token string) *request {
		return c.apiRequest(http.MethodPost, APIRosterQuery, token, nil, body, func(raw []byte) error {
			var r rosterResult
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if r.Result == nil {
				return errors.New("no result")
			}
			vals := RosterValues{}
			for _, u := range *r.Result {
				if u.UserID == "" {
					return errors.New("roster entry without userId")
				}
				fields := map[string]string{}
				for _, f := range u.FieldDataList {
					if v := rosterValue(f.FieldValueList); f.FieldCode != "" && v != "" {
						fields[f.FieldCode] = v
					}
				}
				vals[u.UserID] = fields
			}
			out = vals
			return nil
		})
	})
	return out, err
}

// rosterValue is one field's value (see QueryRoster).
func rosterValue(items []rosterFieldIn) string {
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b rosterFieldIn) int { return a.ItemIndex - b.ItemIndex })
	var vals []string
	for _, it := range items {
		v := it.Value
		if v == "" {
			v = it.Label
		}
		if v != "" {
			vals = append(vals, v)
		}
	}
	return strings.Join(vals, ",")
}

// checkRosterQuery refuses a query DingTalk would reject.
func checkRosterQuery(q RosterQuery) error {
	switch {
	case q.AgentID <= 0:
		return invalidArgument(APIRosterQuery, "no agent id: the roster API needs the app's AgentId "+
			"(appAgentId): rebind the corp with `starter bind --agent-id` (the AgentId from the app's 凭证与基础信息 page)")
	case len(q.UserIDs) == 0 || len(q.UserIDs) > MaxRosterUsers:
		return invalidArgument(APIRosterQuery, "%d userids: want 1..%d per call", len(q.UserIDs), MaxRosterUsers)
	case len(q.FieldCodes) == 0 || len(q.FieldCodes) > MaxRosterFields:
		return invalidArgument(APIRosterQuery, "%d field codes: want 1..%d per call", len(q.FieldCodes), MaxRosterFields)
	case slices.Contains(q.UserIDs, ""):
		return invalidArgument(APIRosterQuery, "empty user id")
	case slices.Contains(q.FieldCodes, ""):
		return invalidArgument(APIRosterQuery, "empty field code")
	}
	return nil
}
