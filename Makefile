# Hookline — developer tasks. `make help` lists them.
#
#   make run    a working gateway on this machine (scripts/run.sh)
#   make test   go vet, then the whole test suite with the race detector
#
# Go lives at /usr/local/go on the project's machines; it is added to PATH
# in case the shell that runs make does not have it.

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

GO      ?= go
BIN     ?= bin/hookline
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS ?= -X main.Version=$(VERSION)
PKGS    ?= ./...

# Test knobs: make test TESTFLAGS='-run TestCustomers -v' PKGS=./app/customers/...
TESTFLAGS ?=
# Benchmark knobs: make bench BENCH=BenchmarkPublish BENCHTIME=2s PKGS=./app/events/...
BENCH      ?= .
BENCHTIME  ?=
BENCHCOUNT ?= 1
BENCHFLAGS ?= -benchmem

.DEFAULT_GOAL := build

.PHONY: help build run test test-go test-zapier bench fmt vet clean need-redis need-node need-chromium redis-stop

help:
	@echo "make build       build $(BIN) (version $(VERSION))"
	@echo "make run         start a local gateway: Redis (started if none), demo account, API URL and key printed"
	@echo "make test        go vet, then go test -race on every package, then test-zapier (needs redis-server, node; installs them as root)"
	@echo "make test-zapier the Zapier CLI app's Jest tests against a live server built from this tree (npm ci first)"
	@echo "make bench       run the benchmarks (BENCH=regexp BENCHTIME=2s PKGS=./app/...)"
	@echo "make soak        the durability soak (SCENARIO=steady|backlog|worker-crash|api-crash|redis-everysec|redis-always|receiver-chaos|failover|burst DURATION=10m RATE=500 SOAKFLAGS='-topology sentinel|cluster')"
	@echo "make fmt         gofmt every Go file"
	@echo "make vet         go vet ./..."
	@echo "make clean       remove bin/ and test outputs"
	@echo "make redis-stop  stop the redis-server(s) that make run started under ./.data"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hookline

run:
	@bash scripts/run.sh

# `test` is the whole suite: the Go tests, then the Zapier CLI app's tests
# against a live server. More steps are added as prerequisites here.
test: test-go test-zapier

# go vet first, then the Go tests. The tests start their own redis-server
# on a free port (internal/redistest), so no Redis needs to be running.
test-go: need-redis need-chromium
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(strip $(TESTFLAGS) $(PKGS))

# The Zapier CLI integration (integrations/zapier/app): npm ci installs its
# locked packages (zapier-platform-core, jest), then its Jest tests run the
# real Zapier SDK against a live `hookline serve` built from this tree
# (bin/hookline), with its own redis-server and a local stand-in for
# hooks.zapier.com. JESTFLAGS passes more options, e.g. JESTFLAGS='-t 410'.
ZAPIER_APP ?= integrations/zapier/app
JESTFLAGS  ?=
test-zapier: need-redis need-node build
	cd $(ZAPIER_APP) && npm ci --no-audit --no-fund
	cd $(ZAPIER_APP) && HOOKLINE_BIN=$(abspath $(BIN)) npx --no -- jest --runInBand $(JESTFLAGS)

# With no knobs, `make bench` runs BenchmarkEngine once and prints one table
# (BENCHMARKS.md): drain, fan-out to 20 webhooks, open-loop latency at 150/s
# and 1,000/s, Redis memory per delivery, the create path, isolation — each
# beside a bare Asynq+HTTP baseline in the same run (about 2 minutes).
# HOOKLINE_BENCH_SCALE=0.2 make bench shortens every scenario.
bench: need-redis
ifeq ($(BENCH)$(BENCHTIME)$(PKGS),../...)
	$(GO) test -run '^$$' -bench '^BenchmarkEngine$$' -benchtime=1x -count=$(BENCHCOUNT) -timeout 15m ./outbound/
else
	$(GO) test -run '^$$' -bench '$(BENCH)' $(BENCHFLAGS) -count=$(BENCHCOUNT) $(if $(BENCHTIME),-benchtime=$(BENCHTIME)) $(PKGS)
endif

