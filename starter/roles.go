package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
)

type rolesFlags struct {
	corpID, userID, role, by, reason string
	scopeDept                        int64
	set                              []string
	asJSON                           bool
}

func newRolesCommand(env *environment) *cobra.Command {
	f := &rolesFlags{}
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "Show, grant and configure the eHR roles derived from DingTalk",
		Long: `Every active employee holds eHR roles derived from DingTalk facts by the binding's rules:
  org_admin       an admin of the DingTalk org        → hr_admin of the whole org
  leader_in_dept  leader of a department              → manager of that department and its sub-departments
  everyone        every active employee               → self_service
plus roles granted by hand. Roles are recomputed in the same transaction as every sync or event
that changes an employee: a leader who moves manages the new department at once, and a leaver
loses every role in the transaction that marks them left. They are in the HR store's
employee_roles table, each with the rule that granted it.`,
		Example: `  starter roles show --corp-id dingcorp1 --userid manager01
  starter roles show --corp-id dingcorp1 --role manager --json
  starter roles grant --corp-id dingcorp1 --userid u123 --role payroll --reason "month end" --by alice
  starter roles rules --corp-id dingcorp1 --set leader_in_dept=dept_manager --set everyone=employee --by alice`,
	}
	show := &cobra.Command{
		Use: "show", Short: "Show an employee's roles (--userid) or who holds a role (--role), each with why",
		RunE: func(cmd *cobra.Command, _ []string) error { return showRoles(cmd, env, f) },
	}
	show.Flags().StringVar(&f.userID, "userid", "", "the employee's DingTalk userid")
	show.Flags().StringVar(&f.role, "role", "", "a role name, e.g. manager")
	show.Flags().BoolVar(&f.asJSON, "json", false, "print the roles as JSON")
	grant := &cobra.Command{
		Use: "grant", Short: "Grant a role by hand (kept while the employee is active)",
		RunE: func(cmd *cobra.Command, _ []string) error { return changeGrant(cmd, env, f, true) },
	}
	revoke := &cobra.Command{
		Use: "revoke", Short: "Revoke a role granted by hand",
		RunE: func(cmd *cobra.Command, _ []string) error { return changeGrant(cmd, env, f, false) },
	}
	for _, c := range []*cobra.Command{grant, revoke} {
		c.Flags().StringVar(&f.userID, "userid", "", "the employee's DingTalk userid (required)")
		c.Flags().StringVar(&f.role, "role", "", "the role (required)")
		c.Flags().Int64Var(&f.scopeDept, "scope-dept", 0, "limit the role to this department's subtree (default: the whole org)")
		c.Flags().StringVar(&f.by, "by", "", "who grants, for the ops log (required)")
	}
	grant.Flags().StringVar(&f.reason, "reason", "", "why, shown with the role")
	rules := &cobra.Command{
		Use: "rules", Short: "Show or change which role each DingTalk fact grants (recomputes every role)",
		RunE: func(cmd *cobra.Command, _ []string) error { return roleRules(cmd, env, f) },
	}
	rules.Flags().StringArrayVar(&f.set, "set", nil, "rule=role (org_admin, leader_in_dept, everyone); rule= turns the rule off")
	rules.Flags().StringVar(&f.by, "by", "", "who changes them, for the ops log (required with --set)")
	rules.Flags().BoolVar(&f.asJSON, "json", false, "print the rules as JSON")
	for _, c := range []*cobra.Command{show, grant, revoke, rules} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	}
	cmd.AddCommand(show, grant, revoke, rules)
	return cmd
}

func showRoles(cmd *cobra.Command, env *environment, f *rolesFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if (f.userID == "") == (f.role == "") {
		return fmt.Errorf("%w: give --userid (an employee's roles) or --role (who holds it)", errUsage)
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	roles, err := st.ListRoles(cmd.Context(), f.corpID, f.userID, f.role)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return json.NewEncoder(out).Encode(roles)
	}
	if len(roles) == 0 {
		fmt.Fprintln(out, "no roles: not an active employee of this corp, or no rule grants this role")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERID\tNAME\tROLE\tSCOPE\tWHY")
	for _, r := range roles {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.UserID, r.Name, r.Role, r.ScopeName, r.Because)
	}
	return tw.Flush()
}

func changeGrant(cmd *cobra.Command, env *environment, f *rolesFlags, grant bool) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.userID == "" || f.role == "" || f.by == "" {
		return fmt.Errorf("%w: --userid, --role and --by are required", errUsage)
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	g := store.Grant{CorpID: f.corpID, UserID: f.userID, Role: f.role, ScopeDeptID: f.scopeDept, By: f.by, Reason: f.reason}
	verb := "granted"
	if grant {
		err = st.GrantRole(cmd.Context(), g)
	} else {
		verb = "revoked"
		err = st.RevokeRole(cmd.Context(), g)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s to %s; see `starter roles show --corp-id %s --userid %s`\n", verb, f.role, f.userID, f.corpID, f.userID)
	return nil
}

func roleRules(cmd *cobra.Command, env *environment, f *rolesFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	rules, err := st.GetRoleRules(cmd.Context(), f.corpID)
	if err != nil {
		return err
	}
	if len(f.set) > 0 {
		if f.by == "" {
			return fmt.Errorf("%w: --by is required with --set: say who changes the rules, for the ops log", errUsage)
		}
		for _, kv := range f.set {
			rule, role, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%w: --set %q: want rule=role, e.g. leader_in_dept=manager", errUsage, kv)
			}
			if role == "" {
				delete(rules, rule)
			} else {
				rules[rule] = role
			}
		}
		if err := rules.Validate(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if err := st.SetRoleRules(cmd.Context(), f.corpID, f.by, rules); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return json.NewEncoder(out).Encode(rules)
	}
	names := make([]string, 0, len(rules))
	for rule := range rules {
		names = append(names, rule)
	}
	slices.Sort(names)
	for _, rule := range names {
		fmt.Fprintf(out, "%-15s → %s\n", rule, rules[rule])
	}
	return nil
}
