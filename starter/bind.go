package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"gopkg.in/yaml.v3"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// bindConfig is what `starter bind` needs, from flags or a YAML/JSON file (--config).
type bindConfig struct {
	CorpID        string `yaml:"corp_id"`
	AppKey        string `yaml:"app_key"`
	AgentID       int64  `yaml:"agent_id"`
	AppSecretFile string `yaml:"app_secret_file"`
	CallbackURL   string `yaml:"callback_url"`
	// EventIntake is http or stream ("": http for a new binding, unchanged on a rebind).
	EventIntake string `yaml:"event_intake"`
}

type bindFlags struct {
	bindConfig
	configFile, actor string
	noWait            bool
}

func newBindCommand(env *environment) *cobra.Command {
	f := &bindFlags{}
	cmd := &cobra.Command{
		Use:   "bind",
		Short: "Bind a corp: store its app's credentials, verify them and every permission, sync it",
		Long: `bind stores which DingTalk app (AppKey) serves a corp and its AppSecret (encrypted with
DINGSYNC_SECRET_KEY), then starts the corp's binding workflow binding/<corp> and follows it:
  1. verify the AppKey/AppSecret by fetching a token;
  2. probe every permission dingsync's features use and report each as granted or missing,
     with the console step that fixes it (missing optional ones degrade a feature only);
  3. snapshot the corp's HR rows (restorable with 'starter snapshot restore');
  4. register the event callback (with --callback-url) with a fresh token and AES key, or,
     with --event-intake stream, nothing: a worker holds the corp's DingTalk Stream connection;
  5. run the initial full sync.
Binding the same corp and AppKey again is safe (the secret becomes a new version, and a
binding waiting on a fix re-checks). Another AppKey for a bound corp is refused until it is
unbound. The secret is read from --app-secret-file (- for stdin), never from the command line.`,
		Example: `  starter bind --corp-id dingcorp1 --app-key dingappkey --agent-id 123 --app-secret-file secret.txt
  starter bind --config corp1.yaml      # corp_id, app_key, agent_id, app_secret_file, callback_url, event_intake
  starter bind --corp-id dingcorp1 --app-key dingappkey --app-secret-file secret.txt --event-intake stream
  pass show dingtalk/corp1 | starter bind --corp-id dingcorp1 --app-key dingappkey --app-secret-file -`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBind(cmd, env, f) },
	}
	cmd.Flags().StringVar(&f.configFile, "config", "", "read the settings below from a YAML or JSON file (flags override it)")
	cmd.Flags().StringVar(&f.CorpID, "corp-id", "", "the company's DingTalk CorpId (required)")
	cmd.Flags().StringVar(&f.AppKey, "app-key", "", "the app's AppKey / Client ID (required)")
	cmd.Flags().Int64Var(&f.AgentID, "agent-id", 0, "the app's AgentId (needed for work notifications)")
	cmd.Flags().StringVar(&f.AppSecretFile, "app-secret-file", "", "file holding the AppSecret, or - for stdin (required)")
	cmd.Flags().StringVar(&f.CallbackURL, "callback-url", "", "where DingTalk pushes change events, e.g. https://ehr.example.com/dingtalk/callback/<corp>")
	cmd.Flags().StringVar(&f.EventIntake, "event-intake", "", "how DingTalk's events arrive: http (pushes to --callback-url; the default) or stream (Stream mode: no public URL needed)")
	cmd.Flags().StringVar(&f.actor, "actor", currentUser(), "who is binding, for the ops log")
	cmd.Flags().BoolVar(&f.noWait, "no-wait", false, "start the binding and return without following it")
	return cmd
}

