//! The real binary against hostile connections, under a lowered open-file limit (`prlimit
//! --nofile=256`): hundreds of idle connections and slow-loris clients do not keep normal
//! requests out, both are closed after the header timeout, an announced oversized body is refused
//! before it is sent, a body that never finishes gets 408, and when every connection is busy a
//! new one gets a clear 503.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Admin, GatewayProcess, temp_db};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A gateway with a model `m` on the mock and a key for it.
async fn gateway(
    env: &[(&str, &str)],
    nofile: Option<u32>,
) -> (GatewayProcess, String, tempfile::TempDir) {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (dir, db) = temp_db();
    let mut all = vec![("ADMIN_PASSWORD", "conn-pass-123")];
    all.extend_from_slice(env);
    let gw = match nofile {
        Some(n) => GatewayProcess::start_with_nofile(&db, n, &all),
        None => GatewayProcess::start(&db, &all),
    };
    let admin = Admin::login(&gw.base, "admin", "conn-pass-123").await;
    let provider =
        admin.provider(json!({"name": "m", "base_url": format!("http://{mock}/v1")})).await;
    for (name, upstream) in [("m", "mock-text"), ("slow", "mock-slow-2000")] {
        admin
            .post(
                "/api/admin/models",
                json!({"name": name, "provider_id": provider, "upstream_model": upstream}),
            )
            .await;
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "k"})).await;
    (gw, key["key"].as_str().unwrap().to_owned(), dir)
}

fn addr(gw: &GatewayProcess) -> String {
    gw.base.trim_start_matches("http://").to_owned()
}

/// Whether the server closed `tcp` (EOF or reset) within `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // an answer (e.g. 408) before the close
            Err(_) => return false,
        }
    }
}

async fn chat(base: &str, key: &str, model: &str) -> u16 {
    // A fresh client each time: a new connection, like a new caller.
    reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hello"}]}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_loris_connections_under_a_low_file_limit_keep_nobody_out() {
    let env = [("HEADER_TIMEOUT_SECS", "2"), ("BODY_TIMEOUT_SECS", "2")];
    let (gw, key, _dir) = gateway(&env, Some(256)).await;
    assert!(
        gw.log_lines().iter().any(|l| l.contains("max_connections=128")),
        "the cap follows the open-file limit: {:#?}",
        gw.log_lines()
    );
    let target = addr(&gw);
    // 300 idle connections — more than the process may even open files.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&target).await.unwrap());
    }
    // 20 slow-loris clients: a request line, then a header byte every 400 ms.
    let mut loris = Vec::new();
    for _ in 0..20 {
        let mut tcp = TcpStream::connect(&target).await.unwrap();
        tcp.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-A: ").await.unwrap();
        loris.push(tcp);
    }
    let trickle = tokio::spawn(async move {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            for tcp in &mut loris {
                let _ = tcp.write_all(b"a").await;
            }
        }
        loris
    });
    // Normal requests are served meanwhile.
    let statuses = futures::future::join_all((0..10).map(|_| chat(&gw.base, &key, "m"))).await;
    assert_eq!(statuses, vec![200; 10], "normal requests served");
    // The header timeout closes idle and slow-loris connections alike.
    let mut loris = trickle.await.unwrap();
    for tcp in loris.iter_mut().take(5) {
        assert!(
            closed_within(tcp, Duration::from_secs(4)).await,
            "a slow-loris connection stays open"
        );
    }
    let last = idle.last_mut().unwrap();
    assert!(closed_within(last, Duration::from_secs(4)).await, "an idle connection stays open");
    assert_eq!(chat(&gw.base, &key, "m").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_too_large_or_too_slow_are_refused_early_and_a_full_server_says_so() {
    let env = [("HEADER_TIMEOUT_SECS", "5"), ("BODY_TIMEOUT_SECS", "1"), ("MAX_CONNECTIONS", "4")];
    let (gw, key, _dir) = gateway(&env, None).await;
    let target = addr(&gw);
    // An announced Content-Length over the limit: 413 at once, nothing sent.
    let mut tcp = TcpStream::connect(&target).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let started = Instant::now();
    let n =
        tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut answer)).await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("request_too_large"), "{text}");
    // A body that stops arriving: 408 after the body timeout.
    let mut tcp = TcpStream::connect(&target).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let n =
        tokio::time::timeout(Duration::from_secs(4), tcp.read(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    // Four connections busy with slow requests: a fifth is told the server is full.
    let base = gw.base.clone();
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let (base, key) = (base.clone(), key.clone());
            tokio::spawn(async move { chat(&base, &key, "slow").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut tcp = TcpStream::connect(&target).await.unwrap();
    let n =
        tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 503") && text.contains("server_busy"), "{text}");
    for handle in busy {
        assert_eq!(handle.await.unwrap(), 200, "the busy requests finish");
    }
    assert_eq!(chat(&gw.base, &key, "m").await, 200, "and room is made again");
}
