// Package e2e holds dingsync's end-to-end tests: a real Temporal dev server, real Postgres,
// the DingTalk simulator, and the worker and starter run as the processes ops run.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/dingsync/dingsync/internal/testenv"
)

var (
	devServer *testenv.DevServer
	binaries  testenv.Binaries
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dingsync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binaries, err = testenv.BuildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if devServer, err = testenv.StartDevServer(false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer devServer.Stop()
	return m.Run()
}
