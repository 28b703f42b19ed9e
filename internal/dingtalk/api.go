package dingtalk

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// apiTokenHeader carries the access token on api.dingtalk.com.
const apiTokenHeader = "x-acs-dingtalk-access-token"

// apiRequest builds a request to the new API family: token in a header, errors as a non-2xx
// status with {"code","message","requestid"}. decode receives the whole 2xx body.
func (c *Client) apiRequest(method, api, token string, query url.Values, body []byte,
	decode func([]byte) error) *request {
	u := c.cfg.APIBaseURL + api
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	header := http.Header{"Accept": {"application/json"}}
	if body != nil {
		header.Set("Content-Type", "application/json")
	}
	if token != "" {
		header.Set(apiTokenHeader, token)
	}
	return &request{api: api, method: method, url: u, header: header, body: body, token: token,
		parse: apiParser(api, decode)}
}

type apiErrorBody struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	RequestID    string `json:"requestid"`
	AccessDenied struct {
		RequiredScopes []string `json:"requiredScopes"`
	} `json:"accessdenieddetail"`
}

// apiParser classifies a new-API response and decodes a successful one.
func apiParser(api string, decode func([]byte) error) func(int, http.Header, []byte) error {
	return func(status int, header http.Header, body []byte) error {
		if isIPBan(status, header, body) {
			return ipBanError(api, status)
		}
		if status >= 200 && status < 300 {
			if err := decode(body); err != nil {
				return malformed(api, status, err)
			}
			return nil
		}
		var eb apiErrorBody
		if json.Unmarshal(body, &eb) != nil || eb.Code == "" {
			return statusError(api, status, header)
		}
		e := codeError(api, status, header, eb.Code, eb.Message, eb.RequestID)
		if e.Kind == KindPermission && len(eb.AccessDenied.RequiredScopes) > 0 {
			e.Permission = strings.Join(eb.AccessDenied.RequiredScopes, ", ")
		}
		return e
	}
}
