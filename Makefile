# Run `make` or `make help` to list targets. A target's description is the
# "## " comment on its line.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
FUZZTIME ?= 10s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help test test-short bench lint fuzz check build

help: ## List targets with their descriptions
	@echo "Targets:"
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	awk 'BEGIN { FS = ":.*## " } { printf "  %-12s %s\n", $$1, $$2 }'

test: ## Install test deps, go vet, then all tests with -race (integration required)
	bash scripts/install-test-deps.sh
	$(GO) vet ./...
	STRATA_INTEGRATION=require $(GO) test -race -count=1 ./...

test-short: ## Quick tests; integration tests skip if redis/postgres are missing
	$(GO) test -short ./...

bench: ## Run all benchmarks with allocation stats
	$(GO) test -run='^$$' -bench=. -benchmem ./...

lint: ## gofmt check, go vet and staticcheck
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -w needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fuzz: ## Run every Fuzz* target for FUZZTIME each (default 10s)
	@$(GO) test -list 'Fuzz.*' ./... | \
	awk '/^Fuzz/ { names[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2, names[i] } { n = 0 }' | \
	while read -r pkg fn; do \
		echo "==> $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) "$$pkg" </dev/null; \
	done

check: lint test ## lint, then test

build: ## Build bin/strata
	$(GO) build -o bin/strata ./cmd/strata
