//! The official OpenAI, Anthropic and Google Gen AI Python SDKs against the real gateway binary and the mock
//! upstream speaking all four protocols, and as Gemini and Claude on Vertex AI (service-account
//! token exchange verified by the mock): every inbound endpoint × upstream × stream or not
//! × scenario, and embeddings to the OpenAI and Gemini upstreams (see `tests/sdk/conformance.py`). The SDKs are installed, pinned, into a virtualenv
//! under `target/` on first run (PyPI must be reachable then).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use support::{Admin, GatewayProcess, temp_db};

/// The official SDKs, and botocore: AWS's reference SigV4 signer, which re-signs a request the
/// gateway signed.
const SDKS: [&str; 4] =
    ["openai==3.57.0", "anthropic==2.14.0", "google-genai==3.6.1", "botocore==1.44.8"];

/// A Python with the pinned SDKs, created once for the tests of this file (which run at once).
fn sdk_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_sdk_python).clone()
}

/// A Python with the pinned SDKs, creating the virtualenv when it is missing or stale.
fn make_sdk_python() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let venv = target.join("sdk-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("sdks.txt");
    let wanted = SDKS.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let status =
        Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 -m venv");
    assert!(status.success(), "could not create {}", venv.display());
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(SDKS)
        .status()
        .expect("pip install");
    assert!(status.success(), "pip install {SDKS:?} failed");
    std::fs::write(&stamp, wanted).unwrap();
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_parse_every_endpoint_upstream_and_stream_combination() {
    let python = tokio::task::spawn_blocking(sdk_python).await.unwrap();
    let (mock_addr, mock) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "sdk-suite-pass")]);
    let admin = Admin::login(&gw.base, "admin", "sdk-suite-pass").await;

    // The four protocols' reference APIs, then Gemini and Claude on Vertex AI (a service account
    // whose RS256 assertion the mock's token endpoint verifies, tokens the mock's Vertex routes
    // check, Claude by `rawPredict`).
    let account =
        mock_upstream::cloud::service_account(&format!("http://{mock_addr}/google/token"));
    let vertex =
        format!("http://{mock_addr}/v1/projects/mock-project/locations/us-east5/publishers");
    let aws = json!({"access_key_id": mock_upstream::bedrock::TEMPORARY_ACCESS_KEY_ID,
        "secret_access_key": mock_upstream::bedrock::SECRET_ACCESS_KEY,
        "session_token": mock_upstream::bedrock::SESSION_TOKEN,
        "region": mock_upstream::bedrock::REGION})
    .to_string();
    let providers = [
        ("openai_chat", "openai_chat", "mock-key".to_owned(), format!("http://{mock_addr}/v1")),
        (
            "openai_responses",
            "openai_responses",
            "mock-key".into(),
            format!("http://{mock_addr}/v1"),
        ),
        (
            "anthropic_messages",
            "anthropic_messages",
            "mock-key".into(),
            format!("http://{mock_addr}/v1"),
        ),
        ("gemini", "gemini", "mock-key".into(), format!("http://{mock_addr}/v1beta")),
        ("vertex_gemini", "gemini", account.clone(), format!("{vertex}/google")),
        ("vertex_anthropic", "anthropic_messages", account, format!("{vertex}/anthropic")),
        // Bedrock's Converse behind SigV4 (the mock recomputes every signature), with temporary
        // credentials (a session token); model ids with a version suffix (`…-v1:0`).
        ("bedrock", "bedrock_converse", aws.clone(), format!("http://{mock_addr}")),
    ];
    for (name, protocol, credential, base_url) in providers {
        let auth = match name {
            "vertex_gemini" | "vertex_anthropic" => "google_service_account",
            "bedrock" => "aws_sigv4",
            _ => "",
        };
        let mut body = json!({"name": name, "protocol": protocol, "api_key": credential,
                              "base_url": base_url});
        if !auth.is_empty() {
            body["auth_scheme"] = json!(auth);
        }
        let (status, provider) = admin.post("/api/admin/providers", body).await;
        assert_eq!(status, 201, "{provider}");
        let embeds = matches!(name, "openai_chat" | "gemini");
        let scenarios = ["text", "tool", "parallel", "error", "embed"];
        for scenario in scenarios.into_iter().filter(|s| embeds || *s != "embed") {
            let upstream_model = if scenario == "error" {
                "mock-error-429".to_owned()
            } else {
                format!("mock-{scenario}")
            };
            // Bedrock's model ids: `provider.model-version:n` (reasoning is Claude's field).
            let upstream_model = match name {
                "bedrock" => format!("anthropic.{upstream_model}-v1:0"),
                _ => upstream_model,
            };
            let (status, model) = admin
                .post(
                    "/api/admin/models",
                    json!({"name": format!("{name}-{scenario}"), "provider_id": provider["id"],
                           "upstream_model": upstream_model}),
                )
                .await;
            assert_eq!(status, 201, "{model}");
        }
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "sdk"})).await;
    let (_, cached) =
        admin.post("/api/admin/keys", json!({"name": "cached", "cache": {"sampled": true}})).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/conformance.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("GATEWAY_URL", &gw.base)
            .env("GATEWAY_KEY", key["key"].as_str().unwrap())
            .env("GATEWAY_CACHED_KEY", cached["key"].as_str().unwrap())
            .env("MOCK_URL", format!("http://{mock_addr}"))
            .env("ONLY", std::env::var("ONLY").unwrap_or_default())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "SDK conformance failures:\n{stdout}");
    // The last Bedrock request (streamed) re-signed by botocore with the same credentials and
    // time: the same Authorization header.
    let signed = mock.signed.lock().unwrap().clone().expect("a signed Bedrock request");
    let header = |name: &str| {
        signed.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let input = json!({
        "method": signed.method, "url": format!("http://{}{}", header("host"), signed.uri),
        "body": signed.body, "content_type": header("content-type"), "date": header("x-amz-date"),
        "key": mock_upstream::bedrock::TEMPORARY_ACCESS_KEY_ID,
        "secret": mock_upstream::bedrock::SECRET_ACCESS_KEY,
        "token": mock_upstream::bedrock::SESSION_TOKEN, "region": mock_upstream::bedrock::REGION,
    });
    let botocore = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/botocore_sign.py");
    let python = sdk_python();
    let output = Command::new(python).arg(botocore).arg(input.to_string()).output().unwrap();
    let reference = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        signed.uri.contains("%3A0/converse"),
        "the model id's colon is encoded: {}",
        signed.uri
    );
    assert_eq!(header("authorization"), reference, "the gateway's SigV4 against botocore's");

    // Every Vertex AI request (both providers share one service account, each its own token)
    // went with a token from one exchange per provider.
    let exchanges = mock.issued.google_exchanges.load(std::sync::atomic::Ordering::Relaxed);
    assert!(std::env::var("ONLY").is_ok() || exchanges == 2, "{exchanges} token exchanges");
    assert!(stdout.contains("396/396 cases") || std::env::var("ONLY").is_ok(), "{stdout}");
}

