//! The admin UI in a real headless chromium (Debian's, driven by playwright-core) against the real
//! server binary and the mock upstream: log in, a provider from a preset, connectivity test, upstream
//! models added in bulk, catalog search and apply (fixture lists on 127.0.0.1), a key shown once, a
//! virtual model with two targets and a prompt rule, traffic, logs, dashboard, health monitoring,
//! Chinese, a phone-sized screen, `/status`, and the same files served alone from another origin
//! (CORS). Then everything the browser did is checked again through the admin API. Screenshots of
//! every page: `target/test-artifacts/admin-ui/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

const PASSWORD: &str = "browser-admin-pass";

/// `python3 -m http.server` serving `admin-ui/` on 127.0.0.1 (a plain static host: no gateway
/// headers, another origin); killed on drop.
struct StaticHost {
    child: Child,
    url: String,
}

impl StaticHost {
    fn start() -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../admin-ui");
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line.split(" port ").nth(1).and_then(|s| s.split(' ').next()).unwrap();
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for StaticHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_the_gateway_in_a_real_browser() {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let mock = format!("http://{mock}");
    let static_host = StaticHost::start();
    let (_dir, db) = temp_db();
    let litellm = format!("{mock}/catalog/litellm.json");
    let models_dev = format!("{mock}/catalog/models-dev.json");
    let gw = GatewayProcess::start(
        &db,
        &[
            ("ADMIN_PASSWORD", PASSWORD),
            ("CATALOG_URL", &litellm),
            ("CATALOG_MODELS_DEV_URL", &models_dev),
            ("ADMIN_CORS_ORIGINS", &static_host.url),
        ],
    );
    let shots = support::browser::artifacts("admin-ui");
    let output = support::browser::node(
        "admin-ui.mjs",
        vec![
            gw.base.clone(),
            mock.clone(),
            PASSWORD.into(),
            shots.display().to_string(),
            static_host.url.clone(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser run failed:\n{stderr}");
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).lines().last().unwrap())
            .unwrap();
    let steps = summary["steps"].as_array().unwrap();
    assert!(steps.len() >= 17 && steps.last().unwrap() == "log out", "{summary}");
    assert!(steps.iter().any(|s| s == "deployed alone"), "{summary}");

    // What the browser did, seen through the admin API.
    let admin = Admin::login(&gw.base, "admin", PASSWORD).await;
    let (_, providers) = admin.get("/api/admin/providers").await;
    let provider = by_name(&providers, "Mock vLLM");
    assert_eq!(provider["base_url"], format!("{mock}/v1"));
    assert_eq!(provider["has_credentials"], true);
    let (_, models) = admin.get("/api/admin/models").await;
    let names: Vec<_> = models["data"].as_array().unwrap().iter().map(|m| &m["name"]).collect();
    assert_eq!(names.len(), 3, "3 from the provider + 1 from a file - 1 deleted: {names:?}");
    assert!(!names.contains(&&Value::from("mock-parallel")), "deleted in the UI: {names:?}");
    assert_eq!(by_name(&models, "imported-model")["context_window"], 32_000);
    let edited = by_name(&models, "mock-tool");
    assert_eq!(edited["input_cost_per_token"], 1.5e-6, "edited in the UI per million: {edited}");
    assert_eq!(edited["output_cost_per_token"], 6e-6, "{edited}");
    let applied = by_name(&models, "mock-text");
    assert_eq!(applied["context_window"], 128_000, "catalog applied: {applied}");
    assert_eq!(applied["input_cost_per_token"], 2.5e-6, "{applied}");
    assert_eq!(applied["upstream_model"], "mock-text", "apply keeps the upstream id");

    let key = summary["key"].as_str().unwrap();
    let (_, keys) = admin.get("/api/admin/keys").await;
    let stored = by_name(&keys, "browser-app");
    assert_eq!(stored["rpm_limit"], 1000);
    assert_eq!(stored["cache"], json!({"ttl_s": 600, "max_bytes": 1_048_576, "sampled": true}));
    assert!(key.starts_with(stored["key_prefix"].as_str().unwrap()), "{stored}");
    assert!(!keys.to_string().contains(key), "lists never carry the key");
    // The key read from the page is the real one.
    let reply = support::chat(&gw.base, key, "smart", false).await;
    assert_eq!(reply.status(), 200);

    let (_, vms) = admin.get("/api/admin/virtual-models").await;
    let smart = by_name(&vms, "smart");
    assert_eq!(smart["strategy"], "priority");
    assert_eq!(smart["targets"].as_array().unwrap().len(), 2, "{smart}");
    assert_eq!(smart["rules"][0]["op"], "system_prepend", "{smart}");
    assert_eq!(smart["rules"][0]["template"], "Answer briefly, {{key_name}}.");
    assert_eq!(smart["cache"]["ttl_s"], 900, "{smart}");

    let (_, settings) = admin.get("/api/admin/settings").await;
    assert_eq!(settings["monitoring_enabled"], true);
    let (_, targets) = admin.get("/api/admin/health-targets").await;
    assert_eq!(by_name(&targets, "text-probe")["target_id"], "mock-text");

    // A screenshot of every page.
    let taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(taken >= 19, "{taken} screenshots in {}", shots.display());
}

/// Every string the UI passes to `t('…')` has a Chinese translation (a missing one would show
/// English in the Chinese UI). Labels kept in tables and passed as `t(label)` are listed in
/// `zh-CN.js` too; the browser run's Chinese screenshots show them.
#[test]
fn every_literal_ui_string_has_a_chinese_translation() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../admin-ui/js");
    let zh = std::fs::read_to_string(root.join("zh-CN.js")).unwrap();
    let mut files = vec![root.clone(), root.join("pages")]
        .into_iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .collect::<Vec<_>>();
    files.sort();
    let (mut seen, mut missing) = (0, Vec::new());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let calls = text.match_indices("t('").chain(text.match_indices("t(\""));
        for (at, call) in calls {
            if text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // e.g. `set('…')`
            }
            let quote = call.chars().last().unwrap();
            let (mut literal, mut chars) = (String::new(), text[at + 3..].chars());
            while let Some(c) = chars.next() {
                match c {
                    '\\' => literal.extend(chars.next()),
                    c if c == quote => break,
                    c => literal.push(c),
                }
            }
            seen += 1;
            let single = format!("'{}'", literal.replace('\'', "\\'"));
            let double = format!("\"{literal}\"");
            if !zh.contains(&format!("{single}:")) && !zh.contains(&format!("{double}:")) {
                missing.push(format!("{}: {literal}", file.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(seen > 200, "found only {seen} strings");
    assert!(missing.is_empty(), "strings without a zh-CN translation:\n{}", missing.join("\n"));
}
