#!/usr/bin/env python3
"""Soak run: mixed cached and uncached GraphQL load on the sandbox for a while,
sampling the server's resident memory (VmRSS) every interval.

Driven by scripts/soak.sh, which builds and starts the server; this script only
loads it and samples /proc/<pid>/status. Prints one JSON document: the samples,
the requests sent by kind and status, and the verdict: RSS at the end within
+/-10 % of RSS after the warm-up.
"""

import argparse
import json
import random
import threading
import time
import urllib.error
import urllib.request

CACHED = {
    "query": "{ calls(connectionId: \"gong-demo\", first: 20) { edges { node { id title startedAt "
    "duration host { name email } participants { name affiliation } } } } }"
}


def uncached(rng: random.Random) -> dict:
    """A query whose provider reads are new most of the time: a random window of the
    merged timeline, or a random person's dashboard over a random range."""
    day = rng.randrange(1, 28)
    hour = rng.randrange(0, 24)
    if rng.random() < 0.5:
        return {
            "query": "query($from: DateTime!) { calls(first: 25, filter: { startedFrom: $from }) "
            "{ edges { node { id title host { name } } } } }",
            "variables": {"from": f"2026-03-{day:02d}T{hour:02d}:{rng.randrange(60):02d}:00Z"},
        }
    return {
        "query": "query($s: DateTime!, $e: DateTime!) { users(first: 5) { edges { node { name "
        "activity(startTime: $s, endTime: $e) { edges { node { id } } } } } } }",
        "variables": {"s": f"2026-02-{day:02d}T00:00:00Z", "e": f"2026-03-{day:02d}T00:00:00Z"},
    }


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--secs", type=int, default=1800)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--interval", type=int, default=30)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--uncached-share", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    stop = time.monotonic() + args.secs
    counts: dict = {}
    lock = threading.Lock()

    def worker(n: int) -> None:
        rng = random.Random(args.seed * 1000 + n)
        while time.monotonic() < stop:
            kind = "uncached" if rng.random() < args.uncached_share else "cached"
            body = json.dumps(uncached(rng) if kind == "uncached" else CACHED).encode()
            req = urllib.request.Request(args.url, data=body, headers={"content-type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=65) as resp:
                    resp.read()
                    status = resp.status
            except urllib.error.HTTPError as e:
                status = e.code
            except Exception:  # noqa: BLE001 - a refused or reset connection is a result too
                status = "error"
            with lock:
                key = f"{kind} {status}"
                counts[key] = counts.get(key, 0) + 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(args.workers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    while True:
        elapsed = time.monotonic() - started
        samples.append({"secs": round(elapsed), "rss_kib": rss_kib(args.pid)})
        if elapsed >= args.secs:
            break
        time.sleep(min(args.interval, max(0.0, args.secs - elapsed)))
    for t in threads:
        t.join(timeout=70)

    after_warmup = next(s for s in samples if s["secs"] >= args.warmup)
    end = samples[-1]
    change = (end["rss_kib"] - after_warmup["rss_kib"]) / after_warmup["rss_kib"]
    print(
        json.dumps(
            {
                "secs": args.secs,
                "warmup_secs": args.warmup,
                "workers": args.workers,
                "uncached_share": args.uncached_share,
                "requests": counts,
                "rss_after_warmup_kib": after_warmup["rss_kib"],
                "rss_end_kib": end["rss_kib"],
                "rss_max_kib": max(s["rss_kib"] for s in samples),
                "change_after_warmup": round(change, 4),
                "within_10_percent": abs(change) <= 0.10,
                "samples": samples,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
