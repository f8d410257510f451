# The two commands of README.md: `make demo` and `make test`.
GO ?= go

# The version stamped into the programs and the packages (`rbd version`).
VERSION ?= $(shell scripts/version.sh)
export VERSION
LDFLAGS := -X github.com/rockblock-station/rockblock-station/internal/version.Version=$(VERSION)

.PHONY: demo test build package fuzz bench lint soak

# rbtui runs rbtui-app beside it for everything but the tmux glance.
demo: build
	bin/rbtui --demo

test:
	bash scripts/test.sh

build:
	$(GO) build -buildvcs=auto -ldflags '$(LDFLAGS)' -o bin/ ./cmd/rbd ./cmd/rbtui ./cmd/rbtui-app

# One Debian package per architecture in dist/: amd64, arm64 and armhf (arm7).
ARCHES ?= amd64 arm64 arm7
package:
	scripts/cross-build.sh build $(ARCHES)
	$(GO) run -C internal/tools/pkg . -root "$(CURDIR)" -version "$(VERSION)" -bin build -out dist $(ARCHES)

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# Longer fuzzing than the seed corpora that `make test` runs: FUZZTIME per target.
FUZZTIME ?= 30s
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

bench:
	bash scripts/bench.sh

# The long chaos soak (issue 9): SOAK_DURATION of traffic under faults, then
# the calm end; its report goes to SOAK_REPORT. The short mode runs in `make test`.
SOAK_DURATION ?= 1h
SOAK_REPORT ?= soak-report.txt
soak:
	RB_SOAK_REPORT="$(abspath $(SOAK_REPORT))" $(GO) test -count=1 -timeout 3h -run TestSoak -v ./internal/testkit/soak/ -soak.duration=$(SOAK_DURATION)
