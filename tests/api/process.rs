//! The real binary: starts on the sandbox with no config, serves, stops on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

/// Kills the server if the test fails before stopping it: an orphaned child would
/// keep the test harness's output pipe open and hang the whole run.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn the_binary_serves_the_sandbox_and_stops_gracefully_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_convograph"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("CONVOGRAPH_CONFIG")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    let mut guard = KillOnDrop(Some(child));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut url = None;
    let mut log = String::new();
    while url.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("logs its address");
        log.push_str(&line);
        log.push('\n');
        if let Some(start) = line.find("http://") {
            url = line[start..].split_whitespace().next().map(str::to_owned);
        }
    }
    assert!(log.contains("Sandbox mode"), "says it runs open on the sandbox:\n{log}");
    let url = url.unwrap();

    let body: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({ "query": r#"{ calls(connectionId: "gong-demo", first: 1) { totalCount } }"# }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["calls"]["totalCount"], 2000, "the default sandbox world");

    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let mut child = guard.0.take().unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), tokio::task::spawn_blocking(move || child.wait()))
        .await
        .expect("stops within 10 s of SIGTERM")
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_0_against_a_live_server_and_1_otherwise() {
    let app = crate::helpers::spawn_app().await;
    let run = |url: String| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_convograph"))
            .args(["healthcheck", "--url", &url])
            .output()
            .await
            .expect("runs")
    };
    let ok = run(app.url("/healthz")).await;
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    // A port nobody listens on: bind one, then free it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = run(format!("http://{free}/healthz")).await;
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("healthcheck"), "says why");
}
