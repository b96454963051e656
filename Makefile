# balnode: the two commands a new user needs are `make run` and `make test`.

CARGO       ?= cargo
PROFILE     ?= release
DATADIR     ?= datadir/dev
SHARED      ?= ../shared
FIXTURES    ?= testing/fixtures
NEXTEST_VERSION ?= 0.9.143
KNOWN_FAILURES ?= crates/import/testdata/known-failures.txt
REPLAY_KNOWN_FAILURES ?= crates/replay/testdata/known-failures.txt
# `make bench`: measured runs per block and configuration (the median is reported).
BENCH_RUNS ?= 9
RPC_KNOWN_FAILURES ?= crates/rpc/testdata/rpc-compat-known-failures.txt
# The Amsterdam bundle runs under the chain spec's `bal-v5.7` profile (docs/AMSTERDAM.md).
BLOCKCHAIN_SUITES ?= eest-v5.4.0 ethereum-tests-v14.1 eest-bal-v5.7.0-alpha-amsterdam

BIN := target/$(PROFILE)/balnode

SOAK_KILLS ?= 20
SOAK_SECONDS ?= 600
# `make fuzz`: seconds per target (fuzz-short: FUZZ_SHORT_SECONDS); the targets are in fuzz/fuzz_targets.
FUZZ_SECONDS ?= 600
FUZZ_SHORT_SECONDS ?= 20
FUZZ_TARGETS ?= block_file bal genesis rpc_params

.PHONY: fuzz fuzz-short fuzz-tools fuzz-corpus soak differential bench rpc-compat rpc-client devnet-e2e bench-rpc bench-import bench-trie all build run test test-doc nextest conformance fixtures fmt fmt-check clippy docs deny pr ci clean-fixtures

all: build

## build: the release binary.
build:
	$(CARGO) build --profile $(PROFILE) --locked --bin balnode

## run: a dev node on an embedded MDBX datadir ($(DATADIR)), JSON-RPC on 127.0.0.1:8545.
run: build
	$(BIN) node --dev --datadir $(DATADIR)

## nextest: installs cargo-nextest from crates.io when the machine lacks it.
nextest:
	@command -v cargo-nextest >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked --version $(NEXTEST_VERSION)

## test: the workspace's unit and integration tests, self-contained (small fixtures live in testdata/).
test: nextest
	$(CARGO) nextest run --workspace --locked --no-fail-fast
	$(CARGO) test --workspace --locked --doc

## test-doc: documentation tests only (nextest does not run them).
test-doc:
	$(CARGO) test --workspace --locked --doc

## fixtures: unpack the shared fixture bundles into $(FIXTURES) (gitignored).
fixtures:
	@test -x $(SHARED)/fixtures/unpack.sh || { echo "no $(SHARED)/fixtures/unpack.sh: set SHARED=path/to/shared"; exit 1; }
	$(SHARED)/fixtures/unpack.sh $(FIXTURES)

## conformance: the large suites from $(SHARED)/fixtures: the tests marked ignored in `make test`, then the
## blockchain tests through the import path (known failures, each with its reason, in $(KNOWN_FAILURES)) with
## every block executed sequentially, BAL-parallel (with the list it built) and optimistically, the outputs
## compared (`--exec-differential`), the Amsterdam suite once more sequentially only, then the mainnet corpus through
## `balnode replay` (known failures in $(REPLAY_KNOWN_FAILURES)).
conformance: nextest fixtures
	BALNODE_FIXTURES=$(abspath $(FIXTURES)) $(CARGO) nextest run --workspace --locked --cargo-profile conformance \
		--run-ignored only --no-fail-fast
	$(CARGO) build --profile conformance --locked --bin balnode
	RUST_LOG=warn,balnode::exec=info target/conformance/balnode test-fixtures --exec-differential \
		--known-failures $(KNOWN_FAILURES) $(foreach suite,$(BLOCKCHAIN_SUITES),$(FIXTURES)/blockchain-tests/$(suite))
	RUST_LOG=warn,balnode::exec=info target/conformance/balnode test-fixtures --exec sequential \
		--known-failures $(KNOWN_FAILURES) $(FIXTURES)/blockchain-tests/eest-bal-v5.7.0-alpha-amsterdam
	RUST_LOG=warn target/conformance/balnode replay --known-failures $(REPLAY_KNOWN_FAILURES) \
		$(FIXTURES)/mainnet/pevm-blocks

## soak: the long fault tests over $(FIXTURES): `balnode import` of the hive-sync chain (3,000 blocks) killed
## with SIGKILL at $(SOAK_KILLS) random moments, `db check` and the reported commits checked after each kill
## (BALNODE_CRASH_SEED=N repeats a run's moments); the dev node killed 20 times while producing blocks; then
## two loopback soaks of $(SOAK_SECONDS) s each, 64 JSON-RPC connections: while the node imports hive-sync through
## the Engine API, and while other processes import and unwind its datadir: no failed request, p50/p99 latency
## and the node's RSS printed.
soak: nextest fixtures
	BALNODE_FIXTURES=$(abspath $(FIXTURES)) BALNODE_CRASH_KILLS=$(SOAK_KILLS) BALNODE_SOAK_SECONDS=$(SOAK_SECONDS) \
		$(CARGO) nextest run -p balnode --locked --cargo-profile conformance --run-ignored only --no-capture \
		--test-threads 1 -E 'test(import_of_hive_sync_survives) | test(dev_node_survives) | test(soak_rpc_load_while_importing) | test(rpc_under_load_while_importing)'

## fuzz-tools: installs cargo-fuzz from crates.io when the machine lacks it (it runs on the nightly toolchain).
fuzz-tools:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

