# make test is everything CI runs: the checks and unit tests of every
# module of the repository, the fuzz targets, and the integration suite
# on the default kernel matrix.
# Recipes that pipe (bench, capture) must fail when the VM run fails.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO ?= go
KERNELS ?= bullseye bookworm trixie sid
FUZZTIME ?= 10s
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BUILD = build
# Every Go module of the repository: the library (with ipvstest and
# reconcile), the modules whose dependencies it must not carry, and
# packaging's tests of the units, man pages and packages.
MODULES = . bench exporter cmd/ipvsctl ipvsd compat/moby compat/cloudflare packaging packaging/kubernetes
# Modules with tests; bench is a program, checked only.
TESTED = . exporter cmd/ipvsctl ipvsd compat/moby compat/cloudflare packaging packaging/kubernetes

.PHONY: test unit check goproxy tidy fuzz integration vm-selftest capture bench bench-merge demo release clean

test: check unit fuzz integration

# The versions of the repository's modules that the nested modules
# require, served from git through the module proxy protocol, first in
# GOPROXY for every go command here. The workspace (go.work) builds the
# nested modules against the working tree, but the go command still reads
# the go.mod of each version they require, and go mod tidy reads no
# go.work at all: without this, a machine whose module cache is empty
# would ask the public proxy for commits it may never have seen (see
# README, Releasing).
GOPROXY_DIR = $(abspath $(BUILD))/goproxy
ifeq ($(findstring file://$(GOPROXY_DIR),$(GOPROXY)),)
export GOPROXY := file://$(GOPROXY_DIR),$(shell $(GO) env GOPROXY)
endif
# Only that directory serves them: no checksum database knows them, and
# go.sum holds their hashes.
comma := ,
ifeq ($(findstring github.com/ipvs-go,$(GONOSUMDB)),)
export GONOSUMDB := github.com/ipvs-go$(if $(GONOSUMDB),$(comma)$(GONOSUMDB))
endif
# The library is checked and tested alone, with the versions its go.mod
# names, as its users build it; the other modules in the workspace.
WORK = export GOWORK=$$([ "$$m" = . ] && echo off || true)

goproxy:
	@cd packaging && GOWORK=off $(GO) run ./goproxy -repo .. -o $(GOPROXY_DIR) >/dev/null

# go mod tidy in every module, with those versions served: what a change
# of a nested module's imports or requirements needs, where a plain go mod
# tidy there would look for the repository's versions on the public proxy.
tidy: goproxy
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

check: goproxy
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	@set -e; for m in $(MODULES); do echo "check $$m"; ( cd $$m && $(WORK) && \
		$(GO) vet ./... && $(GO) vet -tags integration ./... && \
		$(STATICCHECK) ./... && $(STATICCHECK) -tags integration ./... && \
		$(GO) mod tidy -diff ); done
	GOOS=darwin GOWORK=off $(GO) build ./...
	GOOS=windows GOWORK=off $(GO) build ./...

unit: goproxy
	@set -e; for m in $(TESTED); do (cd $$m && $(WORK) && $(GO) test -race -count=1 ./...); done

# Each fuzz target of every package for FUZZTIME, seeded from testdata.
fuzz: goproxy
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh $(TESTED)

# The integration test binaries, one per package with kernel tests, and
# the programs they run.
IT = $(BUILD)/ipvs.integration.test $(BUILD)/ipvstest.integration.test $(BUILD)/reconcile.integration.test \
	$(BUILD)/exporter.integration.test $(BUILD)/ipvsctl.integration.test $(BUILD)/ipvsd.integration.test \
	$(BUILD)/compat-moby.integration.test $(BUILD)/compat-cloudflare.integration.test \
	$(BUILD)/keepalived.integration.test
PROGRAMS = $(BUILD)/ipvsctl $(BUILD)/ipvs_exporter $(BUILD)/ipvsd
SOURCES = $(shell find . -name '*.go' -not -path './$(BUILD)/*') go.mod go.sum

$(BUILD)/ipvs.integration.test: $(SOURCES)
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) test -c -tags integration -o $@ .
$(BUILD)/ipvstest.integration.test: $(SOURCES)
	CGO_ENABLED=0 $(GO) test -c -tags integration -o $@ ./ipvstest
$(BUILD)/reconcile.integration.test: $(SOURCES)
	CGO_ENABLED=0 $(GO) test -c -tags integration -o $@ ./reconcile
$(BUILD)/exporter.integration.test: $(SOURCES)
	cd exporter && CGO_ENABLED=0 $(GO) test -c -tags integration -o ../$@ .
$(BUILD)/ipvsd.integration.test: $(SOURCES)
	cd ipvsd && CGO_ENABLED=0 $(GO) test -c -tags integration -o ../$@ ./cmd/ipvsd
$(BUILD)/ipvsctl.integration.test: $(SOURCES)
	cd cmd/ipvsctl && CGO_ENABLED=0 $(GO) test -c -tags integration -o ../../$@ .
$(BUILD)/compat-moby.integration.test: $(SOURCES)
	cd compat/moby && CGO_ENABLED=0 $(GO) test -c -tags integration -o ../../$@ .
$(BUILD)/compat-cloudflare.integration.test: $(SOURCES)
	cd compat/cloudflare && CGO_ENABLED=0 $(GO) test -c -tags integration -o ../../$@ .
$(BUILD)/keepalived.integration.test: $(SOURCES)
	cd ipvsd && CGO_ENABLED=0 $(GO) test -c -tags integration -o ../$@ ./keepalived
$(BUILD)/ipvsctl: $(SOURCES)
	cd cmd/ipvsctl && CGO_ENABLED=0 $(GO) build -buildvcs=auto -o ../../$@ .
$(BUILD)/ipvs_exporter: $(SOURCES)
	cd exporter && CGO_ENABLED=0 $(GO) build -buildvcs=auto -o ../$@ ./cmd/ipvs_exporter
$(BUILD)/ipvsd: $(SOURCES)
	cd ipvsd && CGO_ENABLED=0 $(GO) build -buildvcs=auto -o ../$@ ./cmd/ipvsd

# ipvsd's daemon on an in-memory IPVS, for the benchmark on the host.
$(BUILD)/ipvsd-memory: $(SOURCES)
	cd ipvsd && CGO_ENABLED=0 $(GO) build -o ../$@ ./internal/memoryd

# The test suites of moby/ipvs and cloudflare/ipvs, from their modules,
# built against the drop-ins of compat/ (with their test data beside).
PEERS = $(BUILD)/moby.peer.test $(BUILD)/cloudflare.peer.test
$(BUILD)/moby.peer.test: $(SOURCES)
	$(GO) run ./compat/peertest -peer moby -o $(BUILD)
$(BUILD)/cloudflare.peer.test: $(SOURCES)
	$(GO) run ./compat/peertest -peer cloudflare -o $(BUILD)

# Every build needs the repository's versions served (see GOPROXY above),
# without being rebuilt for it.
$(IT) $(PROGRAMS) $(BUILD)/ipvsd-memory $(PEERS): | goproxy

# Runs them on each kernel of KERNELS; compat/peer-exceptions.txt lists
# the tests that must fail, and why.
peers: $(PEERS)
	KERNELS="$(KERNELS)" VM_FILES="$$(echo $(BUILD)/*.peer.test*) compat/peer-exceptions.txt" \
		bash vm/run.sh compat/peers.sh -test.count=1

# Boots each kernel of KERNELS under qemu and runs every integration
# binary there; then boots each again to reload ip_vs under a live client
# (alone: after a reload, Linux 5.10 leaks a reference that hangs the
# teardown of later namespaces), once more without ip_vs to see New fail
# clearly, and once without nf_conntrack_netlink to see the conntrack
# flush fail clearly (unloading it after the other tests hangs 5.10).
# ipvsd's fleet test has a boot of its own too: once, on bookworm's 6.1,
# both CPUs locked up (soft lockup) in the test binary as the fleet test
# ended and the next test began; the cause is not known yet.
RELOAD = ^TestKernelModuleReload$$
FLEET = ^TestKernelFleet$$
integration: vm-selftest $(IT) $(PROGRAMS)
	KERNELS="$(KERNELS)" VM_FILES="$(IT) $(PROGRAMS)" \
		bash vm/run.sh vm/suite.sh -test.v -test.count=1 -test.run '$(or $(RUN),^TestKernel)' -test.skip '$(RELOAD)|$(FLEET)'
	KERNELS="$(KERNELS)" VM_FILES="$(BUILD)/ipvsd.integration.test" \
		bash vm/run.sh vm/suite.sh -test.v -test.count=1 -test.run '$(FLEET)'
	KERNELS="$(KERNELS)" VM_FILES="$(BUILD)/ipvs.integration.test" \
		bash vm/run.sh vm/suite.sh -test.v -test.run '$(RELOAD)'
	KERNELS="$(KERNELS)" VM_NO_IPVS=1 VM_FILES="$(BUILD)/ipvs.integration.test $(BUILD)/exporter.integration.test $(BUILD)/ipvs_exporter" \
		bash vm/run.sh vm/suite.sh -test.v -test.run '^TestKernelNoIPVS'
	KERNELS="$(KERNELS)" VM_WITHOUT_MODULES=nf_conntrack_netlink VM_FILES="$(BUILD)/ipvs.integration.test $(BUILD)/reconcile.integration.test" \
		bash vm/run.sh vm/suite.sh -test.v -test.run '^TestKernel(NoConntrackNetlink|SyncFlushConntrack)$$'
	$(MAKE) --no-print-directory peers KERNELS="$(KERNELS)"

# Runs the benchmark (bench/, a module of its own) in the VM on bookworm's
# kernel and regenerates BENCHMARKS.md, its chart and bench/results.jsonl:
# the four workloads against the peers (and through the drop-ins of
# compat/, against the peers they stand in for), then the suites of reconcile,
# ipvstest, ipvsctl and the exporter; ipvsd's on the kernel's table in the
# VM, at the scale the emulator sustains, and on an in-memory IPVS on the
# host at a thousand virtual servers of ten real servers; ipvsd's fleet of
# 3 directors on the kernel in the VM; and on the host, ipvsd's fleet of 50
# directors on ipvstest against a real etcd (Debian's etcd-server).
BENCH_SIZES ?= 1000:5,10000:3
SUITE_REPS ?= 3
bench: goproxy $(PROGRAMS) $(BUILD)/ipvsd-memory
	command -v gnuplot >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox; }
	@mkdir -p $(BUILD)
	cd bench && CGO_ENABLED=0 $(GO) build -o ../$(BUILD)/bench .
	KERNELS=bookworm VM_TIMEOUT=5400 VM_FILES="$(PROGRAMS)" bash vm/run.sh $(BUILD)/bench -sizes $(BENCH_SIZES) | tee $(BUILD)/bench.log
	KERNELS=bookworm VM_TIMEOUT=5400 VM_FILES="$(PROGRAMS)" bash vm/run.sh $(BUILD)/bench -mode suites -suites ipvstest,ipvsctl,exporter \
		-services 10000 -dests 10 -rep $(SUITE_REPS) | tee -a $(BUILD)/bench.log
	KERNELS=bookworm VM_TIMEOUT=5400 bash vm/run.sh $(BUILD)/bench -mode suites -suites reconcile \
		-services 10000 -dests 5 -rep $(SUITE_REPS) | tee -a $(BUILD)/bench.log
	KERNELS=bookworm VM_TIMEOUT=5400 VM_FILES="$(PROGRAMS)" bash vm/run.sh $(BUILD)/bench -mode suites -suites ipvsd \
		-services 100 -dests 10 -rep $(SUITE_REPS) | tee -a $(BUILD)/bench.log
	cd $(BUILD) && ./bench -mode suites -suites ipvsd-memory -services 1000 -dests 10 -rep $(SUITE_REPS) | tee -a bench.log
	KERNELS=bookworm VM_TIMEOUT=5400 VM_FILES="$(BUILD)/ipvs_exporter" bash vm/run.sh $(BUILD)/bench -mode suites -suites exporter-load \
		-services 2000 -dests 10 -rep 1 | tee -a $(BUILD)/bench.log
	KERNELS=bookworm VM_TIMEOUT=5400 bash vm/run.sh $(BUILD)/bench -mode suites -suites conntrack \
		-services 100000 -dests 10 -rep $(SUITE_REPS) | tee -a $(BUILD)/bench.log
	KERNELS=bookworm VM_TIMEOUT=5400 bash vm/run.sh $(BUILD)/bench -mode suites -suites fleet \
		-services 1000 -rep 1 | tee -a $(BUILD)/bench.log
	command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends etcd-server; }
	$(BUILD)/bench -mode suites -suites fleet-fakes -services 10000 -rep 1 | tee -a $(BUILD)/bench.log
	for n in 10 1000; do KERNELS=bookworm VM_TIMEOUT=5400 VM_FILES="$(BUILD)/ipvsd" bash vm/run.sh $(BUILD)/bench -mode suites \
		-suites keepalived -services $$n -dests 10 -rep 1 || exit 1; done | tee -a $(BUILD)/bench.log
	grep '^RESULT ' $(BUILD)/bench.log > bench/results.jsonl
	$(GO) test -run '^$$' -bench 'Decode|Encode|BatchBuild|ServicesDump' -benchmem . | tee bench/micro.txt
	cd bench && $(GO) run . -mode report -in results.jsonl -micro micro.txt -out ../BENCHMARKS.md -chart ../benchmarks.png

