# Benchmarks on the local stack (issue 3, point 9). Included by the Makefile; uses its
# BIN and GO. docs/bench.md explains the figures.
#
#   make bench                       # 1000 Certificates at once: certs/s, latency, RSS, CPU
#   make bench BENCH_N=100           # a quick one
#   make bench-idle                  # 10,000 issued Certificates at rest: RSS and CPU
#   make bench BENCH_MODE=acme       # 100 Certificates through DNS-01 against Pebble
#   make bench-acme                  # the same (BENCH_ACME_N, BENCH_ACME_OUT)
#   make bench-shortlived            # 1000 short-lived ACME certificates for a compressed month
#   make bench-shortlived BENCH_SHORTLIVED_N=200 BENCH_SHORTLIVED_COMPRESSION=2880
#   make bench BENCH_FLAGS='--keep-state --worker-args="..."'
#   make bench BENCH_FLAGS='--temporal postgres --workers 2'   # Temporal server on PostgreSQL
#   make bench-curve                 # the cost curve: N = 100, 1,000, 10,000 on the dev server
#                                    # and on PostgreSQL with 1 and 2 workers, plotted
#
# Each run starts its own kube-apiserver, etcd and Temporal on free ports (it does not
# disturb `make run`), prints one "bench: ..." line per figure and writes them as JSON.

BENCH_MODE ?= throughput
# ACME mode issues fewer: every Certificate is an ACME order, an authorization and a
# DNS-01 challenge at Pebble.
BENCH_ACME_N ?= 100
BENCH_N ?= $(if $(filter acme,$(BENCH_MODE)),$(BENCH_ACME_N),1000)
BENCH_OUT ?= out/bench-$(BENCH_MODE).json
BENCH_IDLE_N ?= 10000
BENCH_IDLE_OUT ?= out/bench-idle.json
BENCH_ACME_OUT ?= out/bench-acme.json
# Short-lived mode: N Certificates with the shortlived profile live a 30-day month
# compressed by a factor (1440: a 160 h certificate lives 400 s, the month 30 minutes).
BENCH_SHORTLIVED_N ?= 1000
BENCH_SHORTLIVED_COMPRESSION ?= 1440
BENCH_SHORTLIVED_OUT ?= out/bench-shortlived.json
# Extra flags for certflow-bench (see `bin/certflow-bench -h`).
BENCH_FLAGS ?=

# The cost curve's N and where its runs go.
BENCH_CURVE_N ?= 100 1000 10000
BENCH_CURVE_DIR ?= out/curve

.PHONY: bench bench-idle bench-acme bench-shortlived bench-curve

## bench: N Certificates at once on the local stack (BENCH_N, BENCH_MODE=throughput|idle|acme, BENCH_OUT)
bench: tools build
	$(BIN)/certflow-bench --bin-dir $(BIN) --crds deploy/crds --mode $(BENCH_MODE) -n $(BENCH_N) --out $(BENCH_OUT) $(BENCH_FLAGS)

## bench-idle: RSS and CPU of worker and watcher with 10,000 issued Certificates
bench-idle: tools build
	$(BIN)/certflow-bench --bin-dir $(BIN) --crds deploy/crds --mode idle -n $(BENCH_IDLE_N) --out $(BENCH_IDLE_OUT) $(BENCH_FLAGS)

## bench-acme: 100 Certificates at once through DNS-01 (fake Cloudflare) against Pebble
bench-acme: tools build
	$(BIN)/certflow-bench --bin-dir $(BIN) --crds deploy/crds --mode acme -n $(BENCH_ACME_N) --out $(BENCH_ACME_OUT) $(BENCH_FLAGS)

## bench-shortlived: 1000 short-lived (shortlived profile) ACME certificates renewed over a compressed month
bench-shortlived: tools build
	$(BIN)/certflow-bench --bin-dir $(BIN) --crds deploy/crds --mode shortlived -n $(BENCH_SHORTLIVED_N) --compression $(BENCH_SHORTLIVED_COMPRESSION) --out $(BENCH_SHORTLIVED_OUT) $(BENCH_FLAGS)

## bench-curve: the cost curve (BENCH_CURVE_N on the dev server, and on the Temporal server on PostgreSQL with 1 and 2 workers) into docs/bench-curve.json and docs/bench-curve.png
bench-curve: tools postgresql build
	@hack/build-tools.sh temporal-server temporal-sql-tool
	rm -rf $(BENCH_CURVE_DIR)
	CURVE_OUT=$(BENCH_CURVE_DIR) BIN=$(BIN) hack/bench-curve.sh $(BENCH_CURVE_N)
	cd tools/benchplot && $(GO) run . -in $(CURDIR)/$(BENCH_CURVE_DIR) -json $(CURDIR)/docs/bench-curve.json -png $(CURDIR)/docs/bench-curve.png