# The durability soak (cmd/soak, RELIABILITY.md): Redis with AOF, two API
# and three worker processes built from this tree, a publisher and a
# scripted receiver, with one scenario's faults; non-zero when the promise
# breaks. Not part of `make test`. The defaults are a quick run; the
# recorded runs (RELIABILITY.md) are scripts/soak-all.sh at RATE=500.
# SOAKFLAGS='-topology sentinel' (with SCENARIO=failover) or
# '-topology cluster' runs on Redis's distributed modes; SCENARIO=burst
# sends 5,000 events from 8 clients to one `hookline serve`.
SCENARIO ?= worker-crash
DURATION ?= 1m
RATE     ?= 100
SOAKFLAGS ?=
soak: need-redis build
	$(GO) run ./cmd/soak -scenario $(SCENARIO) -duration $(DURATION) -rate $(RATE) -bin $(abspath $(BIN)) $(SOAKFLAGS)

fmt:
	gofmt -s -w $$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*')

vet:
	$(GO) vet $(PKGS)

clean:
	rm -rf bin/ coverage.out *.test
	@echo "(./.data — the local Redis and demo account of make run — is kept; make redis-stop, then rm -rf .data, to reset it)"

# The test suite needs the redis-server binary on PATH. As root on Debian it
# is installed with apt-get; otherwise say what to install and stop.
need-redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  echo "make: redis-server is not on PATH; the tests start their own redis-server (internal/redistest)."; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's redis-server package: apt-get update && apt-get install -y redis-server"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update </dev/null && apt-get install -y --no-install-recommends redis-server </dev/null || exit 1; \
	    command -v redis-server >/dev/null 2>&1 || { echo "make: redis-server is still not on PATH after the install"; exit 1; }; \
	  else \
	    echo "make: install it first, e.g. on Debian/Ubuntu:  sudo apt-get install redis-server   (macOS: brew install redis)"; \
	    exit 1; \
	  fi; \
	fi

# The dashboard's browser tests (web/) drive Debian's Chromium headless. As
# root on Debian it is installed with apt-get; otherwise those tests skip
# with a message naming what to install.
need-chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's chromium for the dashboard's browser tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update </dev/null && apt-get install -y --no-install-recommends chromium </dev/null || exit 1; \
	  else \
	    echo "make: chromium is not on PATH: the dashboard's browser tests will skip (sudo apt-get install chromium)"; \
	  fi; \
	fi

# test-zapier needs Node 18+ and npm. As root on Debian they are installed
# with apt-get; otherwise say what to install and stop.
need-node:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "make: node and npm are needed for test-zapier (the Zapier CLI app's tests)."; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's nodejs and npm packages: apt-get update && apt-get install -y nodejs npm"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update </dev/null && apt-get install -y --no-install-recommends nodejs npm </dev/null || exit 1; \
	  else \
	    echo "make: install Node.js 18 or newer (with npm) first, e.g. from https://nodejs.org or: sudo apt-get install nodejs npm"; \
	    exit 1; \
	  fi; \
	fi; \
	major=$$(node -p 'process.versions.node.split(".")[0]'); \
	if [ "$$major" -lt 18 ]; then echo "make: test-zapier needs Node.js 18 or newer; this is $$(node --version)"; exit 1; fi

# Stop the redis-server(s) that scripts/run.sh started (pidfiles in ./.data).
redis-stop:
	@shopt -s nullglob; found=0; \
	for f in .data/redis-*.pid; do \
	  found=1; pid=$$(cat "$$f"); \
	  if [ -r /proc/$$pid/comm ] && ! grep -q redis /proc/$$pid/comm; then \
	    echo "$$f: pid $$pid is not a redis-server; left alone"; \
	  elif kill "$$pid" 2>/dev/null; then \
	    for i in $$(seq 1 50); do grep -qs '^State:.*[RSD]' /proc/$$pid/status || break; sleep 0.1; done; \
	    echo "stopped redis-server pid $$pid ($$f)"; \
	  else echo "$$f: pid $$pid is not running"; fi; \
	  rm -f "$$f"; \
	done; \
	[ $$found = 1 ] || echo "no redis-server started by make run (no .data/redis-*.pid)"