## fuzz-corpus: seeds fuzz/corpus/<target> (gitignored) from the fixtures; the small seeds in fuzz/seeds are
## committed.
fuzz-corpus: fixtures
	scripts/fuzz-seeds.sh $(FIXTURES)

## fuzz: each target of fuzz/ for $(FUZZ_SECONDS) s (one at a time: each uses a core); a crash stops it, the
## input is left in fuzz/artifacts/<target>/.
fuzz: fuzz-tools fuzz-corpus
	cd fuzz && for target in $(FUZZ_TARGETS); do mkdir -p corpus/$$target; \
		cargo +nightly fuzz run $$target corpus/$$target seeds/$$target -- -max_total_time=$(FUZZ_SECONDS) \
			-rss_limit_mb=4096 \
			|| exit 1; \
	done

## fuzz-short: each target for $(FUZZ_SHORT_SECONDS) s from the committed seeds (CI: no fixtures needed).
fuzz-short: fuzz-tools
	cd fuzz && for target in $(FUZZ_TARGETS); do mkdir -p corpus/$$target; \
		cargo +nightly fuzz run $$target corpus/$$target seeds/$$target -- -max_total_time=$(FUZZ_SHORT_SECONDS) \
			-rss_limit_mb=4096 \
			|| exit 1; \
	done

## differential: every blockchain suite at 1, 2 and 4 threads, three times (long: not in CI): with the
## differential check (each block sequentially, BAL-parallel and optimistically, compared), and in the
## `optimistic` mode itself (blocks with a list run BAL-parallel from it).
differential: fixtures
	$(CARGO) build --profile conformance --locked --bin balnode
	for run in 1 2 3; do for threads in 1 2 4; do for flags in --exec-differential "--exec optimistic"; do \
		echo "run $$run, $$threads threads, $$flags:"; \
		out=$$(RUST_LOG=warn,balnode::exec=info target/conformance/balnode test-fixtures $$flags \
			--exec-threads $$threads --known-failures $(KNOWN_FAILURES) \
			$(foreach suite,$(BLOCKCHAIN_SUITES),$(FIXTURES)/blockchain-tests/$(suite)) 2>&1); status=$$?; \
		echo "$$out" | grep -v '^SKIP\|: [0-9]* passed, 0 failed' | tail -3; test $$status -eq 0 || exit 1; \
	done; done; done

## bench: the mainnet corpus replayed by every execution mode, warm and cold, against raw revm, with each
## block's critical path: a Markdown table on stdout, the same as JSON in target/bench/replay.json.
bench: build fixtures
	@mkdir -p target/bench
	RUST_LOG=warn $(BIN) replay --bench --runs $(BENCH_RUNS) --json-out target/bench/replay.json \
		$(FIXTURES)/mainnet/pevm-blocks

## rpc-compat: the execution-apis JSON-RPC cases (hive's rpc-compat) against chains/rpc-compat imported into a
## temporary datadir and served on a free port; known failures, each with its reason, in $(RPC_KNOWN_FAILURES).
rpc-compat: fixtures
	$(CARGO) build --profile conformance --locked --bin balnode
	RUST_LOG=warn target/conformance/balnode rpc-compat --chain-dir $(FIXTURES)/chains/rpc-compat \
		--cases $(FIXTURES)/rpc-compat --known-failures $(RPC_KNOWN_FAILURES)

## rpc-client: the real-client test: ethers.js (npm, pinned by scripts/rpc-client/package-lock.json) reads
## blocks, balances, receipts, logs, code and a proof from the imported rpc-compat chain over JSON-RPC.
rpc-client: fixtures
	$(CARGO) build --profile conformance --locked --bin balnode
	scripts/rpc-client-test.sh target/conformance/balnode $(FIXTURES)/chains/rpc-compat

## devnet-e2e: the devnet end to end with real client libraries: ethers.js and solc (npm, pinned by
## scripts/devnet-e2e/package-lock.json) deploy an ERC-20 on `balnode node --dev`, move tokens between dev
## accounts and check balances, Transfer events, the access lists and the pool's errors; then a restart.
devnet-e2e:
	$(CARGO) build --profile conformance --locked --bin balnode
	scripts/devnet-e2e.sh target/conformance/balnode

## bench-rpc: JSON-RPC load on loopback (64 connections, 30 s each for eth_blockNumber, eth_getBalance and
## eth_call) over the rpc-compat chain: requests per second, p50 and p99 latency.
bench-rpc: fixtures
	$(CARGO) build --profile conformance --locked --bin balnode
	RUST_LOG=warn target/conformance/balnode bench-rpc --chain-dir $(FIXTURES)/chains/rpc-compat \
		--connections 64 --duration 30

## bench-import: import throughput (median Mgas/s of 5 runs) on the fixture chains hive-sync and rpc-compat.
bench-import: build fixtures
	scripts/bench-import.sh 5 hive-sync rpc-compat

## bench-trie: incremental vs full state root on 1,000,000 accounts, and parallel storage roots at 2 threads vs 1.
bench-trie:
	$(CARGO) bench --locked -p balnode-trie

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --all-features --locked -- -D warnings

docs:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --document-private-items --locked

## deny: licence and source checks (installs cargo-deny from crates.io when missing).
deny:
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install cargo-deny --locked
	$(CARGO) deny check licenses sources

## pr: everything a change should pass before it lands.
pr: fmt-check clippy test docs conformance rpc-compat rpc-client

## ci: what .ci/run runs.
ci: fmt-check clippy test conformance rpc-compat rpc-client

clean-fixtures:
	rm -rf $(FIXTURES)
