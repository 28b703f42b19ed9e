package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
)

type notificationsFlags struct {
	corpID, by, recipients, kinds string
	on, off, asJSON               bool
	limit                         int
}

func newNotificationsCommand(env *environment) *cobra.Command {
	f := &notificationsFlags{}
	cmd := &cobra.Command{
		Use:   "notifications",
		Short: "The DingTalk work notifications sent to HR admins, and who gets them",
		Long: `dingsync tells a corp's HR admins, by DingTalk work notification (asyncsend_v2, sent as the
binding's agent), when a run fails (run_failed), the binding is quarantined (binding_quarantined)
or its credentials are refused (credentials_invalid), the deletion guard holds a sync
(deletions_awaiting), or an audit finds drift (audit_drift). Each message says what happened and
what to run. By default they go to every employee holding the hr_admin role.

DingTalk accepts a message over its limits (the same content to a user twice a day, more than 500
a day) and then silently drops it, so dingsync holds such messages back itself and checks every
send with getsendresult: list shows, per recipient, what DingTalk says became of it.`,
		Example: `  starter notifications list --corp-id dingcorp1
  starter notifications settings --corp-id dingcorp1
  starter notifications settings --corp-id dingcorp1 --recipients hr_admins,manager01 --kinds run_failed,credentials_invalid --by alice
  starter notifications settings --corp-id dingcorp1 --off --by alice`,
	}
	list := &cobra.Command{
		Use: "list", Short: "Recent notifications with their status and each recipient's result",
		RunE: func(cmd *cobra.Command, _ []string) error { return listNotifications(cmd, env, f) },
	}
	list.Flags().IntVar(&f.limit, "limit", 20, "how many, newest first")
	list.Flags().BoolVar(&f.asJSON, "json", false, "print them as JSON")
	settings := &cobra.Command{
		Use: "settings", Short: "Show or change who gets the corp's notifications, and of which kinds",
		RunE: func(cmd *cobra.Command, _ []string) error { return notificationSettings(cmd, env, f) },
	}
	settings.Flags().StringVar(&f.recipients, "recipients", "", "comma-separated userids and/or hr_admins (every employee holding the hr_admin role)")
	settings.Flags().StringVar(&f.kinds, "kinds", "", "comma-separated kinds to send: "+strings.Join(store.NotificationKinds, ", "))
	settings.Flags().BoolVar(&f.on, "on", false, "send notifications")
	settings.Flags().BoolVar(&f.off, "off", false, "send none (they are recorded as dropped)")
	settings.Flags().StringVar(&f.by, "by", "", "who changes them, for the ops log (required with a change)")
	settings.Flags().BoolVar(&f.asJSON, "json", false, "print the settings as JSON")
	for _, c := range []*cobra.Command{list, settings} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	}
	cmd.AddCommand(list, settings)
	return cmd
}

func listNotifications(cmd *cobra.Command, env *environment, f *notificationsFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.limit < 1 {
		return fmt.Errorf("%w: --limit must be at least 1", errUsage)
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	list, err := st.ListNotifications(cmd.Context(), f.corpID, f.limit)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return json.NewEncoder(out).Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintf(out, "no notifications for corp %s\n", f.corpID)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tCREATED\tRECIPIENTS\tWHY")
	for _, n := range list {
		status := n.Status
		if n.Status == store.NotificationSent && n.CheckedAt == nil {
			status += " (checking)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Kind, status, n.CreatedAt.Local().Format("2006-01-02 15:04:05"),
			recipientSummary(n.Results), n.Reason)
	}
	return tw.Flush()
}

// recipientSummary lists each recipient's result, or counts them when there are many.
func recipientSummary(results store.RecipientResults) string {
	if len(results) == 0 {
		return "-"
	}
	users := make([]string, 0, len(results))
	for u := range results {
		users = append(users, u)
	}
	slices.Sort(users)
	if len(users) > 5 {
		counts := map[string]int{}
		for _, r := range results {
			counts[r.Status]++
		}
		var parts []string
		for _, s := range []string{store.RecipientRead, store.RecipientUnread, store.RecipientSent, store.RecipientHeld,
			store.RecipientForbidden, store.RecipientInvalid, store.RecipientFailed} {
			if counts[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		return strings.Join(parts, ", ")
	}
	parts := make([]string, 0, len(users))
	for _, u := range users {
		p := u + " " + results[u].Status
		if c := results[u].Code; c != "" {
			p += " " + c
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

func notificationSettings(cmd *cobra.Command, env *environment, f *notificationsFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.on && f.off {
		return fmt.Errorf("%w: give --on or --off, not both", errUsage)
	}
	var u store.NotificationSettingsUpdate
	if f.on || f.off {
		u.Enabled = &f.on
	}
	u.Recipients, u.Kinds = splitNotifyList(f.recipients), splitNotifyList(f.kinds)
	changing := u.Enabled != nil || u.Recipients != nil || u.Kinds != nil
	if changing && f.by == "" {
		return fmt.Errorf("%w: --by is required: who changes the settings is recorded in the ops log", errUsage)
	}
	for _, k := range u.Kinds {
		if !slices.Contains(store.NotificationKinds, k) {
			return fmt.Errorf("%w: --kinds: %q is not a kind; the kinds are %s", errUsage, k, strings.Join(store.NotificationKinds, ", "))
		}
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	var s store.NotificationSettings
	if changing {
		s, err = st.SetNotificationSettings(cmd.Context(), f.corpID, f.by, u)
	} else {
		s, err = st.GetNotificationSettings(cmd.Context(), f.corpID)
	}
	if err != nil {
		return err
	}
	if f.asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(s)
	}
	admins, err := st.ListRoles(cmd.Context(), f.corpID, "", "hr_admin")
	if err != nil {
		return err
	}
	printNotificationSettings(cmd.OutOrStdout(), s, admins)
	return nil
}

func printNotificationSettings(out io.Writer, s store.NotificationSettings, admins []store.EmployeeRole) {
	state := "on"
	if !s.Enabled {
		state = "off"
	}
	fmt.Fprintf(out, "notifications: %s\n", state)
	var who []string
	for _, r := range s.Recipients {
		if r != store.RecipientsHRAdmins {
			who = append(who, r)
			continue
		}
		var ids []string
		for _, a := range admins {
			ids = append(ids, a.UserID)
		}
		who = append(who, fmt.Sprintf("hr_admins (now: %s)", orNobody(strings.Join(ids, ", "))))
	}
	fmt.Fprintf(out, "recipients: %s\nkinds: %s\n", strings.Join(who, ", "), strings.Join(s.Kinds, ", "))
}

// splitNotifyList splits a comma-separated flag; "" gives nil (unchanged).
func splitNotifyList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	out := []string{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}
