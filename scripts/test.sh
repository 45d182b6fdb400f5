#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit and integration tests.
# This is the README's one test command; .ci/run calls exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked
