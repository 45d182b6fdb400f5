//! Any text as the config file, through `Settings::load` (figment: defaults, the file,
//! `CONVOGRAPH__` env overrides, then validation): it loads or is refused with a
//! `ConfigError`, never a panic. YAML, or TOML when the input starts with `TOML\n`
//! (the loader picks the format by the file's extension).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn file(ext: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("convograph-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    });
    dir.join(format!("convograph.{ext}"))
}

fuzz_target!(|data: &[u8]| {
    let (path, text) = match data.strip_prefix(b"TOML\n") {
        Some(rest) => (file("toml"), rest),
        None => (file("yaml"), data),
    };
    std::fs::write(&path, text).expect("write the config file");
    if let Ok(settings) = convograph::config::Settings::load(Some(&path)) {
        // What loads validates again (as `Application::build` does).
        settings.validate().expect("loaded settings validate");
    }
});
