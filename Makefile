# nhi — make demo | make test | make fuzz | make build | make bench-git | make bench-dir | make bench-detect | make bench-tui | make bench-diff | make bench-peers REPO=... | make bench-evidence | make bench-org
GO      ?= go
# RE2 for the gitleaks detector (gore2regex: 7-8x faster per core than Go's
# regexp, and what gitleaks' own release builds use), through the system
# RE2 library when libre2-dev is installed (re2_cgo); scripts/tags.sh.
TAGS    ?= $(shell bash scripts/tags.sh)
BIN     ?= bin/nhi
DB      ?= nhi.db
DEMO    ?= demo-estate
export CGO_ENABLED := 1

.PHONY: all build demo test test-short fuzz lint bao bench-git bench-dir bench-detect bench-tui bench-diff bench-peers bench-evidence bench-org bench-detect-corpus clean

all: build

build:
	$(GO) build -tags $(TAGS) -o $(BIN) ./cmd/nhi

# Generate the demo estate (git repositories with history and planted,
# freshly generated secrets; CI pipelines; an AWS account as offline
# exports), scan it into ./nhi.db and show the result.
demo: build
	$(GO) run ./cmd/demo -out $(DEMO)
	rm -f $(DB) $(DB)-wal $(DB)-shm $(DB).key $(DB).lock
	$(BIN) scan --db $(DB) --config $(DEMO)/nhi.yaml; test $$? -le 3
	$(BIN) inventory --db $(DB)
	$(BIN) gaps --db $(DB) --config $(DEMO)/nhi.yaml --severity high
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN) tui --db $(DB) --config $(DEMO)/nhi.yaml; fi

# Everything the tests need (the OpenBao dev server binary is built once
# and cached), then every test with the race detector, then the detector's
# tests on the RE2 translated to Go when the system RE2 was linked (the
# build without libre2-dev), then the deploy/ recipes (their own module:
# Kubernetes types, actionlint, systemd-analyze).
test: lint bao
	$(GO) test -race -tags $(TAGS) -timeout 30m ./...
	@if [ "$(TAGS)" != gore2regex ]; then echo "$(GO) test -tags gore2regex ./detect/..."; $(GO) test -tags gore2regex ./detect/...; fi
	cd deploy && $(GO) vet ./... && $(GO) test -timeout 10m ./...

test-short:
	$(GO) test -tags $(TAGS) ./...

# Every native fuzz target, FUZZTIME each (FUZZ_MATCH=regexp to choose);
# `make test` runs their seeds and committed crashers as ordinary tests.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) TAGS=$(TAGS) bash scripts/fuzz.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...

bao:
	@bash scripts/bao.sh >/dev/null

bench-git:
	bash bench/git.sh

bench-dir:
	bash bench/dir.sh

# enumeration + scan of a 50-repository organisation served on loopback, --concurrency 1/2/4 (N=, CONCURRENCY=)
bench-org:
	bash bench/org.sh

bench-detect:
	bash bench/detect.sh

# Only the labelled corpus (seconds): recall and precision per category, nhi and gitleaks.
bench-detect-corpus:
	BENCH_CORPUS_ONLY=1 bash bench/detect.sh -list

# Time to first frame and peak memory of the TUI on 100,000 credentials.
bench-tui:
	$(GO) run -tags $(TAGS) ./bench/tui -n 100000

# nhi diff between two scans of 100,000 credentials: time and peak memory.
# nhi against gitleaks, Betterleaks and TruffleHog on a real history
# (REPO=a fetched curl/curl or redis/redis; ROUNDS=n).
bench-peers:
	bash bench/peers.sh $(REPO)

bench-diff:
	$(GO) run -tags $(TAGS) ./bench/diff -n 100000

# nhi evidence export and verify of 100,000 credentials x 90 daily scans:
# wall and CPU time per part, peak memory.
bench-evidence:
	$(GO) run -tags $(TAGS) ./bench/evidence -n 100000 -days 90

clean:
	rm -rf bin $(DEMO) $(DB) $(DB)-wal $(DB)-shm $(DB).key $(DB).lock $(DB).post.lock
