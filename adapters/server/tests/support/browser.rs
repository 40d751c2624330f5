//! Browser tests' plumbing: Debian's chromium and the pinned playwright-core in `tools/browser`,
//! node scripts run from there, and the folder screenshots are kept in (`target/test-artifacts`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tools/browser`: the node scripts and their `node_modules`.
pub fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/browser").canonicalize().unwrap()
}

/// `target/test-artifacts/<name>`, emptied of an earlier run's files.
pub fn artifacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The chromium binary (`CHROMIUM`, else `/usr/bin/chromium`); installs playwright-core the first
/// time.
pub fn prepare() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "the browser test needs chromium at {path} (apt-get install -y chromium, or set CHROMIUM)"
    );
    if !tools().join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(tools())
            .status()
            .expect("run npm");
        assert!(status.success(), "npm ci in tools/browser failed");
    }
    path
}

/// Runs `node tools/browser/<script> <args…>` off the async runtime and returns its output.
pub async fn node(script: &str, args: Vec<String>) -> Output {
    let chromium = prepare();
    let script = tools().join(script);
    tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(args)
            .env("CHROMIUM", chromium)
            .output()
            .expect("run node")
    })
    .await
    .unwrap()
}