func runBind(cmd *cobra.Command, env *environment, f *bindFlags) error {
	cfg, err := f.resolve(cmd)
	if err != nil {
		return err
	}
	secret, err := readSecret(cfg.AppSecretFile, cmd.InOrStdin())
	if err != nil {
		return err
	}
	box, err := secretbox.FromEnv()
	if err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	st, err := env.store(cmd.Context())
	if err != nil {
		return err
	}
	version, err := st.Bind(cmd.Context(), store.BindInput{CorpID: cfg.CorpID, AppKey: cfg.AppKey, AgentID: cfg.AgentID,
		CallbackURL: cfg.CallbackURL, EventIntake: cfg.EventIntake, Actor: f.actor,
		SealSecret: func(sealContext string) ([]byte, error) { return box.Seal(secret, sealContext) }})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "stored corp %s's app %s (AppSecret encrypted, version %d)\n", cfg.CorpID, cfg.AppKey, version)
	started, err := startBinding(cmd, env, c, cfg.CorpID, f.actor)
	if err != nil || f.noWait {
		return err
	}
	if !started {
		fmt.Fprintln(out, "the binding workflow was already running: it re-checks with the new settings")
	}
	state, err := followBinding(cmd.Context(), out, c, cfg.CorpID)
	if err != nil {
		return err
	}
	if state.Status != store.BindingActive {
		return fmt.Errorf("corp %s is %s: %s", cfg.CorpID, state.Status, state.Reason)
	}
	return nil
}

// resolve merges the config file (if any) under the flags and validates the result.
func (f *bindFlags) resolve(cmd *cobra.Command) (bindConfig, error) {
	cfg := bindConfig{}
	if f.configFile != "" {
		raw, err := os.ReadFile(f.configFile)
		if err != nil {
			return cfg, fmt.Errorf("%w: read --config: %v", errUsage, err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("%w: --config %s: %v (keys: corp_id, app_key, agent_id, app_secret_file, callback_url, event_intake; secrets go in app_secret_file, never inline)", errUsage, f.configFile, err)
		}
	}
	flags := cmd.Flags()
	for name, dst := range map[string]*string{"corp-id": &cfg.CorpID, "app-key": &cfg.AppKey,
		"app-secret-file": &cfg.AppSecretFile, "callback-url": &cfg.CallbackURL, "event-intake": &cfg.EventIntake} {
		if flags.Changed(name) {
			v, _ := flags.GetString(name)
			*dst = v
		}
	}
	if flags.Changed("agent-id") {
		cfg.AgentID = f.AgentID
	}
	if err := validateCorpID(cfg.CorpID); err != nil {
		return cfg, err
	}
	if !activities.ValidAppKey(cfg.AppKey) {
		return cfg, fmt.Errorf("%w: AppKey %q is not an AppKey: copy the Client ID (AppKey) from the app's 凭证与基础信息 page in the DingTalk developer console", errUsage, cfg.AppKey)
	}
	if cfg.AgentID < 0 {
		return cfg, fmt.Errorf("%w: AgentId must be positive: copy it from the app's 凭证与基础信息 page", errUsage)
	}
	if cfg.CallbackURL != "" {
		if err := activities.ValidateCallbackURL(cfg.CallbackURL); err != nil {
			return cfg, fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return cfg, validateEventIntake(cfg)
}

// startBinding starts binding/<corp>, or, when it is already running, asks it to re-check.
func startBinding(cmd *cobra.Command, env *environment, c client.Client, corpID, actor string) (started bool, err error) {
	_, err = startExclusive(cmd.Context(), env, c, workflows.BindingWorkflowID(corpID), corpID, workflows.KindBinding,
		workflows.Binding, workflows.BindingInput{CorpID: corpID, Actor: actor})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &already) {
		return err == nil, err
	}
	_, err = updateBinding(cmd, c, corpID, workflows.UpdateResume, workflows.BindingAction{By: actor, Reason: "re-bound"})
	if err != nil && strings.Contains(err.Error(), "already active") {
		return false, nil
	}
	return false, err
}

func validateCorpID(corpID string) error {
	if corpID == "" {
		return fmt.Errorf("%w: --corp-id is required: the company's CorpId from the DingTalk admin console (管理后台 → 企业信息)", errUsage)
	}
	if !activities.ValidCorpID(corpID) {
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

// validateEventIntake checks --event-intake: http or stream, and stream without a callback URL
// (Stream mode needs none; DingTalk sends events to one channel).
func validateEventIntake(cfg bindConfig) error {
	switch cfg.EventIntake {
	case "", store.EventIntakeHTTP:
		return nil
	case store.EventIntakeStream:
		if cfg.CallbackURL != "" {
			return fmt.Errorf("%w: --callback-url is for --event-intake http; with stream DingTalk sends events over the worker's Stream connection: drop --callback-url", errUsage)
		}
		return nil
	}
	return fmt.Errorf("%w: --event-intake %q: want http (DingTalk pushes to --callback-url) or stream (Stream mode)", errUsage, cfg.EventIntake)
}
