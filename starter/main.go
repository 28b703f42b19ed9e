// Command starter is dingsync's ops CLI: bind a corp, run and follow syncs, read the sync log
// and the audit trail, and decide deletions the guard held. Run `starter --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// errUsage marks errors in how a command was called (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		if errors.Is(err, errUsage) || strings.HasPrefix(err.Error(), "unknown command") {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	env := &environment{}
	root := &cobra.Command{
		Use:   "starter",
		Short: "dingsync ops CLI: bind DingTalk corps, run and inspect syncs",
		Long: `starter is the ops CLI of dingsync, which keeps a company's DingTalk org chart and
employees in step with the eHR system's Postgres HR store.

Typical first steps:
  starter bind --corp-id dingcorp1 --app-key dingappkey --app-secret-file secret.txt
  starter sync full --corp-id dingcorp1 --wait
  starter runs --corp-id dingcorp1
  starter changes --run-id 1

Settings come from the environment: DATABASE_URL (the HR store), TEMPORAL_ADDRESS and
TEMPORAL_NAMESPACE (the Temporal server), DINGSYNC_SECRET_KEY (encrypts stored credentials;
needed by bind). Secrets are never taken from the command line: use a file or stdin.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	root.PersistentPostRun = func(*cobra.Command, []string) { env.close() }
	root.AddCommand(newBindCommand(env), newAuthorizeCommand(env), newStatusCommand(env), newSyncCommand(env), newRunsCommand(env),
		newChangesCommand(env), newDeletionsCommand(env), newSnapshotCommand(env), newEventsCommand(env), newAuditCommand(env),
		newSchedulesCommand(env), newRotateCommand(env), newRolesCommand(env), newScopeCommand(env), newMappingCommand(env))
	root.AddCommand(newLifecycleCommands(env)...)
	root.AddCommand(newNotificationsCommand(env))
	root.AddCommand(newImportCommand(env))
	root.AddCommand(newOwnershipCommand(env))
	root.AddCommand(newEmployeeCommand(env))
	root.AddCommand(newDepartmentCommand(env))
	return root
}
