//! The real Lambda binary against the fake Runtime API, in streaming mode, passes the same black-box
//! suite as the standalone server; its schedule mode runs the periodic jobs on an EventBridge event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The server's test support that speaks only HTTP (no server binary involved).
#[path = "../../server/tests/support/blackbox.rs"]
mod blackbox;
#[path = "../../server/tests/support/client.rs"]
mod client;

mod fake_runtime;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blackbox::Host;
use fake_runtime::FakeRuntime;
use serde_json::json;

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_function(runtime: &FakeRuntime, db: &std::path::Path, mode: Option<&str>) -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llm-gateway-lambda"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "llm-gateway")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("DATABASE_URL", db)
        .env("ADMIN_PASSWORD", "suite-pass-1")
        .env("TRUSTED_PROXIES", "127.0.0.1/32")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(mode) = mode {
        cmd.env("GATEWAY_LAMBDA_MODE", mode);
    }
    Function(cmd.spawn().expect("start the Lambda binary"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_function_in_streaming_mode_passes_the_black_box_suite() {
    let mock = blackbox::mock().await;
    let (_dir, db) = client::temp_db();
    let http = FakeRuntime::start().await;
    let schedule = Arc::new(FakeRuntime::start().await);
    let started = Instant::now();
    let _function = start_function(&http, &db, None);
    // Time to first response: the cold-start proxy.
    let mut first = None;
    while first.is_none() && started.elapsed() < Duration::from_secs(30) {
        first =
            reqwest::get(format!("{}/healthz", http.url)).await.ok().filter(|r| r.status() == 200);
    }
    assert!(first.is_some(), "no response from the Lambda function");
    println!("lambda: first response {:?} after process start", started.elapsed());
    let _scheduler = start_function(&schedule, &db, Some("schedule"));
    let tick_runtime = schedule.clone();
    blackbox::run(Host {
        serial: true,
        name: "lambda (streaming)",
        base: http.url.clone(),
        admin_password: "suite-pass-1",
        mock: format!("http://{mock}"),
        tick: Box::new(move || {
            let runtime = tick_runtime.clone();
            Box::pin(async move {
                let event = json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
                    "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
                let answer = runtime.invoke(event).await.unwrap();
                assert_eq!(answer, json!({"ok": true}));
            })
        }),
    })
    .await;
}
