//! The real Worker under `wrangler dev` (workerd, local D1) passes the black-box suite, once with
//! D1 and key limits in Durable Objects, once with Turso mode against the Hrana v3 test double and
//! key limits in the database; the scheduled tick is the Cron
//! Trigger fired through `/__scheduled`. `tools/workers/build.sh` builds the Worker (installing
//! worker-build, the wasm-bindgen CLI and wrangler the first time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use support::blackbox::{self, Host};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Builds the Worker once per test run.
fn build() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let status = Command::new("bash")
            .arg(root().join("tools/workers/build.sh"))
            .status()
            .expect("run build.sh");
        assert!(status.success(), "building the Worker failed");
    });
}

struct Wrangler {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Wrangler {
    fn drop(&mut self) {
        // wrangler starts workerd processes of its own: end the whole process group.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `wrangler dev` on the built Worker, with a config of its own (no build step, absolute paths).
fn wrangler(vars: &[(String, String)]) -> Wrangler {
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wrangler.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"llm-gateway-test\"\nmain = \"{main}\"\ncompatibility_date = \"2025-09-01\"\n\n\
             [assets]\ndirectory = \"{assets}\"\n\n[triggers]\ncrons = [\"*/30 * * * *\"]\n\n\
             [[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"llm-gateway\"\ndatabase_id = \"00000000-0000-0000-0000-000000000000\"\n\n\
             [[durable_objects.bindings]]\nname = \"KEY_LIMITS\"\nclass_name = \"KeyLimits\"\n\n\
             [[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"KeyLimits\"]\n",
            main = root.join("adapters/cloudflare/build/worker/shim.mjs").display(),
            assets = root.join("admin-ui").display(),
        ),
    )
    .unwrap();
    let port = free_port();
    let mut cmd = Command::new(root.join("tools/workers/node_modules/.bin/wrangler"));
    cmd.args(["dev", "--config"])
        .arg(&config)
        .args([
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--test-scheduled",
            "--persist-to",
        ])
        .arg(dir.path().join("state"))
        .env("WRANGLER_SEND_METRICS", "false")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        cmd.arg("--var").arg(format!("{k}:{v}"));
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("start wrangler dev");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if healthy(port) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "wrangler dev did not come up");
        std::thread::sleep(Duration::from_millis(250));
    }
    Wrangler { child, base, _dir: dir }
}

/// Whether `GET /healthz` answers 200 (plain HTTP/1.0: no blocking HTTP client needed).
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200")
}

const VARS: [(&str, &str); 3] = [
    ("ADMIN_PASSWORD", "suite-pass-1"),
    ("GATEWAY_ENV", "development"),
    ("TRUSTED_PROXIES", "127.0.0.1/32"),
];

async fn run_suite(name: &str, extra: &[(&str, &str)]) {
    let mock = blackbox::mock().await;
    let vars: Vec<(String, String)> =
        VARS.iter().chain(extra).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let worker = tokio::task::spawn_blocking(move || wrangler(&vars)).await.unwrap();
    let base = worker.base.clone();
    let tick_base = base.clone();
    blackbox::run(Host {
        serial: false,
        name,
        base,
        admin_password: "suite-pass-1",
        mock: format!("http://{mock}"),
        tick: Box::new(move || {
            let url = format!("{tick_base}/__scheduled?cron=*+*+*+*+*");
            Box::pin(async move {
                let r = reqwest::get(url).await.unwrap();
                assert!(r.status().is_success(), "scheduled tick: {}", r.status());
            })
        }),
    })
    .await;
    drop(worker);
}

// One test, the two storage modes in turn: two `wrangler dev` at once compete for the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_on_d1_and_on_turso_passes_the_black_box_suite() {
    tokio::task::spawn_blocking(build).await.unwrap();
    // D1 with key limits in Durable Objects; Turso with key limits in the database.
    run_suite("worker (D1, limits in Durable Objects)", &[("LIMITS_URL", "do://KEY_LIMITS")]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = hrana_test_server::spawn(dir.path().join("turso.db").to_str().unwrap(), Some("tok"))
        .await
        .unwrap();
    run_suite(
        "worker (Turso over Hrana)",
        &[("DATABASE_URL", url.as_str()), ("DATABASE_AUTH_TOKEN", "tok")],
    )
    .await;
}
