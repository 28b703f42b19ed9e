package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

type rotateFlags struct {
	corpID, secretFile, by string
	callback, noWait, json bool
	grace                  time.Duration
}

func newRotateCommand(env *environment) *cobra.Command {
	f := &rotateFlags{}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate a corp's AppSecret or callback keys without downtime",
		Long: `rotate starts the workflow rotate/<corp>.

AppSecret (--app-secret-file): DingTalk has no API to reset an AppSecret; reset it in the
developer console (凭证与基础信息), then hand the new one to dingsync at once. dingsync stores it
encrypted as a pending version, proves it by fetching a token with it, switches every worker to
it atomically (cached tokens are per version, so none is reused), smoke-tests a read, and
retires the old version. Runs in flight keep going: a long sync picks the new secret up within
seconds. Any failed step rolls back to the old version and the error names the step.

Callback keys (--callback): dingsync draws a new token and AES key, registers them with
DingTalk (update_call_back, which DingTalk verifies with a check_url push), switches to them,
and keeps accepting pushes signed with the old keys for --grace before retiring them.

Every rotation is in the ops log and counted in dingsync_credential_rotations_total.`,
		Example: `  starter rotate --corp-id dingcorp1 --app-secret-file new-secret.txt --by alice
  pass show dingtalk/corp1 | starter rotate --corp-id dingcorp1 --app-secret-file - --by alice
  starter rotate --corp-id dingcorp1 --callback --grace 30m --by alice`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRotate(cmd, env, f) },
	}
	cmd.Flags().StringVar(&f.corpID, "corp-id", "", "the corp (required)")
	cmd.Flags().StringVar(&f.secretFile, "app-secret-file", "", "file holding the new AppSecret, or - for stdin")
	cmd.Flags().BoolVar(&f.callback, "callback", false, "rotate the event callback's token and AES key instead")
	cmd.Flags().DurationVar(&f.grace, "grace", 10*time.Minute, "with --callback: how long pushes signed with the old keys are still accepted")
	cmd.Flags().StringVar(&f.by, "by", currentUser(), "who rotates, for the ops log")
	cmd.Flags().BoolVar(&f.noWait, "no-wait", false, "start the rotation and return")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the result as JSON")
	return cmd
}

func runRotate(cmd *cobra.Command, env *environment, f *rotateFlags) error {
	ctx := cmd.Context()
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if f.callback == (f.secretFile != "") {
		return fmt.Errorf("%w: give either --app-secret-file (rotate the AppSecret) or --callback (rotate the callback keys)", errUsage)
	}
	if f.callback && f.grace < 0 {
		return fmt.Errorf("%w: --grace must not be negative", errUsage)
	}
	st, err := env.store(ctx)
	if err != nil {
		return err
	}
	if _, err := st.GetBinding(ctx, f.corpID); err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	in := workflows.RotateInput{CorpID: f.corpID, Credential: activities.RotateCallback, Actor: f.by, Grace: f.grace}
	if !f.callback {
		in.Credential = activities.RotateAppSecret
		if in.Version, err = storePendingSecret(cmd, st, f); err != nil {
			return err
		}
	}
	run, err := startExclusive(ctx, env, c, workflows.RotateWorkflowID(f.corpID), f.corpID, workflows.KindRotate, workflows.Rotate, in)
	if err != nil {
		if in.Version > 0 {
			_ = st.RollbackRotation(ctx, f.corpID, store.CredentialAppSecret, in.Version, f.by, "the rotation workflow did not start")
		}
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &already) {
			return fmt.Errorf("a rotation of corp %s is already running (workflow %s): wait for it to finish", f.corpID, workflows.RotateWorkflowID(f.corpID))
		}
		return fmt.Errorf("start the rotation: %w", err)
	}
	out := cmd.OutOrStdout()
	if f.noWait {
		return printStarted(out, f.json, run)
	}
	if !f.json {
		fmt.Fprintf(out, "rotating %s of %s (workflow %s, run %s)\n", in.Credential, f.corpID, run.GetID(), run.GetRunID())
	}
	return printRotation(cmd, run, f.json)
}

// storePendingSecret reads the new AppSecret and stores it, encrypted, as a pending version.
func storePendingSecret(cmd *cobra.Command, st *store.Store, f *rotateFlags) (int, error) {
	secret, err := readSecret(f.secretFile, cmd.InOrStdin())
	if err != nil {
		return 0, err
	}
	box, err := secretbox.FromEnv()
	if err != nil {
		return 0, err
	}
	versions, err := st.PutPendingCredentials(cmd.Context(), f.corpID, f.by, store.PendingSecret{Kind: store.CredentialAppSecret,
		Seal: func(sc string) ([]byte, error) { return box.Seal(secret, sc) }})
	if err != nil {
		return 0, err
	}
	return versions[0], nil
}

func printRotation(cmd *cobra.Command, run client.WorkflowRun, asJSON bool) error {
	var res workflows.RotateResult
	if err := run.Get(cmd.Context(), &res); err != nil {
		return fmt.Errorf("rotation failed: %s", workflows.FailureMessage(err))
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	for _, s := range res.Steps {
		fmt.Fprintln(out, "  "+s)
	}
	fmt.Fprintf(out, "rotated: now active %v\n", res.Versions)
	return nil
}
