#!/usr/bin/env bash
# The full fuzz campaign (the suite runs a smaller seeded share of part 1 on every
# `cargo test`). Figures of the last run: BENCHMARKS.md, "Fuzzing".
#
# 1. The schema-driven GraphQL fuzzer (tests/api/fuzz.rs) against the sandbox: one run
#    per seed of FUZZ_CASES requests each (default seeds 1-5 × 2,500 = 12,500), each
#    printing its summary (requests by kind, HTTP status, error codes, time). A
#    failure prints its seed and case; replay one with
#    CONVOGRAPH_FUZZ_SEED=<seed> CONVOGRAPH_FUZZ_ONLY=<case> cargo test --test api fuzz:: -- --nocapture
# 2. cargo-fuzz (libFuzzer) targets in fuzz/: `cursor` (the cursor decoder) and
#    `config` (Settings::load over YAML/TOML text), FUZZ_SECONDS each (default 60).
#    Needs `cargo install cargo-fuzz` and a C++ compiler. On a stable toolchain
#    RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags; `-s none` builds without a
#    sanitizer (ASan needs nightly's -Zsanitizer; the crate forbids unsafe code, so
#    libFuzzer's coverage and panic detection are what count). The fuzz crate builds
#    in fuzz/target (its own workspace), never CARGO_TARGET_DIR. Crashes land in
#    fuzz/artifacts/<target>/; replay one with
#    RUSTC_BOOTSTRAP=1 cargo fuzz run <target> -s none fuzz/artifacts/<target>/<file>
#
# FUZZ_PARTS="graphql cargo-fuzz" picks the parts (default both).
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${FUZZ_SEEDS:-"1 2 3 4 5"}
CASES=${FUZZ_CASES:-2500}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
PARTS=${FUZZ_PARTS:-"graphql cargo-fuzz"}
LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT
status=0

if [[ " $PARTS " == *" graphql "* ]]; then
  echo "==> GraphQL fuzzer: seeds $SEEDS, $CASES requests each"
  cargo test --locked --test api fuzz:: --no-run
  total=0
  started=$(date +%s.%N)
  for seed in $SEEDS; do
    log="$LOG_DIR/graphql-$seed.log"
    if CONVOGRAPH_FUZZ_SEED=$seed CONVOGRAPH_FUZZ_CASES=$CASES \
      cargo test --locked --test api fuzz::random -- --nocapture >"$log" 2>&1; then
      result=ok
    else
      result=FAILED
      status=1
    fi
    sed -n '/^Fuzz: seed/,/^  failures:/p' "$log"
    if [ "$result" = FAILED ]; then
      # The failing cases (seed, case, request) and the assertion.
      sed -n '/^=== seed/,$p' "$log" | head -200
      grep -m1 -A2 'panicked at' "$log" || true
    fi
    n=$(sed -n 's/^Fuzz: seed [0-9]*, \([0-9]*\) requests.*/\1/p' "$log")
    total=$((total + ${n:-0}))
    echo "    seed $seed: $result"
  done
  elapsed=$(echo "$(date +%s.%N) - $started" | bc)
  printf '==> GraphQL fuzzer: %d requests over seeds %s in %.0f s\n' "$total" "$SEEDS" "$elapsed"
fi

if [[ " $PARTS " == *" cargo-fuzz "* ]]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 1
  fi
  for target in cursor config; do
    echo "==> cargo fuzz run $target ($SECONDS_PER_TARGET s)"
    mkdir -p "fuzz/corpus/$target"
    log="$LOG_DIR/cargo-fuzz-$target.log"
    # The first corpus directory collects new inputs; fuzz/seeds/<target> seeds it.
    if env -u CARGO_TARGET_DIR RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -s none \
      "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
      result=ok
    else
      result=FAILED
      status=1
      grep -E 'panicked|ERROR|SUMMARY|artifact_prefix|Test unit written' "$log" | head -20
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || tail -5 "$log"
    grep -E '#[0-9]+ *DONE' "$log" | tail -1 || true
    echo "    $target: $result (corpus: $(find "fuzz/corpus/$target" -type f | wc -l) inputs)"
  done
fi

exit $status
