# meshperf — see README.md. `make demo` and `make test` are the two set-up commands.
GO       ?= go
BIN      := bin/meshperf
BIN_GENERATOR := bin/meshperf-generator
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...

.PHONY: all build build-generator image proto ui ui-check test test-short clusters-up clusters-down bench bench-go bench-generators bench-rate bench-dist bench-meshsync demo lint fuzz clean eval-gate

all: lint build test

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/meshperf

# The generator build: the same command without the server and the cluster side (no
# client-go, gorm or NATS server linked in): run, target, agent, gate and the API
# clients. A third of the binary, and of the pages an agent maps in a CPU-limited pod.
build-generator:
	$(GO) build -trimpath -tags generator -ldflags "$(LDFLAGS)" -o $(BIN_GENERATOR) ./cmd/meshperf

# The container image, with no Docker engine: a static meshperf (CGO_ENABLED=0) as the
# one layer of an empty base, non-root, entrypoint meshperf (hack/image, with
# go-containerregistry). Writes an OCI layout (bin/image/oci) and a tarball for
# `docker load` / `podman load` (bin/image/meshperf.tar); pushing is for release CI.
# The agents' image (the server's --agent-image) is the generator build, written the
# same way beside it (bin/image/generator-oci, bin/image/meshperf-generator.tar).
IMAGE ?= ghcr.io/meshperf/meshperf:$(VERSION)
IMAGE_GENERATOR ?= ghcr.io/meshperf/meshperf-generator:$(VERSION)
image:
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/image/meshperf ./cmd/meshperf
	$(GO) run ./hack/image -binary bin/image/meshperf -oci bin/image/oci -tarball bin/image/meshperf.tar -tag $(IMAGE) -version $(VERSION)
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -tags generator -ldflags "$(LDFLAGS)" -o bin/image/generator/meshperf ./cmd/meshperf
	$(GO) run ./hack/image -binary bin/image/generator/meshperf -oci bin/image/generator-oci -tarball bin/image/meshperf-generator.tar -tag $(IMAGE_GENERATOR) -version $(VERSION)
# The adapters' gRPC contract: regenerates adapters/proto/**/*.pb.go from the .proto.
# protoc is Debian's (apt-get install protobuf-compiler, 3.21); the Go generators are
# pinned here and built from the module proxy into a temporary GOBIN: protoc-gen-go at
# go.mod's protobuf version, protoc-gen-go-grpc v1.5.1 (its code needs grpc >= 1.64).
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
PROTO_BIN          := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/meshperf/protoc-gen
proto:
	@command -v protoc >/dev/null || { echo "proto: protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
	GOBIN=$(PROTO_BIN) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(PROTO_BIN) $(GO) install $(PROTOC_GEN_GO_GRPC)
	cd adapters/proto && protoc -I . \
		--plugin=protoc-gen-go=$(PROTO_BIN)/protoc-gen-go --go_out=. --go_opt=paths=source_relative \
		--plugin=protoc-gen-go-grpc=$(PROTO_BIN)/protoc-gen-go-grpc --go-grpc_out=. --go-grpc_opt=paths=source_relative \
		meshperf/adapter/v1/adapter.proto

# The web UI: rebuilds server/web/dist from ui/ (committed, so go build needs no Node;
# the build fails past its size budget). ui-check rebuilds and fails when the result
# differs from the committed assets (CI runs it).
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

ui-check: ui
	@git diff --exit-code --stat -- server/web/dist && test -z "$$(git status --porcelain -- server/web/dist)" || \
		{ echo "ui-check: server/web/dist differs from a fresh build of ui/: run make ui and commit the result" >&2; exit 1; }

# The whole suite: unit tests, real load against the sample target on loopback, the
# coordinated-omission and saturation tests; then everything again under the race
# detector except the timing tests (-short), whose figures it would distort; then
# short fuzz runs of every decoder. The Kubernetes tests need real clusters: test
# brings up three (hack/clusters.sh) in the background while the packages that need
# none are tested, then tests the cluster packages. The first time, that builds the
# control plane (10-15 minutes on 2 cores, progress every 30 s); the clusters stay up
# for the next run; `make clusters-down` stops them.
CLUSTER_PKGS := ./cmd/meshperf ./conformance ./server/conformance ./server/api ./server/connections ./server/meshes ./meshsync ./server/inventory ./server/web ./operator ./server/operatordeploy ./adapters/helmmesh ./server/adapters
CLUSTERS_LOG := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/meshperf/clusters-up.log
test: lint
	@./hack/clusters.sh start-up $(CLUSTERS) $(CLUSTERS_LOG)
	@echo "test: packages that need no cluster, meanwhile"
	$(GO) test -count=1 -timeout 20m $$($(GO) list $(PKGS) | grep -v -x $(foreach p,$(CLUSTER_PKGS),-e '.*/$(patsubst ./%,%,$(p))'))
	@./hack/clusters.sh wait-up $(CLUSTERS_LOG)
	@echo "test: packages that use the clusters"
	$(GO) test -count=1 -timeout 20m $(CLUSTER_PKGS)
	$(GO) test -race -short -count=1 -timeout 20m $(PKGS)
	$(MAKE) fuzz FUZZTIME=20000x API_FUZZTIME=3000x

# Quick loop while developing: skips the long load tests.
test-short:
	$(GO) test -short -count=1 $(PKGS)

# Count-bounded in CI (20000x): a time-bounded Go fuzz run can fail at its deadline
# with no crasher (a coordinator race, golang/go#51484 and kin).
FUZZTIME ?= 30s
API_FUZZTIME ?= $(FUZZTIME)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeConfig$$' -fuzztime $(FUZZTIME) ./smp
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeExpansion$$' -fuzztime $(FUZZTIME) ./smp
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeHistogram$$' -fuzztime $(FUZZTIME) ./smp
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAgreesWithTheLibrary$$' -fuzztime $(FUZZTIME) ./smp
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalSMP$$' -fuzztime $(FUZZTIME) ./smp
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) ./dashboards
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./conformance
	$(GO) test -run '^$$' -fuzz '^FuzzParseCall$$' -fuzztime $(FUZZTIME) ./sampleapp
	$(GO) test -run '^$$' -fuzz '^FuzzPanelsOf$$' -fuzztime $(FUZZTIME) ./dashboards
	$(GO) test -run '^$$' -fuzz '^FuzzFromTrimmed$$' -fuzztime $(FUZZTIME) ./meshsync/fingerprint
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeResult$$' -fuzztime $(FUZZTIME) ./smp
	$(GO) test -run '^$$' -fuzz '^FuzzWriteBodies$$' -fuzztime $(API_FUZZTIME) ./server/api
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./bus
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMeshSync$$' -fuzztime $(FUZZTIME) ./bus
	$(GO) test -run '^$$' -fuzz '^FuzzParseKubeconfig$$' -fuzztime $(FUZZTIME) ./kube
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./promquery
	$(GO) test -run '^$$' -fuzz '^FuzzObjectRow$$' -fuzztime $(FUZZTIME) ./server/inventory
	$(GO) test -run '^$$' -fuzz '^FuzzMeshSyncCluster$$' -fuzztime $(FUZZTIME) ./server/broker
	$(GO) test -run '^$$' -fuzz '^FuzzDesired$$' -fuzztime $(FUZZTIME) ./operator
	$(GO) test -run '^$$' -fuzz '^FuzzParseIndex$$' -fuzztime $(FUZZTIME) ./adapters/charts
	$(GO) test -run '^$$' -fuzz '^FuzzCheckParameters$$' -fuzztime $(FUZZTIME) ./adapters/adapter

