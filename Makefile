# The two commands of README.md: `make demo` and `make test`.
GO ?= go

.PHONY: demo test build fuzz bench lint

# rbtui runs rbtui-app beside it for everything but the tmux glance.
demo: build
	bin/rbtui --demo

test:
	bash scripts/test.sh

build:
	$(GO) build -o bin/ ./cmd/rbd ./cmd/rbtui ./cmd/rbtui-app

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# Longer fuzzing than the seed corpora that `make test` runs: FUZZTIME per target.
FUZZTIME ?= 30s
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

bench:
	bash scripts/bench.sh
