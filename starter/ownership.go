package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/store"
)

type ownershipFlags struct {
	corpID, by string
	fields     []string
	asJSON     bool
}

func newOwnershipCommand(env *environment) *cobra.Command {
	f := &ownershipFlags{}
	cmd := &cobra.Command{
		Use:   "ownership",
		Short: "Show or set which side, DingTalk or the eHR, owns each employee field",
		Long: `Every employee field has one owner, whose value is the truth. By default DingTalk owns them all.

  dingtalk  the field is copied from DingTalk by every sync and event; eHR edits of it are
            refused (change it in DingTalk, or hand it to the eHR first).
  ehr       the field is edited in the eHR: with 'starter employee update', or, from other eHR
            modules, the SQL function
              dingsync_employee_update(corp, userid, changes jsonb, actor, key)
            Each edit is queued and pushed to DingTalk by the worker (writeback/<corp>). A change
            made in DingTalk to such a field is overridden (the owner wins) and recorded as a
            conflict: see 'starter employee conflicts'.

The eHR may own name, title, job_number, email, org_email, telephone, work_place, remark and
hired_date. mobile always stays DingTalk's: it is the member's login. A field handed to the eHR
starts from the value the HR store holds now, the last value both sides agreed on.`,
		Example: `  starter ownership show --corp-id dingcorp1
  starter ownership set --corp-id dingcorp1 --field title=ehr --field work_place=ehr --by alice
  starter ownership set --corp-id dingcorp1 --field remark=dingtalk --by alice --json`,
	}
	show := &cobra.Command{
		Use: "show", Short: "Show the owner of every field the eHR may own",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := corpStore(cmd, env, f.corpID)
			if err != nil {
				return err
			}
			owners, err := st.GetFieldOwners(cmd.Context(), f.corpID)
			if err != nil {
				return err
			}
			return printOwners(cmd.OutOrStdout(), owners, f.asJSON)
		},
	}
	set := &cobra.Command{
		Use: "set", Short: "Hand fields to the eHR (field=ehr) or back to DingTalk (field=dingtalk)",
		Example: `  starter ownership set --corp-id dingcorp1 --field title=ehr --field work_place=ehr --by alice
  starter ownership set --corp-id dingcorp1 --field remark=dingtalk --by alice`,
		RunE: func(cmd *cobra.Command, _ []string) error { return setOwnership(cmd, env, f) },
	}
	set.Flags().StringArrayVar(&f.fields, "field", nil, "field=ehr or field=dingtalk; repeat for more fields")
	set.Flags().StringVar(&f.by, "by", "", "who changes the owners, for the ops log (required)")
	for _, c := range []*cobra.Command{show, set} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
		c.Flags().BoolVar(&f.asJSON, "json", false, "print the owners as JSON: {field: owner}")
	}
	cmd.AddCommand(show, set)
	return cmd
}

// parseFieldOwners turns --field values (field=owner) into the owner changes they ask for,
// checked with store.ValidateOwnerChanges; every error wraps errUsage.
func parseFieldOwners(fields []string) (map[string]string, error) {
	changes := map[string]string{}
	for _, kv := range fields {
		field, owner, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%w: --field %q: want field=ehr or field=dingtalk, e.g. --field title=ehr", errUsage, kv)
		}
		if _, dup := changes[field]; dup {
			return nil, fmt.Errorf("%w: --field %s given twice: give each field once", errUsage, field)
		}
		changes[field] = owner
	}
	if err := store.ValidateOwnerChanges(changes); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return changes, nil
}

func setOwnership(cmd *cobra.Command, env *environment, f *ownershipFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	changes, err := parseFieldOwners(f.fields)
	if err != nil {
		return err
	}
	if f.by == "" {
		return fmt.Errorf("%w: --by is required: who changes the owners is recorded in the ops log", errUsage)
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	owners, err := st.SetFieldOwners(cmd.Context(), f.corpID, changes, f.by)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if err := printOwners(out, owners, f.asJSON); err != nil || f.asJSON {
		return err
	}
	if owned := owners.EHROwned(); len(owned) > 0 {
		fmt.Fprintf(out, "edit %s in the eHR: starter employee update --corp-id %s --userid <userid> --set %s=<value> --by <you>\n",
			strings.Join(owned, ", "), f.corpID, owned[0])
	}
	return nil
}

// printOwners prints the owner of every ownable field, as a table or as JSON {field: owner}.
func printOwners(out io.Writer, owners store.FieldOwners, asJSON bool) error {
	if asJSON {
		all := map[string]string{}
		for _, field := range store.OwnableFields {
			all[field] = owners.Owner(field)
		}
		return json.NewEncoder(out).Encode(all)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tOWNER")
	for _, field := range store.OwnableFields {
		fmt.Fprintf(tw, "%s\t%s\n", field, owners.Owner(field))
	}
	fmt.Fprintf(tw, "mobile\t%s (always: the member's login)\n", store.OwnerDingTalk)
	return tw.Flush()
}
