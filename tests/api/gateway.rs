//! Real federation and HTTP software against convograph: the Node tests in
//! `tests/gateway/` (Apollo composition, Apollo Gateway and Hive Gateway with a second subgraph, the
//! `graphql-http` audit, deploy manifest validation), each run by Node's test runner
//! against a convograph started here on a loopback port.
//!
//! Node 20+ must be installed and `tests/gateway/node_modules` present
//! (`scripts/test.sh` runs `npm ci` there). Without them these tests fail: they are
//! part of the suite, not optional.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::Command;

use crate::helpers::spawn_app;

/// Bound on one Node test file (they take seconds; this only stops a hang).
const NODE_TIMEOUT: Duration = Duration::from_secs(180);

fn gateway_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("gateway")
}

/// Runs `node --test FILE` in `tests/gateway` with `env`; panics with its output
/// unless every test passed.
pub(crate) async fn node_test(file: &str, env: &[(&str, String)]) {
    let dir = gateway_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "tests/gateway/node_modules is missing: run `npm ci --prefix tests/gateway` (scripts/test.sh does)"
    );
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-reporter=spec", file])
        .current_dir(&dir)
        .env("NODE_ENV", "test")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = match tokio::time::timeout(NODE_TIMEOUT, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run `node` ({e}): Node.js 20+ is required for the gateway tests"),
        Err(_) => panic!("node --test {file} did not finish within {NODE_TIMEOUT:?}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node --test {file} failed ({}):\n{stdout}\n{stderr}", out.status);
    // Node's runner ends with counters ("ℹ pass 7"): make sure tests ran at all.
    let passed = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("ℹ pass ").and_then(|n| n.trim().parse::<u32>().ok()))
        .unwrap_or(0);
    assert!(passed > 0, "no Node test ran:\n{stdout}\n{stderr}");
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_composition_and_gateway_with_a_second_subgraph() {
    let app = spawn_app().await;
    node_test("federation.test.mjs", &[("CONVOGRAPH_URL", app.url("/graphql"))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hive_gateway_with_a_second_subgraph() {
    let app = spawn_app().await;
    node_test("hive.test.mjs", &[("CONVOGRAPH_URL", app.url("/graphql"))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_over_http_audit_has_no_must_failure_and_no_should_warning() {
    let app = spawn_app().await;
    node_test("audit.test.mjs", &[("CONVOGRAPH_URL", app.url("/graphql"))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_manifests_and_compose_file_match_their_schemas() {
    node_test("deploy.test.mjs", &[]).await;
}
