# aegis: build, test, lint, bench. `make help` lists the targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
GO      ?= go
BIN     := bin/aegis

# The Go release aegis is built and tested with: go.mod's toolchain line
# (Go 1.26.8's standard library has reachable vulnerabilities that
# `make vulncheck` reports). A Go installed with GOTOOLCHAIN=local, as here,
# ignores that line; exporting it makes the go command fetch that release
# from the module proxy once. GO_TOOLCHAIN=local builds with the Go at hand.
GO_TOOLCHAIN ?= $(shell sed -n 's/^toolchain //p' go.mod)
export GOTOOLCHAIN := $(GO_TOOLCHAIN)

.PHONY: help build test unit lint lint-workflows lint-sarif comment-check image image-test release bench demo clean cluster-up cluster-down cluster-build cluster-build-node test-real images e2e-argocd fuzz vulncheck stress readme

# NODE=real starts a real node (kubelet + containerd) instead of kwok's fake one.
export NODE

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/aegis
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/aegis

test: ## run every test: unit, golden, contract, CLI, and integration on the local control plane
	hack/test.sh

unit: ## run the tests that need no cluster (integration tests skip)
	$(GO) test -count=1 ./...

lint: ## gofmt and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

lint-workflows: ## actionlint (+ shellcheck) over every workflow, offline; actionlint built once into ~/.cache/aegis/tools
	hack/lint-workflows.sh


image: ## build aegis's image here without Docker (mmdebstrap + go-containerregistry) into .cache/image/aegis.tar
	hack/image.sh

image-test: ## run `aegis action` from the image's file system against the local control plane (root: chroot)
	hack/image-test.sh

release: ## the snapshot release: binaries, checksums, SBOMs, the image, the pinned Argo CD install (nothing pushed)
	hack/release.sh --snapshot

comment-check: ## the PR comment and job summary of the examples and of a large change, checked in headless Chromium (UPDATE=1: refresh docs/images)
	hack/comment-check.sh

lint-sarif: ## SARIF Multitool validate (Warning level) on the examples' SARIF; Multitool installed once into ~/.cache/aegis/tools
	hack/lint-sarif.sh

bench: ## aegis vs the kustomize CLI on 1,000 resources, peak RSS, Go benchmarks
	hack/bench.sh 1000

demo: build ## the main job: shadow-verify the examples on the local control plane (SHADOW=off: no cluster)
	hack/demo.sh

cluster-build: ## build the local control plane's binaries into the version-keyed cache
	hack/cluster/build.sh

cluster-build-node: ## build kubelet and unpack containerd, runc and CNI into the cache (for NODE=real)
	hack/cluster/build-node.sh

images: ## build the example apps and pack their image tarballs into .cache/images
	hack/build-images.sh

test-real: ## real-node smoke test: image built and imported, probes, port-forward
	hack/cluster/test-real.sh

cluster-up: ## start the local control plane (etcd, apiserver, controllers, scheduler; kwok, or a real node with NODE=real)
	hack/cluster/up.sh

cluster-down: ## stop the local control plane by recorded PID and remove its state
	hack/cluster/down.sh

clean: ## remove build output
	rm -rf bin

e2e-argocd: ## aegis's plugin under the real Argo CD v3.6.1 (argocd-cmp-server + repo-server code; Go 1.27.3, first build ~12 min)
	hack/tools/argocde2e/run.sh

fuzz: ## every Go fuzz target, seeds always, fuzzing within FUZZBUDGET in all (default 200s; FUZZTIME caps each target); fails on a crasher
	hack/fuzz.sh

stress: ## ROUNDS (5) of N (10) concurrent shadow verifies on the local control plane; fails on a failed run or a leaked namespace
	hack/stress.sh

vulncheck: ## govulncheck offline (database built from golang.org/x/vulndb); fails on a reachable vulnerability
	hack/tools/govulncheck.sh

readme: build ## rewrite the console samples of README.md and docs/ from what the binary prints (needs Trivy, as CI has it)
	AEGIS_TEST_BINARY=$(abspath $(BIN)) AEGIS_UPDATE_SAMPLES=1 PATH="$(HOME)/.cache/aegis/tools/trivy-v0.74.0:$(PATH)" $(GO) test -count=1 -run TestConsoleSamples ./cmd/aegis
