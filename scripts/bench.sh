#!/usr/bin/env bash
# The scripted load runs and micro-benchmarks behind BENCHMARKS.md. Builds release
# binaries, runs each measurement on loopback, and writes one JSON file per run to
# bench-results/<date>/ plus a summary on stdout. Needs `wrk` (installed from
# Debian's packages when missing). Run it on a quiet machine: it measures time.
#
#   ./scripts/bench.sh            # everything (about 5 minutes after the build)
#   ./scripts/bench.sh walk       # one part: walk | latency | throughput | memory | criterion
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("${@:-walk latency throughput memory criterion}")
parts=(${parts[*]})
target="${CARGO_TARGET_DIR:-target}"
out="bench-results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"

echo "==> building release binaries"
cargo build --release --locked --bin convograph --example perf
perf="$target/release/examples/perf"
convograph="$target/release/convograph"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Waits for the first line a background process writes to $1.
first_line() {
  for _ in $(seq 1 600); do
    if [ -s "$1" ]; then head -n1 "$1"; return; fi
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  exit 1
}

json_get() { python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v if isinstance(v,str) else json.dumps(v))" "$1" "$2"; }

for part in "${parts[@]}"; do
  case "$part" in
  walk)
    echo "==> walk: every call of a 3,000-call Gong connection at 3 requests/s"
    "$perf" walk --calls 3000 | tee "$out/walk.json"
    ;;
  latency)
    echo "==> latency: 100 queries/s over a simulator answering in 20 ms, caching off"
    "$perf" latency-server > "$out/latency-targets.json" &
    pids+=($!)
    targets=$(first_line "$out/latency-targets.json")
    json_get "$targets" directBody > "$out/direct-body.json"
    json_get "$targets" graphqlBody > "$out/graphql-body.json"
    auth=$(json_get "$targets" directAuthorization)
    "$perf" loadgen --url "$(json_get "$targets" direct)" --body "$out/direct-body.json" \
      --header "Authorization: $auth" --rate 100 --secs 30 | tee "$out/latency-direct.json"
    "$perf" loadgen --url "$(json_get "$targets" convograph)" --body "$out/graphql-body.json" \
      --rate 100 --secs 30 | tee "$out/latency-convograph.json"
    kill "${pids[-1]}"
    ;;
  throughput)
    echo "==> throughput: a cached query against a bare axum handler answering the same bytes"
    command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    "$convograph" serve --listen 127.0.0.1:4555 2> "$out/convograph.log" &
    pids+=($!)
    for _ in $(seq 1 600); do curl -fs http://127.0.0.1:4555/healthz >/dev/null && break; sleep 0.1; done
    query='{"query":"{ calls(connectionId: \"gong-demo\", first: 20) { edges { node { id title startedAt duration host { name email } participants { name affiliation } } } } }"}'
    echo "$query" > "$out/throughput-body.json"
    curl -fs -H 'content-type: application/json' -d "$query" http://127.0.0.1:4555/graphql > "$out/throughput-response.json"
    "$perf" bare --body "$out/throughput-response.json" --listen 127.0.0.1:4556 > "$out/bare.json" &
    pids+=($!)
    first_line "$out/bare.json" > /dev/null
    cat > "$out/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("$out/throughput-body.json"):read("*a")
LUA
    for target_url in http://127.0.0.1:4556/graphql http://127.0.0.1:4555/graphql; do
      wrk -t1 -c32 -d5s -s "$out/post.lua" "$target_url" > /dev/null # warm-up
      wrk -t1 -c32 -d15s --latency -s "$out/post.lua" "$target_url" | tee -a "$out/throughput-wrk.txt"
    done
    python3 - "$out/throughput-wrk.txt" <<'PY' | tee "$out/throughput.json"
import json, re, sys
rates = [float(x) for x in re.findall(r"Requests/sec:\s+([\d.]+)", open(sys.argv[1]).read())]
bare, conv = rates[-2], rates[-1]
print(json.dumps({"run": "throughput", "bareRps": bare, "convographRps": conv, "ratio": conv / bare}))
PY
    ;;
  memory)
    echo "==> memory: bytes the cache holds per 10,000 calls"
    "$perf" memory --calls 10000 | tee "$out/memory.json"
    ;;
  criterion)
    echo "==> criterion: hot paths"
    cargo bench --locked --bench hot_paths 2>&1 | grep -E "^(gong|relay|cache)|time:" | tee "$out/criterion.txt"
    ;;
  *)
    echo "unknown part '$part'" >&2
    exit 2
    ;;
  esac
done
echo "==> results in $out"
