//! Test support: the real `llm-gateway` binary as a child process, and a mock OpenAI-compatible
//! upstream on 127.0.0.1 (a stand-in for a provider's cloud, which cannot run here).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod blackbox;
pub mod browser;
pub mod client;
pub mod mock;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Peak resident memory of `pid` (KiB).
pub fn vm_hwm_kib(pid: u32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `tools/<dir>` with its pinned npm packages: `npm ci` there (once at a time) when any of
/// `marks` — paths below it — is missing.
pub fn npm_tool(dir: &str, marks: &[&str]) -> std::path::PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools").join(dir);
    let dir = dir.canonicalize().unwrap();
    let _one = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !marks.iter().all(|m| dir.join(m).exists()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("run npm");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    }
    dir
}

/// A running gateway process; killed on drop.
pub struct GatewayProcess {
    child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl GatewayProcess {
    /// Starts the binary on a free port with `db` as its database and waits until it listens.
    pub fn start(db: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with_url(&db.to_string_lossy(), env)
    }

    /// Starts the binary with `DATABASE_URL=url` (a file path or a remote URL).
    pub fn start_with_url(db: &str, env: &[(&str, &str)]) -> Self {
        Self::start_command(Command::new(env!("CARGO_BIN_EXE_llm-gateway")), db, env)
    }

    /// Starts the binary under `prlimit --nofile=<n>` (a lowered open-file limit).
    pub fn start_with_nofile(db: &Path, nofile: u32, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={nofile}")).arg(env!("CARGO_BIN_EXE_llm-gateway"));
        Self::start_command(cmd, &db.to_string_lossy(), env)
    }

    fn start_command(mut cmd: Command, db: &str, env: &[(&str, &str)]) -> Self {
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("DATABASE_URL", db)
            .env("RUST_LOG", "info")
            // Tests reach nothing but 127.0.0.1: no public model catalog unless a test serves one.
            .env("CATALOG_URL", "off")
            .env("CATALOG_MODELS_DEV_URL", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start llm-gateway");
        let log = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            if let Some(addr) = log
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.split("listening on ").nth(1))
                .and_then(|a| a.split(['"', ' ']).next().map(str::to_owned))
            {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("gateway exited with {status}: {:#?}", log.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "gateway did not start: {:#?}", log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, base, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; returns how long it took
    /// and its log.
    pub fn terminate(mut self, limit: Duration) -> (Duration, Vec<String>) {
        let started = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return (started.elapsed(), self.log_lines());
            }
            assert!(started.elapsed() < limit, "gateway still running {limit:?} after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The admin password the gateway generated and logged on first start.
    pub fn generated_password(&self) -> Option<String> {
        self.log_lines().iter().find_map(|l| {
            l.split("generated password ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        })
    }

    /// Sends SIGTERM and waits for a clean exit (pending log writes are flushed first).
    pub fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "gateway exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "gateway did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log_lines()
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(unused_imports)]
pub use client::{Admin, chat, temp_db};
