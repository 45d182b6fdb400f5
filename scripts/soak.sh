#!/usr/bin/env bash
# Soak run (BENCHMARKS.md "Soak"): the release server on the sandbox under mixed
# cached/uncached load for 30 minutes, resident memory sampled every 30 s. Writes
# bench-results/<date>/soak.json and prints the verdict (RSS at the end within
# +/-10 % of RSS after the 5-minute warm-up). Loopback only; stops by itself.
#
#   ./scripts/soak.sh                 # 30 minutes
#   SOAK_SECS=600 ./scripts/soak.sh   # shorter, e.g. to try it
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${SOAK_SECS:-1800}"
warmup="${SOAK_WARMUP:-300}"
target="${CARGO_TARGET_DIR:-target}"
out="bench-results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"

echo "==> building the release binary"
cargo build --release --locked --bin convograph
port=4577
"$target/release/convograph" serve --listen "127.0.0.1:$port" 2> "$out/soak-server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "==> ${secs}s of load (warm-up ${warmup}s), RSS every 30 s"
python3 scripts/soak.py --url "http://127.0.0.1:$port/graphql" --pid "$pid" --secs "$secs" --warmup "$warmup" \
  > "$out/soak.json"
python3 - "$out/soak.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"requests: {r['requests']}")
print(f"RSS after warm-up {r['rss_after_warmup_kib'] / 1024:.1f} MiB, at the end {r['rss_end_kib'] / 1024:.1f} MiB, "
      f"max {r['rss_max_kib'] / 1024:.1f} MiB: change {r['change_after_warmup'] * 100:+.1f} % "
      f"({'within' if r['within_10_percent'] else 'OUTSIDE'} +/-10 %)")
PY