/// The openai SDK's calls of the relayed OpenAI endpoints (completions, images, audio,
/// moderations; rerank over HTTP), each through a key, routing and the log: answers as the mock
/// gave them, and each log row's cost from the model's token or unit prices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_sdk_calls_every_relayed_endpoint() {
    let python = tokio::task::spawn_blocking(sdk_python).await.unwrap();
    let (mock_addr, _mock) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "sdk-suite-pass")]);
    let admin = Admin::login(&gw.base, "admin", "sdk-suite-pass").await;
    let provider = admin
        .provider(json!({"name": "openai", "api_key": "mock-key", "base_url": format!("http://{mock_addr}/v1")}))
        .await;
    // Anthropic has none of these endpoints: a model served only there is refused.
    let anthropic = admin
        .provider(json!({"name": "anthropic", "protocol": "anthropic_messages", "api_key": "k",
                         "base_url": format!("http://{mock_addr}/v1")}))
        .await;
    let models = [
        ("text", json!({"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6})),
        ("image", json!({"unit_prices": {"per_image": 0.04}})),
        ("tts", json!({"unit_prices": {"per_character": 1.5e-5}})),
        ("whisper", json!({"unit_prices": {"per_second": 1e-4}})),
        ("moderation", json!({})),
        ("rerank", json!({"unit_prices": {"per_query": 0.002}})),
    ];
    for (name, extra) in &models {
        let mut body = json!({"name": name, "provider_id": provider, "upstream_model": format!("mock-{name}")});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, model) = admin.post("/api/admin/models", body).await;
        assert_eq!(status, 201, "{model}");
    }
    let (status, _) = admin
        .post("/api/admin/models", json!({"name": "claude-only", "provider_id": anthropic}))
        .await;
    assert_eq!(status, 201);
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "sdk"})).await;
    let key = key["key"].as_str().unwrap().to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/openai_endpoints.py");
    let (base, k) = (gw.base.clone(), key.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("GATEWAY_URL", base)
            .env("GATEWAY_KEY", k)
            .env("PNG_B64", mock_upstream::endpoints::PNG_B64)
            .env("TRANSCRIPT", mock_upstream::endpoints::TRANSCRIPT)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && stdout.contains("all relayed endpoints pass"), "{stdout}");

    // The upstream got its own model ids (in JSON and in the multipart forms).
    for (path, model) in [
        ("/v1/completions", "mock-text"),
        ("/v1/images/edits", "mock-image"),
        ("/v1/audio/transcriptions", "mock-whisper"),
        ("/v1/rerank", "mock-rerank"),
    ] {
        assert_eq!(_mock.last(path).unwrap()["model"], model, "{path}");
    }
    // Each log row's cost: tokens at token prices, images, characters, seconds and queries at
    // unit prices.
    let (_, logs) = admin.get("/api/admin/logs?page_size=100").await;
    let rows = logs["data"].as_array().unwrap();
    let costs = |endpoint: &str| -> Vec<Option<f64>> {
        let mut c: Vec<Option<f64>> = rows
            .iter()
            .filter(|r| r["endpoint"] == endpoint && r["status"] == 200)
            .map(|r| r["cost_usd"].as_f64())
            .collect();
        c.sort_by(|a, b| a.partial_cmp(b).unwrap());
        c
    };
    let near = |got: &[Option<f64>], want: &[Option<f64>]| {
        got.len() == want.len()
            && got.iter().zip(want).all(|(g, w)| match (g, w) {
                (Some(g), Some(w)) => (g - w).abs() < 1e-9,
                (g, w) => g.is_none() && w.is_none() || g == &Some(0.0) && w.is_none(),
            })
    };
    let checks: [(&str, Vec<Option<f64>>); 6] = [
        ("/v1/completions", vec![Some(3.9e-5), Some(3.9e-5)]),
        ("/v1/images/generations", vec![Some(0.08)]),
        ("/v1/images/edits", vec![Some(0.04)]),
        ("/v1/audio/speech", vec![Some(1.65e-4)]),
        ("/v1/audio/transcriptions", vec![None, Some(2e-4), Some(2e-4)]),
        ("/v1/rerank", vec![Some(0.002)]),
    ];
    for (endpoint, want) in checks {
        let got = costs(endpoint);
        assert!(near(&got, &want), "{endpoint}: costs {got:?}, expected {want:?}");
    }
    let tokens = rows.iter().find(|r| r["endpoint"] == "/v1/completions").unwrap();
    assert_eq!(
        (tokens["input_tokens"].as_i64(), tokens["output_tokens"].as_i64()),
        (Some(21), Some(9))
    );

    // A model no OpenAI-compatible provider serves, a form without its file, no model at all.
    let client = reqwest::Client::new();
    let refused = client
        .post(gw.url("/v1/moderations"))
        .bearer_auth(&key)
        .json(&json!({"model": "claude-only", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(text.contains("no OpenAI-compatible provider"), "{text}");
    let form =
        "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n--XyZ--\r\n";
    let refused = client
        .post(gw.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(text.contains("`file` (a file) is required"), "{text}");
    let refused = client
        .post(gw.url("/v1/images/generations"))
        .bearer_auth(&key)
        .json(&json!({"prompt": "a cat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("`model` is required"));
}
