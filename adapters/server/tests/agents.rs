//! The coding agents people put behind a gateway, run for real: Claude Code, the Codex CLI and the
//! Gemini CLI (pinned in `tools/agents`, installed from npm on first run), headless, against the
//! real `llm-gateway` binary, once per upstream protocol (OpenAI chat, OpenAI Responses, Anthropic
//! Messages, Gemini, Bedrock Converse behind SigV4). Each completes a text turn and a two-step tool loop that the mock upstream
//! scripts (`mock_upstream::agent`): the model calls the agent's own file tool, the agent runs it,
//! the result comes back linked to its call, the model calls again (Codex with a model it knows:
//! its `custom` `apply_patch` tool, which writes a file), and answers with both results.
//!
//! The mock refuses what the real APIs refuse — beta fields without their `anthropic-beta`,
//! repeated tool-call ids, `max_tokens` on reasoning models, output limits above the model's
//! maximum, unknown tool types — so each route passes only when the gateway fits the agent's
//! request to the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

const PROTOCOLS: [(&str, &str); 5] = [
    ("openai_chat", "v1"),
    ("openai_responses", "v1"),
    ("anthropic_messages", "v1"),
    ("gemini", "v1beta"),
    // Bedrock's Converse behind SigV4, as a Claude Code fleet on AWS reaches its models.
    ("bedrock_converse", ""),
];

/// How long one agent run may take before it is killed (and the test fails).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `tools/agents/node_modules/.bin/<name>`, installing the pinned CLIs once per test process.
fn agent_bin(name: &str) -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    let dir = INSTALLED.get_or_init(|| {
        let bins = ["claude", "codex", "gemini"].map(|b| format!("node_modules/.bin/{b}"));
        support::npm_tool("agents", &bins.each_ref().map(String::as_str))
    });
    dir.join("node_modules/.bin").join(name)
}

/// The gateway, the mock upstream behind it, a provider per protocol and a key for every model.
struct Bench {
    gw: GatewayProcess,
    admin: Admin,
    key: String,
    /// Provider ids by protocol.
    providers: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

/// The upstream model every agent route uses: the agent scenario, with the output limit a real
/// model would have; on OpenAI chat a reasoning model (no `max_tokens`).
fn upstream_model(protocol: &str) -> &'static str {
    match protocol {
        "openai_chat" => "mock-agent-reasoning-max-8192",
        "bedrock_converse" => "anthropic.mock-agent-max-8192-v1:0",
        _ => "mock-agent-max-8192",
    }
}

