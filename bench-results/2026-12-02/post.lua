wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("bench-results/2026-12-02/throughput-body.json"):read("*a")
