package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/httpapi"
)

func newEventsCommand(env *environment) *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Incremental sync from DingTalk's change events"}
	var corpID string
	drain := &cobra.Command{
		Use:   "drain",
		Short: "Fetch now the events DingTalk failed to push (e.g. while the receiver was down)",
		Long: `drain asks the corp's incremental sync (incsync/<corp>) to pull DingTalk's failed-push list
(get_call_back_failed_result) into the inbox and apply it. It also happens every 15 minutes and
whenever the workflow starts; use this after an outage to catch up at once.`,
		Example: "  starter events drain --corp-id dingcorp1",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateCorpID(corpID); err != nil {
				return err
			}
			st, err := env.store(cmd.Context())
			if err != nil {
				return err
			}
			if _, err := st.GetBinding(cmd.Context(), corpID); err != nil {
				return err
			}
			c, err := env.client()
			if err != nil {
				return err
			}
			w := &httpapi.IncrementalWaker{Client: c, TaskQueue: env.config().TaskQueue}
			if err := w.DrainFailedPushes(cmd.Context(), corpID); err != nil {
				return fmt.Errorf("ask incsync/%s to drain: %w", corpID, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "incsync/%s is draining DingTalk's failed pushes; follow it with `starter runs --corp-id %s`\n", corpID, corpID)
			return nil
		},
	}
	drain.Flags().StringVar(&corpID, "corp-id", "", "the corp (required)")
	cmd.AddCommand(drain)
	return cmd
}
