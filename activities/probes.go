package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// probe checks one permission by making the cheapest call that needs it.
type probe struct {
	permission, feature string
	required            bool
	// run returns nil when the call got past DingTalk's permission check, a *dingtalk.Error
	// of kind permission or out-of-scope when it did not, and (granted=false, detail) when the
	// answer shows the permission is missing without an error.
	run func(ctx context.Context, p *prober) (granted bool, detail string, err error)
}

// prober is one verification's probes and what they learn on the way.
type prober struct {
	dt     *dingtalk.Client
	app    dingtalk.App
	agent  int64
	someID string // a userid seen by the user-read probe, for the attendance probe
}

// consoleFix is the developer-console step that grants a permission.
func consoleFix(permission, chinese string) string {
	return fmt.Sprintf("in the DingTalk developer console open the app → 权限管理 (Permissions), search %q (%s) and apply for it; then run `starter resume --corp-id <corp>` to re-check", permission, chinese)
}

// probes are the permissions dingsync's features use. Department and user reads are required
// (nothing syncs without them); the others degrade one feature each.
var probes = []probe{
	{permission: "qyapi_get_department_list", feature: "read the department tree", required: true,
		run: func(ctx context.Context, p *prober) (bool, string, error) {
			_, err := p.dt.ListSubDepartments(ctx, p.app, dingtalk.RootDepartmentID)
			return err == nil, "", err
		}},
	{permission: "qyapi_get_member", feature: "read employees", required: true,
		run: func(ctx context.Context, p *prober) (bool, string, error) {
			page, err := p.dt.ListUsers(ctx, p.app, dingtalk.RootDepartmentID, 0, dingtalk.MaxUserPageSize)
			if err == nil && len(page.Users) > 0 {
				p.someID = page.Users[0].UserID
			}
			return err == nil, "", err
		}},
	{permission: "Contact.User.mobile", feature: "employees' mobile, email, work place and extension fields",
		run: probeSensitiveFields},
	{permission: "qyapi_message_corpconversation", feature: "work notifications to HR admins",
		run: func(ctx context.Context, p *prober) (bool, string, error) {
			if p.agent == 0 {
				return false, "the binding has no AgentId: rebind with --agent-id (the app's AgentId from 凭证与基础信息)", nil
			}
			_, err := p.dt.GetSendProgress(ctx, p.app, p.agent, 1)
			return err == nil, "", err
		}},
	{permission: "qyapi_attendance_read", feature: "import attendance records",
		run: func(ctx context.Context, p *prober) (bool, string, error) {
			if p.someID == "" {
				return false, "no employee to probe with (the root department has no direct members)", nil
			}
			to := time.Now().Truncate(24 * time.Hour)
			_, err := p.dt.ListAttendance(ctx, p.app, dingtalk.AttendanceQuery{WorkDateFrom: to.Add(-24 * time.Hour), WorkDateTo: to,
				UserIDs: []string{p.someID}, Limit: 1})
			return err == nil, "", err
		}},
	{permission: "qyapi_process_read", feature: "import approval instances",
		run: func(ctx context.Context, p *prober) (bool, string, error) {
			now := time.Now()
			_, err := p.dt.QueryApprovalInstanceIDs(ctx, p.app, dingtalk.ApprovalQuery{ProcessCode: "PROC-DINGSYNC-PROBE",
				Start: now.Add(-24 * time.Hour), End: now, MaxResults: 1})
			return err == nil, "", err
		}},
}

// probeSensitiveFields infers the contact-field permission: DingTalk leaves mobile and email
// out of user/list for apps without it, so a page of users where nobody has either is the sign.
func probeSensitiveFields(ctx context.Context, p *prober) (bool, string, error) {
	page, err := p.dt.ListUsers(ctx, p.app, dingtalk.RootDepartmentID, 0, dingtalk.MaxUserPageSize)
	if err != nil {
		return false, "", err
	}
	if len(page.Users) == 0 {
		return true, "not checked: the root department has no direct members to look at", nil
	}
	for _, u := range page.Users {
		if u.Mobile != "" || u.Email != "" || u.OrgEmail != "" {
			return true, "", nil
		}
	}
	return false, fmt.Sprintf("none of %d employees came with a mobile or email: DingTalk leaves them out without this permission", len(page.Users)), nil
}

var chineseNames = map[string]string{
	"qyapi_get_department_list": "通讯录部门信息读权限", "qyapi_get_member": "通讯录个人信息读权限",
	"Contact.User.mobile": "成员手机号等敏感信息读权限", "qyapi_message_corpconversation": "企业内消息通知",
	"qyapi_attendance_read": "考勤数据读权限", "qyapi_process_read": "审批流数据读权限",
}

// runProbes checks every permission. A probe's call that fails for another reason than a
// missing permission (DingTalk down, bad credentials) ends the verification with that error.
func runProbes(ctx context.Context, p *prober) (store.PermissionList, error) {
	checks := make(store.PermissionList, 0, len(probes))
	for _, pr := range probes {
		granted, detail, err := pr.run(ctx, p)
		var de *dingtalk.Error
		switch {
		case err == nil:
		case errors.As(err, &de) && (de.Kind == dingtalk.KindPermission || de.Kind == dingtalk.KindOutOfScope):
			granted, detail = false, de.Error()
		case errors.As(err, &de) && (de.Kind == dingtalk.KindInvalidRequest || de.Kind == dingtalk.KindNotFound):
			granted, detail = true, "the call got past DingTalk's permission check"
		default:
			return nil, fmt.Errorf("probe %s: %w", pr.permission, err)
		}
		c := store.PermissionCheck{Permission: pr.permission, Feature: pr.feature, Required: pr.required,
			Granted: granted, Detail: detail}
		if !granted {
			c.Fix = consoleFix(pr.permission, chineseNames[pr.permission])
		}
		checks = append(checks, c)
	}
	return checks, nil
}
