package testenv

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dingsync/dingsync/workflows"
)

// PersistentDevServer is a dev server whose state (workflows, task queues, timers, search
// attributes) lives in a SQLite file, so it can be killed and started again on the same ports
// with nothing lost: what a restarted Temporal cluster looks like to dingsync. Only a test
// package that owns it may restart it; the shared one of StartDevServer is in memory.
type PersistentDevServer struct {
	*DevServer
	args []string
}

// StartPersistentDevServer starts a headless dev server on free ports that keeps its state
// in dbFile.
func StartPersistentDevServer(dbFile string) (*PersistentDevServer, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	s := &PersistentDevServer{DevServer: &DevServer{Address: fmt.Sprintf("127.0.0.1:%d", ports[0])}}
	s.args = []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
		"--http-port", fmt.Sprint(ports[1]), "--log-level", "error", "--headless", "--db-filename", dbFile,
		"--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true"}
	for _, sa := range workflows.SearchAttributes {
		s.args = append(s.args, "--search-attribute", sa)
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs the server process with s.args and waits until it answers.
func (s *PersistentDevServer) start() error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin", "temporal")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the Temporal CLI is not built at %s: run `make bin/temporal`", bin)
	}
	log, err := os.CreateTemp("", "temporal-dev-*.log")
	if err != nil {
		return err
	}
	s.logPath = log.Name()
	s.cmd = newDevServerCmd(bin, s.args, log)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start the Temporal dev server: %w", err)
	}
	if err := s.waitReady(90 * time.Second); err != nil {
		tail, _ := os.ReadFile(s.logPath)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		s.Stop()
		return fmt.Errorf("%w; its log ends:\n%s", err, tail)
	}
	return nil
}

// Restart kills the server (SIGKILL: a crash, not a shutdown), keeps it down for down, then
// starts it again on the same ports and database file and waits until it answers.
func (s *PersistentDevServer) Restart(down time.Duration) error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
	_ = os.Remove(s.logPath)
	time.Sleep(down)
	return s.start()
}

// newDevServerCmd is the dev server process, in its own process group (so a kill reaches its
// children) and killed with the test binary.
func newDevServerCmd(bin string, args []string, log io.Writer) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}
