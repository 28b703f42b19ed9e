package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"gopkg.in/yaml.v3"

	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/workflows"
)

type mappingFlags struct {
	corpID, file, userID, by string
}

func newMappingCommand(env *environment) *cobra.Command {
	f := &mappingFlags{}
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Show, test and set how DingTalk fields become the HR store's custom fields",
		Long: `A binding's field mapping turns DingTalk fields into typed custom fields of each employee
(employees.attrs.custom_fields, the custom_fields column of hr_employees). A mapping file (JSON
or YAML) lists fields:

  fields:
    - {name: employee_no, from: extension.工号, type: string, transforms: [trim]}
    - {name: phone, from: mobile, type: string, transforms: [e164]}
    - {name: hired_on, from: hired_date, type: date, transforms: [date_ms]}
    - {name: grade, from: extension.职级, type: string, enum: {P5: junior, P6: senior}}
    - {name: cert_no, from: roster.sys02-certNo, type: string}

from: a standard field (mobile, job_number, hired_date, title, …), extension.<key>, or
roster.<fieldCode> for a smart-HR roster (花名册) field, read by syncs (the binding needs its
AgentId: starter bind --agent-id; the app needs the smart-HR roster read permission).
type: string, number, bool or date. transforms: trim, lower, upper, e164, date_ms. enum maps
values (a value it does not list becomes null). A mapping is checked when set (unknown field,
type clash: a clear error, nothing changed). Setting it rewrites, in one transaction, only the
custom fields it changes, from what the store holds (no DingTalk call), as a run of kind mapping.
Roster fields the store holds no values for yet are read by a full sync it starts at once (its
apply changes only the custom fields that differ).`,
		Example: `  starter mapping show --corp-id dingcorp1
  starter mapping test --corp-id dingcorp1 --file mapping.yaml --userid manager01
  starter mapping set --corp-id dingcorp1 --file mapping.yaml --by alice`,
	}
	show := &cobra.Command{Use: "show", Short: "Print the corp's mapping as JSON",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := corpStore(cmd, env, f.corpID)
			if err != nil {
				return err
			}
			m, err := st.FieldMapping(cmd.Context(), f.corpID)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(m)
		}}
	test := &cobra.Command{Use: "test", Short: "Show what one employee's custom fields would become (nothing is written)",
		RunE: func(cmd *cobra.Command, _ []string) error { return testMapping(cmd, env, f) }}
	set := &cobra.Command{Use: "set", Short: "Check and store a mapping, rewriting the custom fields it changes",
		RunE: func(cmd *cobra.Command, _ []string) error { return setMapping(cmd, env, f) }}
	for _, c := range []*cobra.Command{show, test, set} {
		c.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	}
	test.Flags().StringVar(&f.file, "file", "", "a mapping file to try (default: the corp's own mapping)")
	test.Flags().StringVar(&f.userID, "userid", "", "the employee (required)")
	set.Flags().StringVar(&f.file, "file", "", "the mapping file, JSON or YAML (required)")
	set.Flags().StringVar(&f.by, "by", "", "who sets it, for the ops log (required)")
	cmd.AddCommand(show, test, set)
	return cmd
}

// readMapping reads and checks a mapping file (YAML when it ends in .yaml or .yml).
func readMapping(path string) (fieldmap.Mapping, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fieldmap.Mapping{}, fmt.Errorf("%w: read the mapping file: %v", errUsage, err)
	}
	if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
		var doc any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fieldmap.Mapping{}, fmt.Errorf("%w: %s: %v", errUsage, path, err)
		}
		if raw, err = json.Marshal(doc); err != nil {
			return fieldmap.Mapping{}, fmt.Errorf("%w: %s: %v", errUsage, path, err)
		}
	}
	m, err := fieldmap.Parse(raw)
	if err != nil {
		return m, fmt.Errorf("%w: %s: %v", errUsage, path, err)
	}
	return m, nil
}

func setMapping(cmd *cobra.Command, env *environment, f *mappingFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.file == "" || f.by == "" {
		return fmt.Errorf("%w: --file and --by are required", errUsage)
	}
	m, err := readMapping(f.file)
	if err != nil {
		return err
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	res, err := st.SetFieldMapping(cmd.Context(), f.corpID, f.by, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "mapping set (%d fields): run %d rewrote the custom fields of %d of %d employees; see them with `starter changes --run-id %d`\n",
		len(m.Fields), res.RunID, res.Changed, res.Checked, res.RunID)
	if len(res.NewRosterCodes) > 0 {
		syncForRosterFields(cmd, env, f.corpID, res.NewRosterCodes)
	}
	return nil
}

// syncForRosterFields starts the full sync that reads roster fields a mapping just added (the
// store holds no values for them); its apply changes only the custom fields that differ. When
// it cannot start, it says how to run it: the mapping is set either way.
func syncForRosterFields(cmd *cobra.Command, env *environment, corpID string, codes []string) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "the store holds no values yet for the roster fields %s: their custom fields stay null until a full sync reads them\n",
		strings.Join(codes, ", "))
	c, err := env.client()
	if err == nil {
		var run client.WorkflowRun
		run, err = launch{what: "full sync", id: workflows.FullSyncWorkflowID(corpID), corpID: corpID, kind: workflows.KindFull,
			wf: workflows.FullSync, input: workflows.FullSyncInput{CorpID: corpID, Trigger: "mapping: new roster fields"}}.start(cmd.Context(), env, c)
		if err == nil {
			fmt.Fprintf(out, "started that full sync (workflow %s, run %s); follow it with `starter runs --corp-id %s`\n", run.GetID(), run.GetRunID(), corpID)
			return
		}
	}
	fmt.Fprintf(out, "could not start it (%v): run `starter sync full --corp-id %s` once any running sync has ended\n", err, corpID)
}

func testMapping(cmd *cobra.Command, env *environment, f *mappingFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.userID == "" {
		return fmt.Errorf("%w: --userid is required: the employee to try the mapping on", errUsage)
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	m, err := st.FieldMapping(cmd.Context(), f.corpID)
	if err != nil {
		return err
	}
	if f.file != "" {
		if m, err = readMapping(f.file); err != nil {
			return err
		}
	}
	var raw []byte
	if err := st.DB().GetContext(cmd.Context(), &raw, `SELECT attrs FROM employees WHERE corp_id = $1 AND userid = $2`, f.corpID, f.userID); err != nil {
		return fmt.Errorf("employee %s of corp %s is not in the HR store (%v): run a full sync first", f.userID, f.corpID, err)
	}
	var attrs map[string]any
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return err
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"userid": f.userID, "now": attrs["custom_fields"], "would_be": m.Apply(attrs)})
}
