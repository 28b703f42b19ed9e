package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/dingsync/dingsync/workflows"
)

// DevServer is a Temporal dev server (the Temporal CLI's `server start-dev`, built into bin/ by
// `make bin/temporal`) with dingsync's search attributes registered, in memory.
type DevServer struct {
	Address string
	UIPort  int
	cmd     *exec.Cmd
	logPath string
}

// StartDevServer starts a dev server on free ports. ui enables the web UI.
func StartDevServer(ui bool) (*DevServer, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin", "temporal")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("the Temporal CLI is not built at %s: run `make bin/temporal` (the Makefile's test target does)", bin)
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	s := &DevServer{Address: fmt.Sprintf("127.0.0.1:%d", ports[0]), UIPort: ports[2]}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
		"--http-port", fmt.Sprint(ports[1]), "--log-level", "error",
		"--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true"}
	for _, sa := range workflows.SearchAttributes {
		args = append(args, "--search-attribute", sa)
	}
	if ui {
		args = append(args, "--ui-port", fmt.Sprint(ports[2]))
	} else {
		args = append(args, "--headless")
	}
	log, err := os.CreateTemp("", "temporal-dev-*.log")
	if err != nil {
		return nil, err
	}
	s.logPath = log.Name()
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Temporal dev server: %w", err)
	}
	if err := s.waitReady(90 * time.Second); err != nil {
		tail, _ := os.ReadFile(s.logPath)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		s.Stop()
		return nil, fmt.Errorf("%w; its log ends:\n%s", err, tail)
	}
	return s, nil
}

func (s *DevServer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := client.Dial(client.Options{HostPort: s.Address})
		if err == nil {
			_, err = c.CheckHealth(context.Background(), &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the Temporal dev server did not answer within %s", timeout)
}

// Client dials the dev server.
func (s *DevServer) Client() (client.Client, error) {
	return client.Dial(client.Options{HostPort: s.Address})
}

// Stop ends the dev server.
func (s *DevServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
	_ = os.Remove(s.logPath)
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// RepoRoot is the folder holding go.mod, found from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