impl Bench {
    async fn start() -> Bench {
        let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
        let (dir, db) = temp_db();
        let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "agents-pass-123")]);
        let admin = Admin::login(&gw.base, "admin", "agents-pass-123").await;
        let mut providers = Vec::new();
        for (protocol, version) in PROTOCOLS {
            // The OpenAI chat provider is configured as the OpenAI preset configures it.
            let quirks = if protocol == "openai_chat" {
                json!({"max_tokens_field": "max_completion_tokens"})
            } else {
                json!({})
            };
            let mut provider = json!({"name": protocol, "protocol": protocol, "api_key": "mock-key",
                "base_url": format!("http://{mock}/{version}"), "quirks": quirks});
            if protocol == "bedrock_converse" {
                use mock_upstream::bedrock::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
                provider["api_key"] = json!({"access_key_id": ACCESS_KEY_ID,
                    "secret_access_key": SECRET_ACCESS_KEY, "region": REGION})
                .to_string()
                .into();
            }
            let id = admin.provider(provider).await;
            let (status, model) = admin
                .post(
                    "/api/admin/models",
                    json!({"name": format!("agent-{protocol}"), "provider_id": id,
                        "upstream_model": upstream_model(protocol), "max_output_tokens": 8192}),
                )
                .await;
            assert_eq!(status, 201, "{model}");
            providers.push((protocol.to_owned(), id));
        }
        let (_, key) = admin.post("/api/admin/keys", json!({"name": "agents"})).await;
        let key = key["key"].as_str().unwrap().to_owned();
        Bench { gw, admin, key, providers, _dir: dir }
    }

    /// Creates model `name` on `protocol`'s provider, or moves it there.
    async fn point(&self, name: &str, protocol: &str) {
        let provider = &self.providers.iter().find(|(p, _)| p == protocol).unwrap().1;
        let body = json!({"name": name, "provider_id": provider,
            "upstream_model": upstream_model(protocol), "max_output_tokens": 8192});
        let (_, models) = self.admin.get("/api/admin/models").await;
        let existing = models["data"].as_array().unwrap().iter().find(|m| m["name"] == name);
        let (status, answer) = match existing {
            Some(m) => {
                let path = format!("/api/admin/models/{}", m["id"].as_str().unwrap());
                self.admin.call(reqwest::Method::PUT, &path, Some(body)).await
            }
            None => self.admin.post("/api/admin/models", body).await,
        };
        assert!(status < 300, "{answer}");
    }

    /// Every request-log row so far; none may have failed.
    async fn assert_all_logged_ok(&self, expected_at_least: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, logs) = self.admin.get("/api/admin/logs?page_size=100").await;
            let rows = logs["data"].as_array().unwrap().clone();
            if rows.len() >= expected_at_least || Instant::now() > deadline {
                let failed: Vec<&Value> = rows.iter().filter(|r| r["status"] != 200).collect();
                assert!(failed.is_empty(), "failed requests: {failed:#?}");
                assert!(rows.len() >= expected_at_least, "{} rows: {rows:#?}", rows.len());
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A working directory holding `agent-note-<tag>.txt` with a secret; the prompt that names it.
struct Workspace {
    dir: tempfile::TempDir,
    secret: String,
}

impl Workspace {
    fn new(tag: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let secret = format!("secret-{tag}-{}", std::process::id());
        std::fs::write(dir.path().join(format!("agent-note-{tag}.txt")), format!("{secret}\n"))
            .unwrap();
        Command::new("git").args(["init", "-q"]).current_dir(dir.path()).status().unwrap();
        Workspace { dir, secret }
    }

    fn tool_prompt(&self, tag: &str) -> String {
        let path = self.dir.path().join(format!("agent-note-{tag}.txt"));
        format!("Read the file {} and tell me what it says", path.display())
    }
}

/// Runs an agent to completion (killed after [`RUN_LIMIT`]) and returns its stdout; fails the
/// test with everything it printed when it exits unsuccessfully.
async fn run(mut cmd: Command, what: &str) -> String {
    let what = what.to_owned();
    tokio::task::spawn_blocking(move || {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + RUN_LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
        match status {
            Some(s) if s.success() => stdout,
            other => panic!("{what}: {other:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
        }
    })
    .await
    .unwrap()
}

fn assert_tool_loop(out: &str, secret: &str, what: &str) {
    let done = out.find("Agent done. Tool results:").unwrap_or_else(|| panic!("{what}: {out}"));
    assert_eq!(out[done..].matches(secret).count(), 2, "{what}: both results come back: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_completes_a_text_turn_and_a_tool_loop_on_every_upstream_protocol() {
    let claude = agent_bin("claude");
    let bench = Bench::start().await;
    let home = tempfile::tempdir().unwrap();
    let work = Workspace::new("cc");
    let agent = |model: &str, prompt: &str, tools: &[&str]| {
        let mut cmd = Command::new(&claude);
        cmd.args(["-p", prompt, "--model", model])
            .args(tools.iter().flat_map(|t| ["--allowedTools", t]))
            .current_dir(work.dir.path())
            .env("HOME", home.path())
            .env("ANTHROPIC_BASE_URL", &bench.gw.base)
            .env("ANTHROPIC_API_KEY", &bench.key)
            .env("DISABLE_TELEMETRY", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1");
        cmd
    };
    for (protocol, _) in PROTOCOLS {
        let model = format!("agent-{protocol}");
        let what = format!("claude → {protocol}");
        let out = run(agent(&model, "Say hello", &[]), &what).await;
        assert!(
            out.contains("Hello from the mock agent") && out.contains("Say hello"),
            "{what}: {out}"
        );
        let out = run(agent(&model, &work.tool_prompt("cc"), &["Read"]), &what).await;
        assert_tool_loop(&out, &work.secret, &what);
    }
    // Two turns per protocol, the tool loop three requests: at least 16 rows, all answered.
    bench.assert_all_logged_ok(16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_completes_a_text_turn_and_a_tool_loop_on_every_upstream_protocol() {
    let codex = agent_bin("codex");
    let bench = Bench::start().await;
    let home = tempfile::tempdir().unwrap();
    let work = Workspace::new("cx");
    let agent = |model: &str, prompt: &str| {
        let mut cmd = Command::new(&codex);
        cmd.args(["exec", "--skip-git-repo-check", "-s", "workspace-write"])
            .args(["-c", "model_providers.gw.name=gw"])
            .args(["-c", &format!("model_providers.gw.base_url={}/v1", bench.gw.base)])
            .args(["-c", "model_providers.gw.env_key=GW_KEY"])
            .args(["-c", "model_providers.gw.wire_api=responses"])
            .args(["-c", "model_provider=gw"])
            .args(["-c", "model_providers.gw.request_max_retries=0"])
            .args(["-c", "model_providers.gw.stream_max_retries=0"])
            .args(["-m", model, prompt])
            .current_dir(work.dir.path())
            .env("CODEX_HOME", home.path())
            .env("GW_KEY", &bench.key);
        cmd
    };
    let patched = work.dir.path().join("agent-patch.txt");
    for (protocol, _) in PROTOCOLS {
        // A model Codex does not know: it sends `namespace` and `web_search` tools.
        let model = format!("agent-{protocol}");
        let what = format!("codex ({model}) → {protocol}");
        let out = run(agent(&model, "Say hello"), &what).await;
        assert!(
            out.contains("Hello from the mock agent") && out.contains("Say hello"),
            "{what}: {out}"
        );
        let out = run(agent(&model, &work.tool_prompt("cx")), &what).await;
        assert_tool_loop(&out, &work.secret, &what);
        // A model it knows: `custom` apply_patch (freeform input), `tool_search`, `web_search`.
        bench.point("gpt-5.5", protocol).await;
        let what = format!("codex (gpt-5.5) → {protocol}");
        let _ = std::fs::remove_file(&patched);
        let out = run(agent("gpt-5.5", &work.tool_prompt("cx")), &what).await;
        assert!(out.contains("Agent done. Tool results:"), "{what}: {out}");
        let written = std::fs::read_to_string(&patched).unwrap_or_default();
        assert_eq!(written.trim(), mock_upstream::agent::PATCH_LINE, "{what}: {out}");
    }
    bench.assert_all_logged_ok(28).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_completes_a_text_turn_and_a_tool_loop_on_every_upstream_protocol() {
    let gemini = agent_bin("gemini");
    let bench = Bench::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".gemini")).unwrap();
    std::fs::write(
        home.path().join(".gemini/settings.json"),
        r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#,
    )
    .unwrap();
    let work = Workspace::new("gm");
    let agent = |model: &str, prompt: &str| {
        let mut cmd = Command::new(&gemini);
        cmd.args(["-p", prompt, "-m", model])
            .current_dir(work.dir.path())
            .env("HOME", home.path())
            .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
            .env("GEMINI_API_KEY", &bench.key)
            .env("GOOGLE_GEMINI_BASE_URL", &bench.gw.base);
        cmd
    };
    for (protocol, _) in PROTOCOLS {
        let model = format!("agent-{protocol}");
        let what = format!("gemini → {protocol}");
        let out = run(agent(&model, "Say hello"), &what).await;
        assert!(
            out.contains("Hello from the mock agent") && out.contains("Say hello"),
            "{what}: {out}"
        );
        let out = run(agent(&model, &work.tool_prompt("gm")), &what).await;
        assert_tool_loop(&out, &work.secret, &what);
    }
    bench.assert_all_logged_ok(16).await;
}

/// A request recorded from an agent (`gateway-core/tests/fixtures/agents/`), with its headers.
fn recorded(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../gateway-core/tests/fixtures/agents")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Replays the recorded requests of all three agents (their third request: a conversation with
/// two tool calls and their results) with their own headers and paths, to every upstream
/// protocol: each is accepted by the strict mock and answered in the agent's protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_agent_requests_pass_every_upstream_protocol() {
    let bench = Bench::start().await;
    let http = reqwest::Client::new();
    for fixture in ["claude-code", "codex-namespace", "codex-custom", "gemini-cli"] {
        let recorded = recorded(fixture);
        for (protocol, _) in PROTOCOLS {
            let model = format!("agent-{protocol}");
            let mut body = recorded["body"].clone();
            let mut path = recorded["path"].as_str().unwrap().to_owned();
            if fixture == "gemini-cli" {
                path = path.replace("agent-gemini", &model);
            } else {
                body["model"] = model.clone().into();
            }
            let mut request = http.post(format!("{}{path}", bench.gw.base));
            for (name, value) in recorded["headers"].as_object().unwrap() {
                let value = value.as_str().unwrap();
                let value = if value.contains("sk-gw-REDACTED") {
                    value.replace("sk-gw-REDACTED", &bench.key)
                } else {
                    value.to_owned()
                };
                request = request.header(name.as_str(), value);
            }
            let response = request.body(body.to_string()).send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            let what = format!("{fixture} → {protocol}");
            assert_eq!(status, 200, "{what}: {text}");
            let answer = streamed_text(&text);
            assert!(answer.starts_with("Agent done. Tool results:"), "{what}: {answer}\n{text}");
        }
    }
    bench.assert_all_logged_ok(16).await;
}

/// The answer's text in a stream of any protocol: chat `delta.content`, Anthropic `text_delta`,
/// Responses `output_text.delta`, Gemini `parts[].text` (not thoughts).
fn streamed_text(sse: &str) -> String {
    let mut out = String::new();
    for data in sse.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let Ok(event) = serde_json::from_str::<Value>(data) else { continue };
        if let Some(t) = event["choices"][0]["delta"]["content"].as_str() {
            out.push_str(t);
        } else if event["delta"]["type"] == "text_delta" {
            out.push_str(event["delta"]["text"].as_str().unwrap_or_default());
        } else if event["type"] == "response.output_text.delta" {
            out.push_str(event["delta"].as_str().unwrap_or_default());
        } else if let Some(parts) = event["candidates"][0]["content"]["parts"].as_array() {
            // Thought parts are reasoning, not the answer.
            let answer = parts.iter().filter(|p| p["thought"] != true);
            answer.filter_map(|p| p["text"].as_str()).for_each(|t| out.push_str(t));
        }
    }
    out
}
