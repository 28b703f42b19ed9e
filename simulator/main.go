// Command dingtalk-sim serves the DingTalk simulator (internal/dingtalksim) over HTTP: it
// generates one corp's org, registers one app, prints the base URL and serves both API
// families plus the /_sim/ admin API until SIGINT or SIGTERM.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

const usage = `dingtalk-sim serves a simulated DingTalk Open Platform for tests, demos and benchmarks.

Usage:
  dingtalk-sim --app-secret-file FILE [flags]
  echo "$SECRET" | dingtalk-sim --app-secret-stdin [flags]

It generates the org of one corp (deterministic for a given --seed), registers one app
with every permission, and serves the legacy oapi endpoints (/gettoken, /topapi/...) and
the new API (/v1.0/...) on one address. Point DINGTALK_OAPI_BASE_URL and
DINGTALK_API_BASE_URL at the printed URL. The first line on stdout is always
"listening on http://HOST:PORT" (use --addr 127.0.0.1:0 to pick a free port).

It also serves the OAuth login (GET /oauth2/auth, which logs in the consenting user at
once, POST /v1.0/oauth2/userAccessToken, GET /v1.0/contact/users/me,
/topapi/user/getbyunionid), callback registration (/call_back/*) and the permission
probes (getsendprogress, /attendance/list, /v1.0/workflow/processes/instanceIds/query).

Registering a callback pushes check_url to its URL first (errcode 71008 unless it answers
an encrypted "success"; --skip-callback-url-check turns that off). Every org change of a
subscribed type is then pushed to the URL, encrypted as DingTalk does; failed pushes are
listed once by GET /call_back/get_call_back_failed_result.

The admin API under /_sim/ adds corps and apps, mutates the org, injects faults, changes
limits and reads the ground truth and call counters; see internal/dingtalksim/README.md.
Among its routes:
  POST /_sim/apps                     {"corpId","appKey","appSecret","permissions","allowedIps",...}
  PUT  /_sim/apps/{appKey}/secret     {"appSecret"}
  PUT  /_sim/apps/{appKey}/whitelist  {"allowedIps":["10.0.0.0/8","192.0.2.7"]} ([] allows any IP)
  PUT  /_sim/oauth/consent            {"appKey","userId"}: the user who logs in on /oauth2/auth
  PUT  /_sim/faults, GET|PUT /_sim/limits, GET /_sim/calls, GET /_sim/truth, GET /_sim/events
  GET|PUT /_sim/push                  {"paused","duplicateRate","delayMs","jitterMs","reorderWindow",
                                      "dropToFailedList","timeoutMs","skipUrlCheck","seed"}
  GET  /_sim/pushes?corpId=           pushes by outcome, queued, failed
It has no authentication: bind to a loopback or private address only.

The app secret is read from a file or stdin and never printed.

Flags:
`

// config is the parsed command line.
type config struct {
	addr, corpID, appKey string
	secretFile           string
	secretStdin          bool
	spec                 dingtalksim.OrgSpec
	opts                 dingtalksim.Options
	banPage              string
	skipURLCheck         bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "dingtalk-sim:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "dingtalk-sim:", err)
		os.Exit(1)
	}
}

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{opts: dingtalksim.DefaultOptions()}
	fs := flag.NewFlagSet("dingtalk-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:18080", "listen address (port 0 picks a free port)")
	fs.StringVar(&cfg.corpID, "corp-id", "dingsimcorp0001", "corp id of the generated org")
	fs.StringVar(&cfg.appKey, "app-key", "dingsimappkey001", "AppKey (Client ID) of the registered app")
	fs.StringVar(&cfg.secretFile, "app-secret-file", "", "read the AppSecret from this file (surrounding whitespace is trimmed)")
	fs.BoolVar(&cfg.secretStdin, "app-secret-stdin", false, "read the AppSecret from the first line of stdin")
	fs.IntVar(&cfg.spec.Employees, "employees", 1000, "number of employees to generate")
	fs.Int64Var(&cfg.spec.Seed, "seed", 1, "generator seed: the same seed gives the same org")
	fs.IntVar(&cfg.spec.MembersPerDept, "members-per-dept", 20, "average department size")
	fs.IntVar(&cfg.spec.MaxDepth, "max-depth", 5, "depth of the department tree (root = 1)")
	fs.IntVar(&cfg.opts.QPS, "qps", cfg.opts.QPS, "calls per second per app per API before 90018 (0 = unlimited)")
	fs.IntVar(&cfg.opts.IPLimit, "ip-limit", cfg.opts.IPLimit, "calls per source IP per --ip-window before a ban (0 = no limit)")
	fs.DurationVar(&cfg.opts.IPWindow, "ip-window", cfg.opts.IPWindow, "window of --ip-limit")
	fs.DurationVar(&cfg.opts.IPBan, "ip-ban", cfg.opts.IPBan, "how long an IP ban lasts")
	fs.StringVar(&cfg.banPage, "ban-page", string(cfg.opts.BanPage), "form of the IP-ban reply: json or html")
	fs.DurationVar(&cfg.opts.TokenTTL, "token-ttl", cfg.opts.TokenTTL, "access token lifetime")
	fs.BoolVar(&cfg.skipURLCheck, "skip-callback-url-check", false, "register callbacks without pushing check_url to their URL first")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.opts.BanPage = dingtalksim.BanPage(cfg.banPage)
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	case (cfg.secretFile == "") == !cfg.secretStdin:
		return cfg, fmt.Errorf("%w: give exactly one of --app-secret-file and --app-secret-stdin", errUsage)
	case cfg.spec.Employees < 0:
		return cfg, fmt.Errorf("%w: --employees must not be negative", errUsage)
	}
	return cfg, nil
}

func readSecret(cfg config, stdin io.Reader) (string, error) {
	var secret string
	if cfg.secretStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read app secret from stdin: %w", err)
		}
		secret = line
	} else {
		b, err := os.ReadFile(cfg.secretFile)
		if err != nil {
			return "", fmt.Errorf("read app secret: %w", err)
		}
		secret = string(b)
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return "", errors.New("the app secret is empty")
	}
	return secret, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	secret, err := readSecret(cfg, stdin)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.opts.Logger = logger
	sim := dingtalksim.New(cfg.opts)
	if err := sim.SetLimits(cfg.opts.Limits); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := sim.SetPushOptions(dingtalksim.PushOptions{SkipURLCheck: cfg.skipURLCheck}); err != nil {
		return err
	}
	start := time.Now()
	org := dingtalksim.GenerateOrg(cfg.corpID, cfg.spec)
	depts, users := len(org.Departments), len(org.Users)
	if err := sim.LoadOrg(org); err != nil {
		return fmt.Errorf("load org: %w", err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: cfg.corpID, AppKey: cfg.appKey, AppSecret: secret}); err != nil {
		return fmt.Errorf("register app: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "listening on %s\n", base)
	fmt.Fprintf(stdout, "DINGTALK_OAPI_BASE_URL=%s DINGTALK_API_BASE_URL=%s\n", base, base)
	fmt.Fprintf(stdout, "corp %s: %d departments, %d users (seed %d); app %s registered\n", cfg.corpID, depts, users, cfg.spec.Seed, cfg.appKey)
	logger.Info("serving", "addr", ln.Addr().String(), "generated_in", time.Since(start).Round(time.Millisecond))
	return serve(ctx, ln, sim, logger)
}

// serve runs the HTTP server on ln until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Injected hangs can outlive the grace period: cut them off.
		_ = srv.Close()
	}
	return nil
}
