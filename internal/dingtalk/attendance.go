package dingtalk

import (
	"context"
	"errors"
	"time"
)

// Limits of /attendance/list.
const (
	// MaxAttendancePageSize is the largest page attendance/list returns.
	MaxAttendancePageSize = 50
	// MaxAttendanceUsers is the most users one attendance/list call may ask for.
	MaxAttendanceUsers = 50
	// MaxAttendanceSpan is the longest work-date range of one attendance/list call.
	MaxAttendanceSpan = 7 * 24 * time.Hour
)

// attendanceDateLayout is how attendance/list wants its dates ("yyyy-MM-dd HH:mm:ss").
const attendanceDateLayout = "2006-01-02 15:04:05"

// chinaTime is the zone DingTalk reads attendance dates in (Beijing time, no DST).
var chinaTime = time.FixedZone("CST", 8*60*60)

// AttendanceQuery selects one page of clock-in records.
type AttendanceQuery struct {
	// WorkDateFrom and WorkDateTo bound the work dates, at most MaxAttendanceSpan apart;
	// both are required and sent in Beijing time.
	WorkDateFrom, WorkDateTo time.Time
	// UserIDs are the users whose records to return, at most MaxAttendanceUsers.
	UserIDs []string
	// Offset is the number of records to skip: 0, then the previous Offset plus Limit.
	Offset int64
	// Limit is the page size, 1..MaxAttendancePageSize; 0 means the maximum.
	Limit int
}

// AttendanceRecord is one clock-in from /attendance/list.
type AttendanceRecord struct {
	ID     int64  `json:"id"`
	UserID string `json:"userId"`
	// CheckType is OnDuty or OffDuty.
	CheckType string `json:"checkType"`
	// TimeResult is Normal, Early, Late, SeriousLate, Absenteeism or NotSigned.
	TimeResult string `json:"timeResult"`
	// UserCheckTime is when the user clocked in, in epoch milliseconds.
	UserCheckTime int64 `json:"userCheckTime"`
	// WorkDate is the work day, in epoch milliseconds.
	WorkDate int64 `json:"workDate"`
	// BaseCheckTime is the planned time, in epoch milliseconds.
	BaseCheckTime  int64  `json:"baseCheckTime,omitempty"`
	LocationResult string `json:"locationResult,omitempty"`
	SourceType     string `json:"sourceType,omitempty"`
	GroupID        int64  `json:"groupId,omitempty"`
	PlanID         int64  `json:"planId,omitempty"`
	RecordID       int64  `json:"recordId,omitempty"`
	// ProcInstID names the approval (leave, correction) behind a record DingTalk made from one.
	ProcInstID string `json:"procInstId,omitempty"`
}

// AttendancePage is one page of clock-in records.
type AttendancePage struct {
	Records []AttendanceRecord
	HasMore bool
}

type attendanceParams struct {
	WorkDateFrom string   `json:"workDateFrom"`
	WorkDateTo   string   `json:"workDateTo"`
	UserIDs      []string `json:"userIdList"`
	Offset       int64    `json:"offset"`
	Limit        int      `json:"limit"`
}

// attendanceResult is the answer of attendance/list, whose fields sit beside errcode.
type attendanceResult struct {
	Records *[]AttendanceRecord `json:"recordresult"`
	HasMore bool                `json:"hasMore"`
}

// ListAttendance returns one page of the clock-in records of q's users on q's work dates.
func (c *Client) ListAttendance(ctx context.Context, app App, q AttendanceQuery) (AttendancePage, error) {
	if err := checkAttendanceQuery(&q); err != nil {
		return AttendancePage{}, err
	}
	params := attendanceParams{
		WorkDateFrom: q.WorkDateFrom.In(chinaTime).Format(attendanceDateLayout),
		WorkDateTo:   q.WorkDateTo.In(chinaTime).Format(attendanceDateLayout),
		UserIDs:      append([]string{}, q.UserIDs...), // [] rather than null
		Offset:       q.Offset,
		Limit:        q.Limit,
	}
	spec := oapiSpec{api: APIAttendanceList, topLevel: true}
	res, err := oapiDo(ctx, c, app, spec, params, func(r *attendanceResult) error {
		if r.Records == nil {
			return errors.New("no recordresult")
		}
		return nil
	})
	if err != nil {
		return AttendancePage{}, err
	}
	return AttendancePage{Records: *res.Records, HasMore: res.HasMore}, nil
}

// checkAttendanceQuery refuses a query DingTalk would reject and defaults q.Limit.
func checkAttendanceQuery(q *AttendanceQuery) error {
	switch {
	case q.WorkDateFrom.IsZero() || q.WorkDateTo.IsZero():
		return invalidArgument(APIAttendanceList, "work date range needs both ends")
	case q.WorkDateTo.Before(q.WorkDateFrom):
		return invalidArgument(APIAttendanceList, "work date range ends before it starts")
	case q.WorkDateTo.Sub(q.WorkDateFrom) > MaxAttendanceSpan:
		return invalidArgument(APIAttendanceList, "work date range of %s is longer than %s",
			q.WorkDateTo.Sub(q.WorkDateFrom), MaxAttendanceSpan)
	case len(q.UserIDs) > MaxAttendanceUsers:
		return invalidArgument(APIAttendanceList, "%d users, at most %d allowed", len(q.UserIDs), MaxAttendanceUsers)
	case q.Offset < 0:
		return invalidArgument(APIAttendanceList, "invalid offset %d", q.Offset)
	case q.Limit < 0 || q.Limit > MaxAttendancePageSize:
		return invalidArgument(APIAttendanceList, "invalid page size %d", q.Limit)
	case q.Limit == 0:
		q.Limit = MaxAttendancePageSize
	}
	return nil
}
