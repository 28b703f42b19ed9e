package dingtalksim

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// leaveRecordsPage is the response of GET /v1.0/contact/empLeaveRecords.
type leaveRecordsPage struct {
	NextToken string        `json:"nextToken,omitempty"`
	Records   []LeaveRecord `json:"records"`
}

// empLeaveRecords serves GET /v1.0/contact/empLeaveRecords?startTime=&endTime=&nextToken=
// &maxResults= (new API): departures with startTime <= leaveTime < endTime (RFC 3339),
// oldest first, at most maxResults (1..50, default 50) per page.
func (s *Server) empLeaveRecords(c *call) reply {
	q := c.r.URL.Query()
	bad := func(msg string) reply {
		return c.apiFail(http.StatusBadRequest, APICodeInvalidParam, msg, OutcomeInvalid)
	}
	start, err := time.Parse(time.RFC3339, q.Get("startTime"))
	if err != nil {
		return bad("startTime must be an RFC 3339 time")
	}
	end := time.Unix(1<<40, 0)
	if v := q.Get("endTime"); v != "" {
		if end, err = time.Parse(time.RFC3339, v); err != nil {
			return bad("endTime must be an RFC 3339 time")
		}
	}
	size, offset := 50, 0
	if v := q.Get("maxResults"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 50 {
			return bad("maxResults must be 1..50")
		}
	}
	if v := q.Get("nextToken"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return bad("invalid nextToken")
		}
	}
	sensitive := c.app.can(PermUserSensitive)
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := s.orgOf(c).leavers
	lo := sort.Search(len(all), func(i int) bool { return !all[i].LeaveTime.Before(start) })
	hi := sort.Search(len(all), func(i int) bool { return !all[i].LeaveTime.Before(end) })
	in := all[lo:max(lo, hi)]
	from, to := min(offset, len(in)), min(offset+size, len(in))
	page := leaveRecordsPage{Records: append([]LeaveRecord{}, in[from:to]...)}
	if !sensitive {
		for i := range page.Records {
			page.Records[i].Mobile = ""
		}
	}
	if to < len(in) {
		page.NextToken = strconv.Itoa(to)
	}
	return c.ok(page)
}
