package chaos

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/testenv"
)

var (
	// long is the long suite (`make chaos`): bigger orgs, more kills, Postgres restarts.
	long = os.Getenv("DINGSYNC_CHAOS") == "1"
	// seed seeds every scenario's random kill points (DINGSYNC_CHAOS_SEED replays a run's).
	seed = chaosSeed()
	// devServer is this package's own Temporal dev server, kept in a file so the Temporal
	// scenario can restart it; no other package uses it.
	devServer *testenv.PersistentDevServer
	binaries  testenv.Binaries
)

// pick returns short in `make test` and long in `make chaos`.
func pick[T any](short, longValue T) T {
	if long {
		return longValue
	}
	return short
}

func chaosSeed() uint64 {
	if v, err := strconv.ParseUint(os.Getenv("DINGSYNC_CHAOS_SEED"), 10, 64); err == nil {
		return v
	}
	return uint64(time.Now().UnixNano())
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if !long && !flagSet("test.parallel") {
		// The short scenarios mostly wait (heartbeat timeouts, pushes, retries) rather than
		// compute: run more of them at once than there are cores.
		_ = flag.Set("test.parallel", "6")
	}
	dir, err := os.MkdirTemp("", "dingsync-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binaries, err = testenv.BuildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if devServer, err = testenv.StartPersistentDevServer(filepath.Join(dir, "temporal.db")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer devServer.Stop()
	start := time.Now()
	code := m.Run()
	printSummary(os.Stdout, time.Since(start))
	return code
}

// flagSet says whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
