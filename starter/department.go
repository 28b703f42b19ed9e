package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

type departmentFlags struct {
	corpID, name, key, by string
	deptID, parent, order int64
	wait                  time.Duration
	asJSON                bool
}

const departmentLong = `The eHR creates departments in DingTalk and renames, moves or reorders them; each change is
queued in the HR store (ehr_writes) and pushed to DingTalk by the worker's writeback/<corp>
workflow, which these commands wake at once. DingTalk stays the truth for departments: the HR
store changes when DingTalk reports the change, as for one made in the DingTalk console.

A name has 1 to 64 characters without '-', ',' or '，'; a parent is an active department (1 is
the root). A department cannot move under itself or one of its sub-departments, and the root is
changed in the DingTalk admin console only.

--key makes a call safe to repeat: the same key returns the first call's write. A create retried
after a lost answer adopts the department an earlier attempt made (same name, same parent).
--wait D follows the write until DingTalk has it or D passes; the exit code is 1 when the write
failed or is still pending then ('starter employee writes' lists department writes too).`

func newDepartmentCommand(env *environment) *cobra.Command {
	f := &departmentFlags{}
	cmd := &cobra.Command{
		Use:   "department",
		Short: "Create, rename, move or reorder DingTalk departments from the eHR",
		Long:  departmentLong,
		Example: `  starter department create --corp-id dingcorp1 --name 华北大区 --parent 3 --key org-unit-77 --by alice --wait 30s
  starter department update --corp-id dingcorp1 --dept-id 12 --name 华北区 --parent 5 --by alice --wait 30s --json`,
	}
	create := &cobra.Command{
		Use: "create", Short: "Create a department in DingTalk", Long: departmentLong,
		Example: `  starter department create --corp-id dingcorp1 --name 华北大区 --parent 3 --order 20 --key org-unit-77 --by alice --wait 30s`,
		RunE:    func(cmd *cobra.Command, _ []string) error { return createDepartment(cmd, env, f) },
	}
	create.Flags().StringVar(&f.key, "key", "", "unique per department, e.g. the eHR's org unit id (required): re-running never creates a second one")
	update := &cobra.Command{
		Use: "update", Short: "Rename, move or reorder a DingTalk department", Long: departmentLong,
		Example: `  starter department update --corp-id dingcorp1 --dept-id 12 --name 华北区 --by alice
  starter department update --corp-id dingcorp1 --dept-id 12 --parent 5 --order 10 --key move-12 --by alice --wait 30s`,
		RunE: func(cmd *cobra.Command, _ []string) error { return updateDepartment(cmd, env, f) },
	}
	update.Flags().Int64Var(&f.deptID, "dept-id", 0, "the DingTalk department to change (required)")
	update.Flags().StringVar(&f.key, "key", "", "an idempotency key: repeating the call with it queues nothing new")
	for _, c := range []*cobra.Command{create, update} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
		c.Flags().StringVar(&f.name, "name", "", "the department's name")
		c.Flags().Int64Var(&f.parent, "parent", 0, "the parent department's id (1: the root)")
		c.Flags().Int64Var(&f.order, "order", 0, "the department's place among its siblings, smaller first")
		c.Flags().StringVar(&f.by, "by", "", "who makes the change, for the ops log (required)")
		c.Flags().DurationVar(&f.wait, "wait", 0, "follow the write until DingTalk has it or this long passes, e.g. 30s")
		c.Flags().BoolVar(&f.asJSON, "json", false, "print the write as JSON")
	}
	cmd.AddCommand(create, update)
	return cmd
}

// departmentFields are the department fields cmd's flags set (only those given: an --order 0
// given is sent, one not given is not).
func departmentFields(cmd *cobra.Command) map[string]any {
	fields := map[string]any{}
	flags := cmd.Flags()
	if flags.Changed("name") {
		fields["name"], _ = flags.GetString("name")
	}
	if flags.Changed("parent") {
		fields["parent_id"], _ = flags.GetInt64("parent")
	}
	if flags.Changed("order") {
		fields["order"], _ = flags.GetInt64("order")
	}
	return fields
}

func createDepartment(cmd *cobra.Command, env *environment, f *departmentFlags) error {
	if f.name == "" || f.parent == 0 || f.key == "" || f.by == "" {
		return fmt.Errorf("%w: --name, --parent, --key and --by are required; --key is unique per department "+
			"(e.g. the eHR's org unit id), so re-running a create never makes a second one", errUsage)
	}
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	id, err := st.QueueDepartmentCreate(cmd.Context(), f.corpID, departmentFields(cmd), f.by, f.key)
	if err != nil {
		return err
	}
	return pushWrite(cmd, env, st, c, writeFollow{corpID: f.corpID, wait: f.wait, asJSON: f.asJSON}, id)
}

func updateDepartment(cmd *cobra.Command, env *environment, f *departmentFlags) error {
	fields := departmentFields(cmd)
	if f.deptID == 0 || f.by == "" || len(fields) == 0 {
		return fmt.Errorf("%w: --dept-id, --by and at least one of --name, --parent and --order are required", errUsage)
	}
	st, c, err := boundCorp(cmd, env, f.corpID)
	if err != nil {
		return err
	}
	id, err := st.QueueDepartmentUpdate(cmd.Context(), f.corpID, f.deptID, fields, f.by, f.key)
	if err != nil {
		return err
	}
	return pushWrite(cmd, env, st, c, writeFollow{corpID: f.corpID, wait: f.wait, asJSON: f.asJSON}, id)
}
