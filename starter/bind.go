package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

type bindFlags struct {
	corpID, appKey, secretFile, actor string
	agentID                           int64
}

func newBindCommand(env *environment) *cobra.Command {
	f := &bindFlags{}
	cmd := &cobra.Command{
		Use:   "bind",
		Short: "Register a corp's DingTalk app and store its AppSecret encrypted",
		Long: `bind records which DingTalk app (AppKey) serves a corp and stores the app's AppSecret,
encrypted with DINGSYNC_SECRET_KEY, as the corp's active credential.

Binding the same corp and AppKey again stores the secret as a new version; binding another
AppKey to a bound corp is refused until the corp is unbound.

The secret is read from --app-secret-file (use - for stdin), never from the command line.`,
		Example: `  starter bind --corp-id dingcorp1 --app-key dingappkey --agent-id 123 --app-secret-file secret.txt
  pass show dingtalk/corp1 | starter bind --corp-id dingcorp1 --app-key dingappkey --app-secret-file -`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBind(cmd, env, f) },
	}
	cmd.Flags().StringVar(&f.corpID, "corp-id", "", "the company's DingTalk CorpId (required)")
	cmd.Flags().StringVar(&f.appKey, "app-key", "", "the app's AppKey / Client ID (required)")
	cmd.Flags().Int64Var(&f.agentID, "agent-id", 0, "the app's AgentId (needed for work notifications)")
	cmd.Flags().StringVar(&f.secretFile, "app-secret-file", "", "file holding the AppSecret, or - for stdin (required)")
	cmd.Flags().StringVar(&f.actor, "actor", currentUser(), "who is binding, for the ops log")
	return cmd
}

var (
	corpIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)
	appKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)
)

func runBind(cmd *cobra.Command, env *environment, f *bindFlags) error {
	if err := validateCorpID(f.corpID); err != nil {
		return err
	}
	if !appKeyPattern.MatchString(f.appKey) {
		return fmt.Errorf("%w: --app-key %q is not an AppKey: copy the Client ID (AppKey) from the app's 凭证与基础信息 page in the DingTalk developer console", errUsage, f.appKey)
	}
	secret, err := readSecret(f.secretFile, cmd.InOrStdin())
	if err != nil {
		return err
	}
	box, err := secretbox.FromEnv()
	if err != nil {
		return err
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	version, err := st.Bind(cmd.Context(), store.BindInput{CorpID: f.corpID, AppKey: f.appKey, AgentID: f.agentID,
		Actor: f.actor, SealSecret: func(sealContext string) ([]byte, error) { return box.Seal(secret, sealContext) }})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "bound corp %s to app %s (AppSecret stored encrypted as version %d)\nnext: starter sync full --corp-id %s --wait\n",
		f.corpID, f.appKey, version, f.corpID)
	return nil
}

func validateCorpID(corpID string) error {
	if corpID == "" {
		return fmt.Errorf("%w: --corp-id is required: the company's CorpId from the DingTalk admin console (管理后台 → 企业信息)", errUsage)
	}
	if !corpIDPattern.MatchString(corpID) {
		return fmt.Errorf("%w: --corp-id %q is not a CorpId (4-64 letters, digits, - or _, e.g. ding1234abcd)", errUsage, corpID)
	}
	return nil
}

// readSecret reads a secret from a file or, for "-", stdin, trimming the trailing newline.
func readSecret(path string, stdin io.Reader) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%w: --app-secret-file is required (a file holding the AppSecret, or - for stdin); secrets are never taken from the command line", errUsage)
	}
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read the AppSecret: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the AppSecret: %w", err)
	}
	secret := strings.TrimSpace(line)
	if secret == "" {
		return "", fmt.Errorf("%w: the AppSecret file %q is empty: paste the Client Secret (AppSecret) from the DingTalk developer console into it", errUsage, path)
	}
	return secret, nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
