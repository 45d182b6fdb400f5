#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit and integration tests, including
# the ones that drive real federation software (Node: tests/gateway) and validate the
# deploy manifests (Python: tests/deploy). This is the README's one test command;
# .ci/run calls exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> test dependencies (npm ci in tests/gateway, pip in tests/deploy/.venv, redis-server, chromium, GraphiQL assets)"
command -v node >/dev/null || { echo "Node.js 20+ is required (tests/gateway)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "Python 3 is required (tests/deploy)" >&2; exit 1; }
# The scale-out tests start Redis servers of their own (Debian's redis-server).
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is required (tests/api/scale_out.rs): install Debian's redis-server" >&2; exit 1
  fi
fi
# The GraphiQL test drives Debian's Chromium (tests/gateway/graphiql.test.mjs).
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is required (the GraphiQL browser test): install Debian's chromium or set CHROMIUM" >&2; exit 1
  fi
fi
# ...on GraphiQL's own scripts, served locally (no CDN here): from the npm registry.
if [ ! -f tests/gateway/.graphiql-assets/graphiql.min.js ]; then
  scripts/graphiql-assets.sh tests/gateway/.graphiql-assets
fi
# Each installs only when its lockfile changed since the last install (a copy is kept).
if ! cmp -s tests/gateway/package-lock.json tests/gateway/node_modules/.installed-lock.json; then
  npm ci --prefix tests/gateway --no-audit --no-fund --loglevel=error
  cp tests/gateway/package-lock.json tests/gateway/node_modules/.installed-lock.json
fi
if [ ! -x tests/deploy/.venv/bin/python ]; then
  python3 -m venv tests/deploy/.venv
fi
if ! cmp -s tests/deploy/requirements.txt tests/deploy/.venv/requirements.installed; then
  tests/deploy/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/deploy/requirements.txt
  cp tests/deploy/requirements.txt tests/deploy/.venv/requirements.installed
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked
