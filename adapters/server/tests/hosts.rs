//! The black-box suite (`support/blackbox.rs`) against the standalone server on a local libSQL
//! file; the same suite runs against the Lambda host in `adapters/lambda/tests`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::blackbox::{self, Host};
use support::{GatewayProcess, temp_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_server_on_a_local_file_passes_the_black_box_suite() {
    let mock = blackbox::mock().await;
    let (_dir, db) = temp_db();
    // The in-process timer is the server's scheduler: every second here.
    let gw = GatewayProcess::start(
        &db,
        &[
            ("ADMIN_PASSWORD", "suite-pass-1"),
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
            ("MAINTENANCE_INTERVAL_SECS", "1"),
            ("HEALTH_TICK_SECS", "1"),
        ],
    );
    blackbox::run(Host {
        serial: false,
        name: "server (local file)",
        base: gw.base.clone(),
        admin_password: "suite-pass-1",
        mock: format!("http://{mock}"),
        tick: Box::new(|| Box::pin(tokio::time::sleep(std::time::Duration::from_millis(1_100)))),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_server_on_remote_libsql_passes_the_black_box_suite() {
    let mock = blackbox::mock().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("turso.db");
    // Turso's protocol, served by the project's Hrana v3 test double over a local file.
    let url = hrana_test_server::spawn(file.to_str().unwrap(), Some("secret-token")).await.unwrap();
    let gw = GatewayProcess::start_with_url(
        &url,
        &[
            ("ADMIN_PASSWORD", "suite-pass-1"),
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
            ("MAINTENANCE_INTERVAL_SECS", "1"),
            ("HEALTH_TICK_SECS", "1"),
            ("DATABASE_AUTH_TOKEN", "secret-token"),
        ],
    );
    let base = gw.base.clone();
    let suite = tokio::spawn(async move {
        blackbox::run(Host {
            serial: false,
            name: "server (remote libSQL)",
            base,
            admin_password: "suite-pass-1",
            mock: format!("http://{mock}"),
            tick: Box::new(|| {
                Box::pin(tokio::time::sleep(std::time::Duration::from_millis(1_100)))
            }),
        })
        .await;
    });
    if let Err(e) = suite.await {
        panic!("{e}\ngateway log:\n{}", gw.log_lines().join("\n"));
    }
    assert!(std::fs::metadata(&file).unwrap().len() > 0, "the data went to the remote database");
}
