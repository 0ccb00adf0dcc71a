GO ?= go
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.5.1
STATICCHECK_VERSION ?= v0.8.2

.PHONY: build test generate lint bench bench-smoke fuzz images cluster-image demo

build:
	$(GO) build -o bin/jobcluster ./cmd/jobcluster

# images builds, with no registry, the images the examples and tests use:
# FROM scratch, each holding one static binary built here.
IMAGES ?= batch-job
images:
	@for img in $(IMAGES); do \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags=-s -o images/$$img/$$img ./images/$$img || exit 1; \
		docker build -q -t luksa/$$img images/$$img || exit 1; \
		rm -f images/$$img/$$img; \
	done

# cluster-image builds the image of examples/cluster: jobcluster and
# Debian's busybox-static (the pods' shell), FROM scratch, no registry.
CLUSTER_IMAGE ?= jobcluster-cluster:latest
# CLUSTER_TAG marks the build's version (members -o json shows it):
# `make demo` builds a second image tagged "next" to upgrade the servers to.
CLUSTER_TAG ?=
CLUSTER_NEXT_IMAGE ?= jobcluster-cluster:next
BUSYBOX ?= /bin/busybox
cluster-image:
	rm -rf examples/cluster/rootfs
	mkdir -p examples/cluster/rootfs/bin examples/cluster/rootfs/data examples/cluster/rootfs/tmp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s$(if $(CLUSTER_TAG), -X github.com/jobcluster/jobcluster/api.Tag=$(CLUSTER_TAG))" -o examples/cluster/rootfs/bin/jobcluster ./cmd/jobcluster
	cp $(BUSYBOX) examples/cluster/rootfs/bin/busybox
	for a in sh sleep date echo cat true false seq printf env ls head tail wc expr test kill; do \
		ln -sf busybox examples/cluster/rootfs/bin/$$a; done
	docker build -q -t $(CLUSTER_IMAGE) examples/cluster
	rm -rf examples/cluster/rootfs

# demo runs the containerised cluster through its failures (see
# examples/cluster/demo.sh) and removes everything it made.
demo: build cluster-image
	$(MAKE) cluster-image CLUSTER_IMAGE=$(CLUSTER_NEXT_IMAGE) CLUSTER_TAG=next
	JOBCLUSTER_NEXT_IMAGE=$(CLUSTER_NEXT_IMAGE) examples/cluster/demo.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeManifests -fuzztime 60s -fuzzminimizetime 2s ./api/
	$(GO) test -run '^$$' -fuzz FuzzAdmitSubmit -fuzztime 60s -fuzzminimizetime 2s ./cluster/

test: lint
	$(MAKE) bench-smoke
	# Execution counts, not durations: a duration budget can end while a
	# worker is mid-input and then fail with "context deadline exceeded".
	$(GO) test -run '^$$' -fuzz FuzzDecodeManifests -fuzztime 20000x -fuzzminimizetime 1s ./api/
	$(GO) test -run '^$$' -fuzz FuzzAdmitSubmit -fuzztime 20000x -fuzzminimizetime 1s ./cluster/
	$(GO) test -race -count=1 -timeout 14m ./...

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || ($(GO) mod tidy -diff; echo "go.mod: run go mod tidy"; exit 1)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# bench measures what users feel on a loopback cluster of 3 servers and 3
# agents (separate processes), again for submit and throughput with mutual
# TLS and ACL tokens, then the Go benchmarks of FSM apply and of
# batched Raft proposals, of placement and of a pod process's start; see
# BENCHMARKS.md. About an hour.
bench:
	$(GO) run ./test/bench -out bench-results/latest.json
	$(GO) run ./test/bench -run submit,throughput -secure -out bench-results/secure.json
	$(GO) test -run '^$$' -bench . -benchmem ./fsm/ ./cluster/ ./scheduler/ ./agent/

# bench-smoke runs a few seconds of the benchmark, judging no times, so it
# cannot rot.
bench-smoke:
	$(GO) run ./test/bench -smoke -out bench-results/smoke.json

# generate rebuilds the protobuf code with pinned generators and Debian's protoc.
generate:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc -I api \
		--go_out=api --go_opt=paths=source_relative \
		--go-grpc_out=api --go-grpc_opt=paths=source_relative \
		api/jobcluster.proto
