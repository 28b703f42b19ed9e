# dingsync — `make demo` shows it working, `make test` runs the whole suite.
SHELL := /bin/bash
GO    ?= go

.PHONY: demo test bench chaos lint build services tools ui-tools dev-server fmt clean

## demo: start a dev server, the DingTalk simulator and a worker; bind a corp and sync it
demo: services bin/temporal build
	scripts/demo.sh

## test: vet and workflowcheck, then every unit and integration test (real Postgres, real Temporal dev server)
test: services tools ui-tools bin/temporal bin/workflowcheck
	$(GO) vet ./...
	bin/workflowcheck ./workflows/...
	$(GO) test -count=1 -timeout 25m ./...

## bench: full-sync benchmarks at 10k and 100k employees against the simulator (prints a table)
bench: services bin/temporal
	DINGSYNC_BENCH=1 $(GO) test -count=1 -timeout 90m -run '^TestBench' -v ./internal/e2e/ 2>&1 | grep -v '^=== RUN'

## chaos: the long fault-injection suite (worker kills, Postgres and Temporal restarts, DingTalk faults, hostile input), one package at a time; prints a table of scenarios, kills and faults
chaos: services bin/temporal
	set -o pipefail; DINGSYNC_CHAOS=1 $(GO) test -p 1 -count=1 -timeout 60m -run '^TestChaos' -v ./internal/chaos/... 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\|NAME\)'

## lint: go vet, gofmt, and workflowcheck (no time.Now, rand, goroutines, map ranging or I/O in workflows)
lint: bin/workflowcheck
	$(GO) vet ./...
	bin/workflowcheck ./workflows/...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'run: make fmt'; exit 1)

fmt:
	gofmt -w $$(git ls-files '*.go')

## build: the worker, the ops CLI and the simulator into bin/
build:
	$(GO) build -o bin/worker ./worker
	$(GO) build -o bin/starter ./starter
	$(GO) build -o bin/dingtalk-sim ./simulator

## bin/temporal: the Temporal CLI (dev server + UI), pinned in tools/go.mod, built once
bin/temporal: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../bin/temporal github.com/temporalio/cli/cmd/temporal

## bin/workflowcheck: Temporal's determinism checker, pinned in tools/lint/go.mod
bin/workflowcheck: tools/lint/go.mod tools/lint/go.sum
	cd tools/lint && $(GO) build -o ../../bin/workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck

## services: make sure Postgres answers (starts the local cluster if it is down)
services:
	scripts/ensure-postgres.sh

## tools: promtool and docker-compose (Debian packages), for the metrics, dashboards and compose tests (once)
tools:
	scripts/ensure-tools.sh

## ui-tools: Debian's chromium and ui-tests' playwright-core, for the browser test (once)
ui-tools:
	scripts/ensure-ui-tools.sh

## dev-server: a Temporal dev server with UI on :8233 and dingsync's search attributes
dev-server: bin/temporal
	bin/temporal server start-dev --ip 127.0.0.1 --ui-port 8233 --db-filename .dingsync/temporal.db \
	  --search-attribute CorpId=Keyword --search-attribute SyncKind=Keyword --search-attribute BindingStatus=Keyword

clean:
	rm -rf bin .dingsync
