//! Start-up configuration errors: clear, naming the key, non-zero exit.

use std::process::Command;

fn run_with_config(yaml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convograph.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convograph"));
    cmd.args(["serve", "--config"]).arg(&path).args(["--listen", "127.0.0.1:0"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("binary runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

const GONG: &str = r#"
auth:
  open: true
connections:
  - id: acme-gong
    provider: gong
    base_url: "https://us-1234.api.gong.io"
    credentials:
      basic:
        username: { env: TEST_GONG_KEY }
        password: { env: TEST_GONG_SECRET_THAT_IS_NOT_SET }
"#;

#[test]
fn an_unknown_key_is_a_startup_error_naming_it() {
    let (code, err) = run_with_config("server:\n  listen: 127.0.0.1:0\n  colour: blue\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn a_missing_credential_env_var_names_the_key_and_the_variable() {
    let (code, err) = run_with_config(GONG, &[("TEST_GONG_KEY", "k")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("connections[0].credentials.basic.password"), "{err}");
    assert!(err.contains("TEST_GONG_SECRET_THAT_IS_NOT_SET"), "{err}");
}

#[test]
fn a_bad_url_is_a_startup_error_naming_the_key() {
    let (code, err) = run_with_config(&GONG.replace("https://us-1234.api.gong.io", "not a url"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("base_url"), "{err}");
    let (code, err) = run_with_config(&GONG.replace("https://us-1234.api.gong.io", "ftp://x.example"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("connections[0].base_url"), "{err}");
}

#[test]
fn env_overrides_are_typed_and_checked() {
    let (code, err) =
        run_with_config("server:\n  listen: 127.0.0.1:0\n", &[("CONVOGRAPH__SERVER__MAX_PAGE_SIZE", "lots")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.to_lowercase().contains("server.max_page_size"), "{err}");
    // A well-typed override is applied (and then validated like the file's values).
    let (code, err) =
        run_with_config("server:\n  listen: 127.0.0.1:0\n", &[("CONVOGRAPH__SERVER__MAX_PAGE_SIZE", "0")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`server.max_page_size`: must be at least 1"), "{err}");
}

#[test]
fn a_config_without_clients_refuses_to_start_unless_told_to_run_open() {
    let no_auth = GONG.replace("auth:\n  open: true\n", "");
    let (code, err) = run_with_config(&no_auth, &[("TEST_GONG_KEY", "k"), ("TEST_GONG_SECRET_THAT_IS_NOT_SET", "s")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no clients configured") && err.contains("auth.open"), "{err}");
    // Open and clients at once is ambiguous.
    let both = format!(
        "auth:\n  open: true\n  api_keys:\n    - {{ name: a, sha256: \"{}\", connections: [\"*\"] }}\n{no_auth}",
        "ab".repeat(32)
    );
    let (code, err) = run_with_config(&both, &[("TEST_GONG_KEY", "k"), ("TEST_GONG_SECRET_THAT_IS_NOT_SET", "s")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("auth.open"), "{err}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_convograph"))
        .args(["--config", "/nonexistent/convograph.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/convograph.yaml"));
}

#[test]
fn secrets_never_appear_in_startup_errors() {
    // The key resolves, the secret file is fine, but the time zone is bad.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cr3t-value-123\n").unwrap();
    let yaml = format!(
        "connections:\n  - id: g\n    provider: gong\n    base_url: http://127.0.0.1:9\n    time_zone: Mars/Olympus\n    credentials:\n      basic:\n        username: {{ file: {p} }}\n        password: {{ file: {p} }}\n",
        p = secret.display()
    );
    let (code, err) = run_with_config(&yaml, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("time_zone"), "{err}");
    assert!(!err.contains("s3cr3t-value-123"), "{err}");
}

#[test]
fn the_example_config_parses_with_every_provider() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/convograph.example.yaml");
    let settings = convograph::config::Settings::load(Some(std::path::Path::new(path))).expect("the example is valid");
    let providers: Vec<_> = settings.connections.iter().map(|c| c.provider.as_str()).collect();
    assert_eq!(providers, ["gong", "salesloft", "hubster"]);
    assert_eq!(settings.connections[2].conversation_ids.len(), 1);
}

#[test]
fn a_missing_hubster_client_secret_names_the_key_and_the_variable() {
    let yaml = r#"
auth: { open: true }
connections:
  - id: acme-hubster
    provider: hubster
    base_url: "https://engine.hubster.io"
    credentials:
      client_credentials:
        client_id: { env: TEST_HUBSTER_ID }
        client_secret: { env: TEST_HUBSTER_SECRET_THAT_IS_NOT_SET }
        token_url: "https://identity.hubster.io/connect/token"
"#;
    let (code, err) = run_with_config(yaml, &[("TEST_HUBSTER_ID", "hubster.engine.api.x")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("connections[0].credentials.client_credentials.client_secret"), "{err}");
    assert!(err.contains("TEST_HUBSTER_SECRET_THAT_IS_NOT_SET"), "{err}");
    let (code, err) = run_with_config(&yaml.replace("https://identity.hubster.io/connect/token", "ftp://x"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("token_url"), "{err}");
}

#[test]
fn limits_and_origins_are_checked_at_start_up() {
    let (code, err) = run_with_config("limits:\n  max_depth: 0\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`limits.max_depth`"), "{err}");
    let (code, err) = run_with_config("server:\n  cors:\n    allow_origins: [\"app.example.com\"]\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("server.cors.allow_origins[0]"), "{err}");
}

#[test]
fn the_deploy_example_config_is_valid() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/convograph.example.yaml"));
    let settings = convograph::config::Settings::load(Some(path)).expect("the example loads");
    assert!(!settings.auth.api_keys.is_empty() && settings.auth.jwt.is_some());
}

#[tokio::test]
async fn live_calls_are_on_in_the_embedded_config_and_opt_in_in_a_file() {
    use convograph::config::{SandboxConfig, Settings};
    use std::time::Duration;

    let embedded = Settings::load(None).expect("the embedded config loads");
    let sandbox = embedded.sandbox.expect("the sandbox is on");
    assert_eq!((sandbox.live_every, sandbox.live_calls), (Duration::from_secs(30), 2880));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convograph.yaml");
    std::fs::write(&path, "auth:\n  open: true\nsandbox:\n  calls: 50\n").unwrap();
    let off = Settings::load(Some(&path)).expect("loads");
    assert_eq!(off.sandbox.as_ref().map(|s| s.live_every), Some(Duration::ZERO));
    std::fs::write(&path, "auth:\n  open: true\nsandbox:\n  calls: 50\n  live_every: 45s\n  live_calls: 7\n").unwrap();
    let mut on = Settings::load(Some(&path)).expect("loads");
    let cfg = on.sandbox.clone().unwrap();
    assert_eq!((cfg.live_every, cfg.live_calls), (Duration::from_secs(45), 7));
    assert_eq!(cfg.providers, SandboxConfig::default().providers);

    // The server's sandbox generates them: seven live calls after the fifty others,
    // the first ending 45 s after start.
    on.server.listen = "127.0.0.1:0".parse().unwrap();
    let before = chrono::Utc::now();
    let app = convograph::startup::Application::build(on).await.expect("builds");
    let world = app.sandbox().expect("sandbox").world();
    assert_eq!(world.live_calls(), (50..57).collect::<Vec<_>>());
    let first = world.visible_at(50);
    assert!(first > before && first <= chrono::Utc::now() + chrono::Duration::seconds(45), "{first}");
    assert!(!world.is_visible(50, world.now()));
}
