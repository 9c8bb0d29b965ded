# aegis: build, test, lint, bench. `make help` lists the targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
BIN     := bin/aegis

.PHONY: help build test lint bench demo clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/aegis
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/aegis

test: ## run every test (unit, golden, contract, CLI)
	$(GO) test -count=1 ./...

lint: ## gofmt and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

bench: ## aegis vs the kustomize CLI on 1,000 resources, peak RSS, Go benchmarks
	hack/bench.sh 1000

demo: build ## verify the three examples and check their verdicts (no cluster needed)
	hack/demo.sh

clean: ## remove build output
	rm -rf bin
