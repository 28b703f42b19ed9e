package metricscheck

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// Tool returns the path of a command a check needs (promtool, docker-compose). If it is not
// installed the test fails, never skips: the check would otherwise pass by not running.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed, so this check cannot run: run scripts/ensure-tools.sh "+
			"(make test does; it installs Debian's prometheus and docker-compose packages)", name)
	}
	return path
}

// Run runs a command with stdin and returns its combined output; err is non-nil when it fails.
func Run(dir, stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
