//! deploy/: the Kubernetes manifests pass strict schema validation (PyPI
//! `kubernetes-validate`, its bundled Kubernetes schemas, unknown fields rejected),
//! and the configuration files shipped there load with convograph's own loader.
//! The compose file, the references between manifests and the supergraph are
//! checked by `tests/gateway/deploy.test.mjs` (see `gateway.rs`).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
};

use convograph::config::Settings;
use figment::{Figment, providers::Format as _, providers::Yaml};

/// The manifests `kubectl apply` takes (the kustomization is kustomize's, not an API object).
const MANIFESTS: [&str; 7] =
    ["configmap.yaml", "secret.example.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "redis.yaml"];

/// The oldest and the newest Kubernetes the manifests are checked against.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs `kubernetes-validate --strict -k VERSION FILES`; returns (success, output).
fn kubernetes_validate(version: &str, files: &[PathBuf]) -> (bool, String) {
    let bin = repo("tests/deploy/.venv/bin/kubernetes-validate");
    assert!(
        bin.exists(),
        "{} is missing: create it with `python3 -m venv tests/deploy/.venv && tests/deploy/.venv/bin/pip install -r tests/deploy/requirements.txt` (scripts/test.sh does)",
        bin.display()
    );
    let out =
        Command::new(&bin).args(["--strict", "-k", version]).args(files).output().expect("kubernetes-validate runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn kubernetes_manifests_pass_strict_schema_validation() {
    let files: Vec<PathBuf> = MANIFESTS.iter().map(|f| repo(&format!("deploy/k8s/{f}"))).collect();
    // A file may hold several resources (redis.yaml: the StatefulSet and its Service).
    let resources: usize = files.iter().map(|f| std::fs::read_to_string(f).unwrap().matches("\nkind: ").count()).sum();
    for version in KUBERNETES_VERSIONS {
        let (ok, out) = kubernetes_validate(version, &files);
        assert!(ok, "Kubernetes {version}:\n{out}");
        assert_eq!(out.matches(" passed for resource ").count(), resources, "each resource checked:\n{out}");
    }
}

#[test]
fn the_manifest_check_rejects_a_misspelt_field() {
    let dir = tempfile::tempdir().unwrap();
    let deployment = std::fs::read_to_string(repo("deploy/k8s/deployment.yaml")).unwrap();
    assert!(deployment.contains("readinessProbe:"));
    let broken = dir.path().join("deployment.yaml");
    std::fs::write(&broken, deployment.replace("readinessProbe:", "readinesProbe:")).unwrap();
    let (ok, out) = kubernetes_validate(KUBERNETES_VERSIONS[1], &[broken]);
    assert!(!ok, "a misspelt probe must fail:\n{out}");
    assert!(out.contains("readinesProbe"), "{out}");
}

#[test]
fn the_configmap_config_and_the_example_config_load() {
    let configmap: HashMap<String, String> =
        Figment::from(Yaml::file_exact(repo("deploy/k8s/configmap.yaml"))).extract_inner("data").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("convograph.yaml");
    std::fs::write(&path, &configmap["convograph.yaml"]).unwrap();
    for file in [path, repo("deploy/convograph.example.yaml")] {
        let settings = Settings::load(Some(&file)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!settings.connections.is_empty(), "{}: has connections", file.display());
        assert!(settings.sandbox.is_none(), "{}: a config file means real providers", file.display());
        assert!(settings.server.cursor_secret.is_some(), "{}: replicas share the cursor key", file.display());
    }
}
