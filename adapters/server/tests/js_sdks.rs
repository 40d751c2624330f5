//! The official TypeScript SDKs as their users run them (pinned in `tools/js-sdks`, installed
//! from npm on first run), against the real binary, to every upstream protocol:
//!
//! - the Anthropic SDK's `beta.messages.toolRunner`, streamed and threaded (its default:
//!   `anthropic-beta: message-threads-2026-08-12`, `thread: {type: "create"}` then `continue`
//!   turns carrying only the new messages). To an Anthropic upstream the thread is relayed (the
//!   mock keeps threads as the API does). Translated, a `continue` is answered
//!   `thread_not_found` without calling the upstream — the SDK sends the whole conversation
//!   again, and after a second loss stops threading — and the answer is right either way;
//! - the `@google/genai` chat, streamed with a tool call (its history keeps every streamed
//!   chunk's content and sends it back — a split model turn), to every upstream, and its
//!   `models.list` / `models.get` on API version v1 (its default).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

/// Upstream protocols and the mock's base path for each.
const PROTOCOLS: [(&str, &str); 5] = [
    ("anthropic_messages", "v1"),
    ("openai_chat", "v1"),
    ("openai_responses", "v1"),
    ("gemini", "v1beta"),
    ("bedrock_converse", ""),
];

/// `tools/js-sdks`, its pinned packages installed.
fn sdks() -> PathBuf {
    let marks =
        ["node_modules/@anthropic-ai/sdk/package.json", "node_modules/@google/genai/package.json"];
    support::npm_tool("js-sdks", &marks)
}

/// Runs `script` with the gateway's address, the key and the models; its JSON lines.
fn run(script: &str, base: &str, key: &str, models: &[String]) -> Vec<Value> {
    let out = Command::new("node")
        .arg(sdks().join(script))
        .env("BASE", base)
        .env("KEY", key)
        .env("MODELS", models.join(","))
        .env_remove("RECORD_DIR")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The gateway and mock, a provider per protocol with one model each on `upstream` (named
/// `<prefix>-<protocol>`), and a key.
async fn bench(
    prefix: &str,
    upstream: &str,
) -> (GatewayProcess, String, Vec<String>, tempfile::TempDir) {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "js-sdks-pass-1")]);
    let admin = Admin::login(&gw.base, "admin", "js-sdks-pass-1").await;
    let mut models = Vec::new();
    for (protocol, version) in PROTOCOLS {
        let mut provider = json!({"name": protocol, "protocol": protocol, "api_key": "mock-key",
            "base_url": format!("http://{mock}/{version}")});
        let mut upstream = upstream.to_owned();
        if protocol == "bedrock_converse" {
            use mock_upstream::bedrock::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
            provider["api_key"] = json!({"access_key_id": ACCESS_KEY_ID,
                "secret_access_key": SECRET_ACCESS_KEY, "region": REGION})
            .to_string()
            .into();
            upstream = format!("anthropic.{upstream}-v1:0");
        }
        let id = admin.provider(provider).await;
        let name = format!("{prefix}-{protocol}");
        let body = json!({"name": name, "provider_id": id, "upstream_model": upstream,
            "context_window": 200000, "max_output_tokens": 8192});
        let (status, model) = admin.post("/api/admin/models", body).await;
        assert_eq!(status, 201, "{model}");
        models.push(name);
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "sdks"})).await;
    (gw, key["key"].as_str().unwrap().to_owned(), models, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_sdks_threaded_tool_runner_works_on_every_upstream() {
    let (gw, key, models, _dir) = bench("runner", "mock-tool-once").await;
    let lines = run("anthropic-threads.mjs", &gw.base, &key, &models);
    for line in &lines {
        let model = line["model"].as_str().unwrap();
        assert!(line["error"].is_null(), "{model}: {line}");
        let requests = line["requests"].as_array().unwrap();
        let refused: f64 = requests
            .iter()
            .filter(|r| r["status"] == 404)
            .map(|r| r["ms"].as_f64().unwrap())
            .fold(0.0, |a, b| a + b);
        println!(
            "{model}: threaded {} requests in {} ms (refused continues {refused:.1} ms), \
             unthreaded {} ms",
            requests.len(),
            line["threadedMs"],
            line["unthreadedMs"]
        );
        let text = line["text"].as_str().unwrap();
        assert!(text.contains("Tool results: Sunny in Paris"), "{model}: {line}");
        let threads: Vec<(&str, u64)> = requests
            .iter()
            .map(|r| {
                (r["thread"]["type"].as_str().unwrap_or("none"), r["status"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(requests[0]["thread"]["type"], "create", "{model}: threaded by default");
        if model.ends_with("anthropic_messages") {
            // Relayed: the upstream keeps the thread; the second turn carries only its result.
            assert_eq!(threads, [("create", 200), ("continue", 200)], "{model}");
            let second = &requests[1];
            assert_eq!(
                (second["messages"].as_u64(), second["system"].as_bool()),
                (Some(1), Some(false))
            );
        } else {
            // Translated: the continue is refused as the API refuses a lost thread, the SDK
            // replays the whole conversation, and no request fails otherwise.
            assert_eq!(threads, [("create", 200), ("continue", 404), ("create", 200)], "{model}");
            assert_eq!(
                requests[2]["messages"].as_u64(),
                Some(3),
                "{model}: the whole conversation"
            );
        }
    }
    assert_eq!(lines.len(), models.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_google_genai_chat_tool_loop_and_model_list_work_on_every_upstream() {
    let (gw, key, models, _dir) = bench("chat", "mock-tool-once").await;
    let lines = run("genai-chat.mjs", &gw.base, &key, &models);
    let (list, chats) = lines.split_last().unwrap();
    for line in chats {
        let model = line["model"].as_str().unwrap();
        assert!(line["error"].is_null(), "{model}: {line}");
        assert_eq!(line["calls"], 1, "{model}: {line}");
        assert!(
            line["text"].as_str().unwrap().contains("Tool results: Sunny in Paris"),
            "{model}: {line}"
        );
        // The SDK kept both exchanges — a turn with a chunk that is not content is dropped, its
        // question with it — each streamed chunk an entry of its own.
        assert!(line["history"].as_u64().unwrap() >= 4, "{model}: {line}");
        let statuses: Vec<u64> = line["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, [200, 200], "{model}: {line}");
    }
    // Listed and fetched on API version v1, in Google's shape.
    let names: Vec<&str> =
        list["list"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for model in &models {
        assert!(names.contains(&format!("models/{model}").as_str()), "{list}");
    }
    assert_eq!(list["get"], format!("models/{}", models[0]), "{list}");
    assert_eq!(list["limits"][0], 200000, "{list}");
}
