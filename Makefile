# make test is everything CI runs: the unit tests, the checks, and the
# integration suite on the default kernel matrix.
# Recipes that pipe (bench, capture) must fail when the VM run fails.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO ?= go
KERNELS ?= bullseye bookworm trixie sid
FUZZTIME ?= 10s
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BUILD = build

.PHONY: test unit check fuzz integration capture bench demo clean

test: check unit fuzz integration

check:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags integration ./...
	cd bench && $(GO) vet ./... && $(STATICCHECK) ./...
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) build ./...

unit:
	$(GO) test -race -count=1 ./...

# Each fuzz target for FUZZTIME, seeded from testdata.
fuzz:
	@set -e; for t in $$($(GO) test -list '^Fuzz' . | grep ^Fuzz); do \
		echo "fuzz $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) . ; done
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./internal/nlmsg

$(BUILD)/ipvs.integration.test: $(wildcard *.go internal/*/*.go) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) test -c -tags integration -o $@ .

# Boots each kernel of KERNELS under qemu and runs the integration suite
# there, then boots each once more without ip_vs to see New fail clearly.
integration: $(BUILD)/ipvs.integration.test
	KERNELS="$(KERNELS)" bash vm/run.sh $(BUILD)/ipvs.integration.test -test.v -test.count=1 -test.run '$(or $(RUN),^TestKernel)'
	KERNELS="$(KERNELS)" VM_NO_IPVS=1 bash vm/run.sh $(BUILD)/ipvs.integration.test -test.v -test.run '^TestKernelNoIPVS$$'

# Runs the benchmark (bench/, a module of its own) in the VM on bookworm's
# kernel and regenerates BENCHMARKS.md, its chart and bench/results.jsonl.
BENCH_SIZES ?= 1000:5,10000:3
bench:
	command -v gnuplot >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox; }
	@mkdir -p $(BUILD)
	cd bench && CGO_ENABLED=0 $(GO) build -o ../$(BUILD)/bench .
	KERNELS=bookworm VM_TIMEOUT=5400 bash vm/run.sh $(BUILD)/bench -sizes $(BENCH_SIZES) | tee $(BUILD)/bench.log
	grep '^RESULT ' $(BUILD)/bench.log > bench/results.jsonl
	$(GO) test -run '^$$' -bench 'Decode|Encode|BatchBuild|ServicesDump' -benchmem . | tee bench/micro.txt
	cd bench && $(GO) run . -mode report -in results.jsonl -micro micro.txt -out ../BENCHMARKS.md -chart ../benchmarks.png

# Stores the raw replies of each kernel in KERNELS, for a fixed
# configuration, under testdata/replies/linux-X.Y (see testdata/README).
capture: $(BUILD)/ipvs.integration.test
	KERNELS="$(KERNELS)" VM_ENV=IPVS_CAPTURE IPVS_CAPTURE=1 bash vm/run.sh $(BUILD)/ipvs.integration.test \
		-test.run '^TestKernelCaptureReplies$$' | tee $(BUILD)/capture.log
	grep '^CAPTURE ' $(BUILD)/capture.log | while read -r _ name hex; do \
		mkdir -p testdata/replies/$$(dirname $$name) && \
		printf '%s' "$$hex" | basenc --base16 -d > testdata/replies/$$name.bin; done

# The demo runs directly on a host with IPVS as root, else in the VM on
# Debian bookworm's kernel.
demo:
	@if [ "$$(id -u)" = 0 ] && [ -e /proc/net/ip_vs ]; then \
		$(GO) run ./cmd/ipvs-demo; \
	else \
		mkdir -p $(BUILD) && CGO_ENABLED=0 $(GO) build -o $(BUILD)/demo ./cmd/ipvs-demo && \
		KERNELS=bookworm bash vm/run.sh $(BUILD)/demo; \
	fi

clean:
	rm -rf $(BUILD)
