package activities

// Internals the external tests (package activities_test, which may import testenv) reach.
type AttendanceHeartbeat = attendanceHeartbeat

var (
	ParseLeave = parseLeave
	DayOf      = dayOf
)

var (
	PlanAttendance = planAttendance
	PlanApprovals  = planApprovals
)
