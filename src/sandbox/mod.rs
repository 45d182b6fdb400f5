//! TEMPORARY STUB, replaced by the simulator branch.
#![allow(missing_docs, unreachable_pub)]
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct SandboxSettings {
    pub seed: u64,
    pub people: usize,
    pub calls: usize,
}
pub struct World;
impl World {
    pub fn time_zone(&self) -> &str {
        "America/New_York"
    }
    pub fn workspace_id(&self) -> &str {
        "1"
    }
}
pub struct SimHandle;
impl SimHandle {
    pub fn base_url(&self) -> String {
        "http://127.0.0.1:1".into()
    }
    pub fn access_key(&self) -> String {
        String::new()
    }
    pub fn access_key_secret(&self) -> String {
        String::new()
    }
}
pub struct Sandbox {
    pub gong: SimHandle,
    world: Arc<World>,
}
impl Sandbox {
    pub async fn start(_s: SandboxSettings) -> anyhow::Result<Self> {
        Ok(Self {
            gong: SimHandle,
            world: Arc::new(World),
        })
    }
    pub fn world(&self) -> &World {
        &self.world
    }
    pub async fn shutdown(self) {}
}
