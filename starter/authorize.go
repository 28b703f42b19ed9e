package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/httpapi"
	"github.com/dingsync/dingsync/workflows"
)

func newAuthorizeCommand(env *environment) *cobra.Command {
	var corpID string
	var timeout time.Duration
	var wait, asJSON bool
	cmd := &cobra.Command{
		Use:   "authorize",
		Short: "Get an org admin's OAuth consent: prints a one-time DingTalk login link",
		Long: `authorize starts authorize/<corp> and prints a DingTalk login link for an org admin to open.
After the admin consents, DingTalk redirects to the worker's /oauth/callback (at
DINGSYNC_PUBLIC_URL); dingsync exchanges the code, checks the user is an admin of the corp,
and records who authorized and when (starter status shows it).

The link works once and expires after --timeout. A new 'authorize' replaces a waiting one.`,
		Example: "  starter authorize --corp-id dingcorp1\n  starter authorize --corp-id dingcorp1 --json --no-wait   # for scripts",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			if timeout < time.Minute {
				return fmt.Errorf("%w: --timeout %s is too short for an admin to log in: give at least 1m", errUsage, timeout)
			}
			ctx := cmd.Context()
			st, err := env.store(ctx)
			if err != nil {
				return err
			}
			b, err := st.GetBinding(ctx, corpID)
			if err != nil {
				return err
			}
			c, err := env.client()
			if err != nil {
				return err
			}
			dtCfg, err := dingtalk.ConfigFromEnv()
			if err != nil {
				return err
			}
			raw := make([]byte, 32)
			if _, err := rand.Read(raw); err != nil {
				return err
			}
			state := base64.RawURLEncoding.EncodeToString(raw)
			hash := httpapi.HashState(state)
			id := workflows.AuthorizeWorkflowID(corpID)
			if err := st.CreateOAuthState(ctx, hash, corpID, id, time.Now().Add(timeout)); err != nil {
				return err
			}
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: id, TaskQueue: env.config().TaskQueue,
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
				WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.CorpIDAttribute.ValueSet(corpID),
					workflows.SyncKindAttribute.ValueSet(workflows.KindAuthorize)),
			}, workflows.Authorize, workflows.AuthorizeInput{CorpID: corpID, StateHash: hash, Timeout: timeout})
			if err != nil {
				return fmt.Errorf("start the authorization: %w", err)
			}
			link := dingtalk.New(dtCfg).AuthorizeURL(b.AppKey, env.config().PublicURL+httpapi.OAuthCallbackPath, state)
			out := cmd.OutOrStdout()
			if asJSON {
				if err := json.NewEncoder(out).Encode(map[string]string{"url": link, "workflow_id": id, "run_id": run.GetRunID()}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "ask an org admin of %s to open this link within %s:\n\n  %s\n\n", corpID, timeout, link)
			}
			if !wait {
				return nil
			}
			var res activities.AuthorizeResult
			if err := run.Get(ctx, &res); err != nil {
				return fmt.Errorf("authorization failed: %s", workflows.FailureMessage(err))
			}
			fmt.Fprintf(out, "authorized by %s (%s)\n", res.Name, res.UserID)
			return nil
		},
	}
	cmd.Flags().StringVar(&corpID, "corp-id", "", "the corp (required; bind it first)")
	cmd.Flags().DurationVar(&timeout, "timeout", workflows.DefaultAuthorizationTimeout, "how long the link stays valid")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the admin has consented (or the link expires)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the link as JSON")
	return cmd
}