# Real Kubernetes clusters c1..c3 on loopback for the tests (see hack/clusters.sh).
CLUSTERS ?= 3
clusters-up:
	@./hack/clusters.sh up $(CLUSTERS)

clusters-down:
	@./hack/clusters.sh down

# Performance targets live here, as ratios against a peer in the same job.
bench: bench-go bench-generators bench-rate bench-dist bench-meshsync

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

# Requests per generator CPU-second: meshperf's fortio and vegeta engines against the
# fortio command built from the same fortio version, one core each (see hack/genbench).
bench-generators: build
	$(GO) run ./hack/genbench -meshperf $(BIN)

# The open model at fixed rates on one core: meshperf's engines (the generator build)
# against fortio's own runner at 5k/10k/20k req/s, 64 connections, pinned, with
# GOMAXPROCS=1 and on an agent with GOMAXPROCS=1: p99, CPU per request and RSS as
# ratios, medians of 3 rounds of 3 s per case (see hack/ratebench).
bench-rate: build build-generator
	$(GO) run ./hack/ratebench -meshperf $(BIN) -generator $(BIN_GENERATOR) -rounds 3

# Distributed scaling: 1, 2 and 4 agent processes against one target, as ratios.
bench-dist: build
	$(GO) run ./hack/distbench -meshperf $(BIN)

# Discovery at scale: 50,000 objects (pods, services, config maps, a CRD's objects) in
# a namespace of test cluster c1; time to a complete inventory in the store (SQLite,
# then PostgreSQL when reachable) and peak RSS of the discovering process, against a
# naive full-object informer over the same kinds stored the same way in the same run,
# as ratios (see hack/meshsyncbench; needs the clusters).
bench-meshsync: build
	$(GO) run ./hack/meshsyncbench -meshperf $(BIN)

# How trustworthy the regression gate is here: 20 A/A and 20 "10% slower" gates, with
# the false-alarm and detection rates, against a naive one-run 5% gate (~10 minutes).
eval-gate: build
	$(GO) run ./hack/evalgate -meshperf $(BIN) -n 20

# The main job on embedded defaults: meshperf server (SQLite) and the sample target, a
# demo profile run through the API with live progress, the summary and the SMP result
# in demo-out/. The server stays up until Ctrl-C; DEMO_STAY=0 stops it at once.
demo: build
	@./hack/demo.sh $(BIN)

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/k8sbins/')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags generator ./cmd/meshperf

clean:
	rm -rf bin demo-out