# Puts a later run of some suites into the report without running all of
# make bench: the RESULT lines of BENCH_LOG (the output of bench -mode
# suites, as the bench target runs it) replace bench/results.jsonl's of
# the same suites and sizes, BENCH_NOTE says under each of those suites
# how it ran (the machine's load, what was left out), and BENCHMARKS.md
# and its chart are made again from the whole file.
bench-merge: goproxy
	test -s "$(BENCH_LOG)" || { echo 'bench-merge: BENCH_LOG=FILE, the output of the suites to merge' >&2; exit 2; }
	command -v gnuplot >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox; }
	cd bench && $(GO) run . -mode merge -in results.jsonl -add $(abspath $(BENCH_LOG)) -note "$$BENCH_NOTE"
	cd bench && $(GO) run . -mode report -in results.jsonl -micro micro.txt -out ../BENCHMARKS.md -chart ../benchmarks.png

# The runner's own test: a boot that dies before the program starts is
# booted again (and logged), one that dies after is not.
vm-selftest:
	bash vm/selftest.sh

# Stores the raw replies of each kernel in KERNELS, for a fixed
# configuration, under testdata/replies/linux-X.Y (see testdata/README).
capture: goproxy $(BUILD)/ipvs.integration.test
	KERNELS="$(KERNELS)" VM_ENV=IPVS_CAPTURE IPVS_CAPTURE=1 bash vm/run.sh $(BUILD)/ipvs.integration.test \
		-test.run '^TestKernelCaptureReplies$$' | tee $(BUILD)/capture.log
	grep '^CAPTURE ' $(BUILD)/capture.log | while read -r _ name hex; do \
		mkdir -p testdata/replies/$$(dirname $$name) && \
		printf '%s' "$$hex" | basenc --base16 -d > testdata/replies/$$name.bin; done

# The demo runs directly on a host with IPVS as root, else in the VM on
# Debian bookworm's kernel, quietly: a cold machine installs qemu first.
demo: goproxy $(PROGRAMS)
	@if [ "$$(id -u)" = 0 ] && [ -e /proc/net/ip_vs ]; then \
		PATH="$$PWD/$(BUILD):$$PATH" $(GO) run ./cmd/ipvs-demo; \
	else \
		mkdir -p $(BUILD) && CGO_ENABLED=0 $(GO) build -o $(BUILD)/demo ./cmd/ipvs-demo && \
		KERNELS=bookworm VM_QUIET=1 VM_FILES="$(PROGRAMS)" bash vm/run.sh $(BUILD)/demo; \
	fi

# The release's artefacts in build/release: static binaries of ipvsctl,
# ipvs_exporter and ipvsd for linux/amd64 and linux/arm64, their man pages,
# Debian packages (nfpm), SHA256SUMS; then their check, which installs the
# packages into a clean Debian bookworm (debootstrap, cached) as root.
release: goproxy
	GO=$(GO) bash packaging/release.sh $(BUILD)/release

clean:
	rm -rf $(BUILD)
