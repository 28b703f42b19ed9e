package e2e

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/dingsync/dingsync/internal/testenv"
)

// benchRuns is how many times each benchmark scenario runs (DINGSYNC_BENCH_RUNS, default 3);
// it skips the test outside `make bench`.
func benchRuns(t *testing.T) int {
	if os.Getenv("DINGSYNC_BENCH") == "" {
		t.Skip("benchmarks run with `make bench`")
	}
	runs := 3
	if s := os.Getenv("DINGSYNC_BENCH_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	return runs
}

// benchTable runs each scenario its number of times as subtests, keeps the runs that measured
// something (not filtered out by -run, not failed), and prints one row per scenario from them
// under title and header (a Markdown table).
func benchTable[S, R any](t *testing.T, title, header string, scenarios []S, name func(S) string, runs func(S) int,
	run func(*testing.T, S) R, measured func(R) bool, row func(S, []R) string) {
	var rows []string
	for _, sc := range scenarios {
		var results []R
		for i := range runs(sc) {
			var r R
			ran := t.Run(fmt.Sprintf("%s/run%d", name(sc), i+1), func(t *testing.T) { r = run(t, sc) })
			if ran && measured(r) {
				results = append(results, r)
			}
		}
		if len(results) > 0 {
			rows = append(rows, row(sc, results))
		}
	}
	fmt.Printf("\n%s (medians; %s, %d cores)\n", title, hostDescription(), runtime.NumCPU())
	fmt.Println(header)
	for _, r := range rows {
		fmt.Println(r)
	}
}

// benchWorker starts a worker for a benchmark: under DingTalk's limit (qps > 0) at the
// default crawl concurrency, otherwise unlimited with 32 requests in flight.
func (h *harness) benchWorker(qps int) *testenv.Process {
	if qps > 0 {
		h.limitQPS(qps)
		return h.startWorker("DINGTALK_IP_CALLS_PER_20S=0")
	}
	return h.startWorker("DINGTALK_IP_CALLS_PER_20S=0", "DINGSYNC_CRAWL_CONCURRENCY=32", "DINGTALK_QPS=1000000")
}
