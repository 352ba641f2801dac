# certflow: cert-manager on Temporal. `make run` brings up the whole system on a local
# stack; `make test` runs every test against real servers. See README.md.
SHELL := /bin/bash
export GOTOOLCHAIN := local
GO ?= go
BIN := $(CURDIR)/bin
STATE ?= $(CURDIR)/.local
TEST_TIMEOUT ?= 45m

# Servers of the local stack and developer tools, built from Go modules into bin/.
STACK_TOOLS := etcd kube-apiserver kubectl temporal pebble pebble-challtestsrv helm
DEV_TOOLS := controller-gen workflowcheck
# Servers only the integration tests run: test fixtures, never shipped (Vault's licence
# is the BSL; bin/vault is never bundled in the image or chart).
TEST_TOOLS := vault certflow-dnswebhook temporal-server temporal-sql-tool

.PHONY: all tools test-tools bind chromium postgresql build plugin image run test unit integration lint vet fmt-check workflowcheck fuzz-short chaos clean

all: build

include hack/generate.mk
include hack/bench.mk

## tools: build the local stack's servers and the dev tools into bin/ (skips fresh ones)
tools:
	@hack/build-tools.sh $(STACK_TOOLS) $(DEV_TOOLS)

## test-tools: build the servers only the integration tests and benchmarks run (HashiCorp Vault, the DNS-01 webhook of test/dnswebhook, the Temporal server and its SQL tool) into bin/
test-tools:
	@hack/build-tools.sh $(TEST_TOOLS)

## postgresql: install PostgreSQL for the Temporal server on PostgreSQL (make bench's cost curve, its localstack test) when it is missing (Debian's postgresql)
postgresql:
	@hack/install-postgresql.sh

## bind: install ISC BIND 9 (named) for the RFC2136 tests when it is missing (Debian's bind9)
bind:
	@hack/install-bind.sh

## chromium: install Chromium for the Web UI test (test/webui) when it is missing (Debian's chromium)
chromium:
	@hack/install-chromium.sh

## build: build certflow's binaries into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## plugin: the kubectl plugin kubectl-cert_manager (`kubectl cert-manager`), static, as out/kubectl-cert_manager-$(GOOS)-$(GOARCH).tar.gz the way cmctl ships it
PLUGIN_OS ?= $(shell $(GO) env GOOS)
PLUGIN_ARCH ?= $(shell $(GO) env GOARCH)
plugin:
	rm -rf out/plugin && mkdir -p out/plugin
	CGO_ENABLED=0 GOOS=$(PLUGIN_OS) GOARCH=$(PLUGIN_ARCH) $(GO) build -trimpath -ldflags "-s -w" -o out/plugin/kubectl-cert_manager ./cmd/kubectl-cert_manager
	tar -C out/plugin -czf out/kubectl-cert_manager-$(PLUGIN_OS)-$(PLUGIN_ARCH).tar.gz .
	@echo "out/kubectl-cert_manager-$(PLUGIN_OS)-$(PLUGIN_ARCH).tar.gz"

# The release version (internal/version/VERSION) and this version's image.
VERSION := $(shell cat internal/version/VERSION)
IMAGE := ghcr.io/certflow/certflow:$(VERSION)
IMAGE_ARCHIVE := $(CURDIR)/out/certflow-image.tar

## image: the OCI image $(IMAGE) (certflow-worker, certflow-k8swatch, starter; static, CA roots) from the Containerfile with buildah, into out/certflow-image.tar and buildah's store in out/buildah
image:
	@hack/install-buildah.sh
	rm -rf out/image-context
	hack/image-context.sh out/image-context
	buildah --storage-driver vfs --root out/buildah/root --runroot out/buildah/run \
		bud --quiet --isolation chroot --timestamp 0 --build-arg VERSION=$(VERSION) -t $(IMAGE) -f Containerfile out/image-context
	rm -f $(IMAGE_ARCHIVE)
	buildah --storage-driver vfs --root out/buildah/root --runroot out/buildah/run \
		push --quiet $(IMAGE) oci-archive:$(IMAGE_ARCHIVE):$(IMAGE)
	@echo "$(IMAGE) in $(IMAGE_ARCHIVE)"

## run: the whole system on a local stack (KUBECONFIG / TEMPORAL_ADDRESS use existing ones)
run: tools build
	$(BIN)/certflow-local --state-dir $(STATE) --bin-dir $(BIN) --crds deploy/crds --gateway-api-crds deploy/gateway-api

## test: static checks, unit tests and integration tests on the real local stack
test: tools test-tools bind chromium postgresql lint verify-generate fuzz-short image
	CERTFLOW_INTEGRATION=1 CERTFLOW_BIN_DIR=$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd tools/dnswebhook && $(GO) test -count=1 ./...
	cd tools/benchplot && $(GO) test -count=1 ./...

## chaos: 1,000 CA and 50 ACME DNS-01 Certificates issued while the worker, the watcher,
## Temporal and kube-apiserver fail (test/chaos); prints its report. make test runs 100 + 10.
CHAOS_CA ?= 1000
CHAOS_ACME ?= 50
chaos: tools
	CERTFLOW_INTEGRATION=1 CERTFLOW_CHAOS_CA=$(CHAOS_CA) CERTFLOW_CHAOS_ACME=$(CHAOS_ACME) \
		$(GO) test -count=1 -v -timeout 60m -run '^TestChaos$$' ./test/chaos/

## unit: unit tests only (integration tests skip without CERTFLOW_INTEGRATION)
unit:
	$(GO) test -count=1 ./...

lint: fmt-check vet workflowcheck

# Go fuzz targets of the parsers of tenant and server input, as package:target.
FUZZ_TARGETS := ./pki:FuzzParseCertificates ./pki/keystores:FuzzDecodeJKS ./pki/keystores:FuzzDecodePKCS12 \
	./activities/keys:FuzzParsePrivateKeyPEM ./activities/pki:FuzzParseCSRPEM ./activities/pki:FuzzParseLiteralSubject \
	./activities/kube:FuzzSpecCSRTrigger
# A count of executions, not a duration: Go 1.26's fuzz coordinator can fail a target with
# "context deadline exceeded" when a duration ends while a starved worker is mid-input
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
FUZZ_TIME ?= 2000x

## fuzz-short: each fuzz target for FUZZ_TIME (-fuzztime) beyond its committed corpus (go test -fuzz takes one at a time)
fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZ_TIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZ_TIME) "$${t%%:*}"; \
	done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## workflowcheck: workflow code must be deterministic
workflowcheck:
	@hack/build-tools.sh workflowcheck
	$(BIN)/workflowcheck ./workflows/...

clean:
	rm -rf $(BIN) $(STATE)
