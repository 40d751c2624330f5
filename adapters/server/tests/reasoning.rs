//! Reasoning across every client protocol × upstream protocol, through the real binary and the
//! mock upstream, which answers with sealed reasoning (Anthropic's signed thinking, OpenAI's
//! encrypted reasoning items, Gemini's thought signatures) and refuses, as the real APIs do, a
//! seal it did not mint, a Gemini 3 function call without a signature, and an Anthropic tool loop
//! continued with thinking on but without its thinking.
//!
//! Each pair runs a two-turn tool loop: the first turn asks for reasoning and gets a tool call;
//! the second sends that answer back the way a client of that protocol does (its own JSON shapes,
//! as an SDK or agent would) with the tool's result. What the upstream then receives must carry
//! its own seal, exactly, whichever protocol the caller speaks — or, where the caller has no
//! place for it (Chat Completions), what the upstream needs instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

/// Upstream protocols and the base path of their mock.
const UPSTREAMS: [(&str, &str); 4] = [
    ("openai_chat", "v1"),
    ("openai_responses", "v1"),
    ("anthropic_messages", "v1"),
    ("gemini", "v1beta"),
];
const CLIENTS: [&str; 4] = ["chat", "responses", "messages", "gemini"];

/// Every client protocol with every upstream protocol.
fn pairs() -> impl Iterator<Item = (&'static str, &'static str)> {
    CLIENTS.into_iter().flat_map(|c| UPSTREAMS.map(|(u, _)| (c, u)))
}

/// A Markdown table of one row per pair (the closing note's tables come from here).
fn print_table(header: &[&str], rows: &[String]) {
    println!("| {} |\n|{}", header.join(" | "), "---|".repeat(header.len()));
    println!("{}", rows.join("\n"));
}

struct Rig {
    gw: GatewayProcess,
    key: String,
    mock: std::sync::Arc<mock_upstream::Mock>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let (mock_addr, mock) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "reasoning-pass")]);
    let admin = Admin::login(&gw.base, "admin", "reasoning-pass").await;
    for (protocol, version) in UPSTREAMS {
        let provider = admin
            .provider(json!({"name": protocol, "protocol": protocol, "api_key": "mock-key",
                "base_url": format!("http://{mock_addr}/{version}")}))
            .await;
        // Gemini 3: the strictest about thought signatures.
        let prefix = if protocol == "gemini" { "gemini-3-mock" } else { "mock" };
        // Anthropic's `…redacted…` models think in redacted blocks.
        let redacted: &[&str] = if protocol == "anthropic_messages" {
            &["redacted-tool", "redacted-text"]
        } else {
            &[]
        };
        for scenario in ["tool", "text"].iter().chain(redacted) {
            let (status, body) = admin
                .post(
                    "/api/admin/models",
                    json!({"name": format!("{protocol}-{scenario}"), "provider_id": provider,
                           "upstream_model": format!("{prefix}-{scenario}")}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "reasoning"})).await;
    let key = key["key"].as_str().unwrap().to_owned();
    Rig { gw, key, mock, http: reqwest::Client::new(), _dir: dir }
}

const USER: &str = "What is the weather in Paris?";
const RESULT: &str = "18°C and sunny";

fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"},
        "unit": {"type": "string"}}, "required": ["city"]})
}

/// The first turn in `client`'s protocol: a question, a tool, and reasoning asked for.
fn first_turn(client: &str, model: &str) -> Value {
    match client {
        "chat" => json!({"model": model, "reasoning_effort": "high",
            "messages": [{"role": "user", "content": USER}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": weather_schema()}}]}),
        "responses" => json!({"model": model, "store": false,
            "reasoning": {"effort": "high", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
            "input": [{"role": "user", "content": USER}],
            "tools": [{"type": "function", "name": "get_weather", "parameters": weather_schema()}]}),
        "messages" => json!({"model": model, "max_tokens": 4096,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": USER}],
            "tools": [{"name": "get_weather", "input_schema": weather_schema()}]}),
        _ => json!({"contents": [{"role": "user", "parts": [{"text": USER}]}],
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true}},
            "tools": [{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": weather_schema()}]}]}),
    }
}

/// The second turn: the first request with the answer appended as the client keeps it, then the
/// tool's result, sent to `model`.
fn second_turn(client: &str, first: &Value, answer: &Value, model: &str) -> Value {
    let mut next = first.clone();
    if client != "gemini" {
        next["model"] = model.into();
    }
    match client {
        "chat" => {
            let message = answer["choices"][0]["message"].clone();
            let calls = message["tool_calls"].as_array().cloned().unwrap_or_default();
            let list = next["messages"].as_array_mut().unwrap();
            list.push(message);
            for c in calls {
                list.push(json!({"role": "tool", "tool_call_id": c["id"], "content": RESULT}));
            }
        }
        "responses" => {
            let output = answer["output"].as_array().cloned().unwrap_or_default();
            let list = next["input"].as_array_mut().unwrap();
            for item in output {
                if item["type"] == "function_call" {
                    let result = json!({"type": "function_call_output", "call_id": item["call_id"], "output": RESULT});
                    list.push(item);
                    list.push(result);
                } else {
                    list.push(item);
                }
            }
        }
        "messages" => {
            let content = answer["content"].clone();
            let results: Vec<Value> = content
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .map(|b| json!({"type": "tool_result", "tool_use_id": b["id"], "content": RESULT}))
                .collect();
            let list = next["messages"].as_array_mut().unwrap();
            list.push(json!({"role": "assistant", "content": content}));
            list.push(json!({"role": "user", "content": results}));
        }
        _ => {
            let content = answer["candidates"][0]["content"].clone();
            let results: Vec<Value> = content["parts"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p.get("functionCall"))
                .map(|c| {
                    json!({"functionResponse": {"id": c["id"], "name": c["name"],
                    "response": {"result": RESULT}}})
                })
                .collect();
            let list = next["contents"].as_array_mut().unwrap();
            list.push(content);
            list.push(json!({"role": "user", "parts": results}));
        }
    }
    next
}

impl Rig {
    async fn send(&self, client: &str, model: &str, body: &Value) -> (u16, Value) {
        let request = match client {
            "chat" => self.http.post(self.gw.url("/v1/chat/completions")).bearer_auth(&self.key),
            "responses" => self.http.post(self.gw.url("/v1/responses")).bearer_auth(&self.key),
            "messages" => self
                .http
                .post(self.gw.url("/v1/messages"))
                .header("x-api-key", &self.key)
                .header("anthropic-version", "2023-06-01"),
            _ => self
                .http
                .post(self.gw.url(&format!("/v1beta/models/{model}:generateContent")))
                .header("x-goog-api-key", &self.key),
        };
        let r = request.json(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Where the client's answer shows sealed reasoning (an opaque string in its own field).
fn client_seal(client: &str, answer: &Value) -> Option<String> {
    let found = match client {
        "responses" => answer["output"]
            .as_array()?
            .iter()
            .find_map(|i| i["encrypted_content"].as_str().filter(|s| !s.is_empty())),
        "messages" => answer["content"]
            .as_array()?
            .iter()
            .find_map(|b| b["signature"].as_str().or(b["data"].as_str()).filter(|s| !s.is_empty())),
        "gemini" => answer["candidates"][0]["content"]["parts"]
            .as_array()?
            .iter()
            .find_map(|p| p["thoughtSignature"].as_str()),
        _ => None,
    };
    found.map(str::to_owned)
}

/// The last request `upstream` received for `scenario`'s model, as the mock recorded it.
fn received(mock: &mock_upstream::Mock, upstream: &str, scenario: &str) -> Value {
    let path = match upstream {
        "openai_chat" => "/v1/chat/completions".to_owned(),
        "openai_responses" => "/v1/responses".to_owned(),
        "anthropic_messages" => "/v1/messages".to_owned(),
        _ => format!("gemini-3-mock-{scenario}:generateContent"),
    };
    mock.last(&path).unwrap()
}

/// The reasoning controls `upstream` received, in its own field.
fn reasoning_sent(upstream: &str, sent: &Value) -> String {
    match upstream {
        "openai_chat" => format!("reasoning_effort: {}", sent["reasoning_effort"]),
        "openai_responses" => {
            assert_eq!(sent["include"], json!(["reasoning.encrypted_content"]), "{sent}");
            format!("reasoning.effort: {}", sent["reasoning"]["effort"])
        }
        "anthropic_messages" => {
            format!("thinking: {} {}", sent["thinking"]["type"], sent["thinking"]["budget_tokens"])
        }
        _ => format!(
            "thinkingBudget: {}",
            sent["generationConfig"]["thinkingConfig"]["thinkingBudget"]
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_reasoning_goes_back_to_its_own_upstream_from_every_client_protocol() {
    use mock_upstream::thinking;
    let rig = rig().await;
    let mut table = Vec::new();
    for (client, upstream) in pairs() {
        let what = format!("{client} → {upstream}");
        let (tool_model, text_model) = (format!("{upstream}-tool"), format!("{upstream}-text"));
        let first = first_turn(client, &tool_model);
        let (status, answer) = rig.send(client, &tool_model, &first).await;
        assert_eq!(status, 200, "{what}, first turn: {answer}");
        let controls = reasoning_sent(upstream, &received(&rig.mock, upstream, "tool"));
        assert!(!controls.contains("null"), "{what}: reasoning not asked for: {controls}");
        // Every upstream but Chat seals its reasoning; every client but Chat gets the seal.
        let sealed = upstream != "openai_chat" && client != "chat";
        assert_eq!(client_seal(client, &answer).is_some(), sealed, "{what}: {answer}");

        let second = second_turn(client, &first, &answer, &text_model);
        let (status, answer) = rig.send(client, &text_model, &second).await;
        assert_eq!(status, 200, "{what}, second turn: {answer}");
        let sent = received(&rig.mock, upstream, "text");
        let outcome = match upstream {
            "anthropic_messages" => {
                let assistant = &sent["messages"][1]["content"][0];
                if sealed {
                    assert_eq!(assistant["type"], "thinking", "{what}: {sent}");
                    let text = assistant["thinking"].as_str().unwrap();
                    assert_eq!(assistant["signature"], thinking::anthropic_signature(text));
                    "kept: signed thinking"
                } else {
                    assert!(sent.get("thinking").is_none(), "{what}: {sent}");
                    "dropped: thinking off for the turn (the API refuses the loop without it)"
                }
            }
            "openai_responses" => {
                let items = sent["input"].as_array().unwrap();
                let reasoning: Vec<&Value> =
                    items.iter().filter(|i| i["type"] == "reasoning").collect();
                if sealed {
                    assert_eq!(reasoning.len(), 1, "{what}: {sent}");
                    assert_eq!(reasoning[0]["encrypted_content"], thinking::openai_encrypted());
                    "kept: encrypted reasoning item"
                } else {
                    assert!(reasoning.is_empty(), "{what}: {sent}");
                    "dropped: no reasoning item (the caller has no place for it)"
                }
            }
            "gemini" => {
                let parts = sent["contents"][1]["parts"].as_array().unwrap();
                let call = parts.iter().find(|p| p.get("functionCall").is_some()).unwrap();
                if sealed {
                    assert_eq!(call["thoughtSignature"], thinking::gemini_signature(), "{what}");
                    "kept: thought signature on the call"
                } else {
                    assert_eq!(call["thoughtSignature"], thinking::GEMINI_SKIP, "{what}");
                    "replaced: Gemini 3's documented sentinel"
                }
            }
            _ => "— (Chat has no sealed reasoning)",
        };
        // Never another vendor's seal: nothing sent upstream carries the gateway's wrapping.
        let text = sent.to_string();
        assert!(!text.contains("eyJ"), "{what}: a wrapped seal leaked upstream: {text}");
        table.push(format!("| {client} | {upstream} | {controls} | {outcome} |"));
    }
    print_table(
        &["client", "upstream", "reasoning asked as", "sealed reasoning on the next turn"],
        &table,
    );
}

/// The structured output each client asks for, in its own shape (a strict schema, which OpenAI
/// accepts only closed and with every property required).
fn structured(client: &str, model: &str) -> Value {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"], "additionalProperties": false});
    let user = "Which city is the capital of France?";
    match client {
        "chat" => json!({"model": model, "messages": [{"role": "user", "content": user}],
            "response_format": {"type": "json_schema",
                "json_schema": {"name": "capital", "schema": schema, "strict": true}}}),
        "responses" => json!({"model": model, "input": user,
            "text": {"format": {"type": "json_schema", "name": "capital", "schema": schema, "strict": true}}}),
        "messages" => json!({"model": model, "max_tokens": 256,
            "messages": [{"role": "user", "content": user}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}}}),
        _ => json!({"contents": [{"role": "user", "parts": [{"text": user}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}}),
    }
}

/// Structured output from every client reaches every upstream in the upstream's own field (the
/// mock checks each protocol's rules: OpenAI's names and strict schemas, Anthropic's closed
/// objects, Gemini's MIME type and schema subset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_reaches_every_upstream_from_every_client_protocol() {
    let rig = rig().await;
    let mut table = Vec::new();
    for (client, upstream) in pairs() {
        let what = format!("{client} → {upstream}");
        let model = format!("{upstream}-text");
        let (status, answer) = rig.send(client, &model, &structured(client, &model)).await;
        assert_eq!(status, 200, "{what}: {answer}");
        let sent = received(&rig.mock, upstream, "text");
        let (field, schema) = match upstream {
            "openai_chat" => {
                assert_eq!(sent["response_format"]["type"], "json_schema", "{what}: {sent}");
                ("response_format", &sent["response_format"]["json_schema"]["schema"])
            }
            "openai_responses" => {
                assert_eq!(sent["text"]["format"]["type"], "json_schema", "{what}: {sent}");
                ("text.format", &sent["text"]["format"]["schema"])
            }
            "anthropic_messages" => {
                assert_eq!(sent["output_config"]["format"]["type"], "json_schema", "{what}");
                ("output_config.format", &sent["output_config"]["format"]["schema"])
            }
            _ => {
                let g = &sent["generationConfig"];
                assert_eq!(g["responseMimeType"], "application/json", "{what}: {sent}");
                let schema = g.get("responseSchema").or(g.get("responseJsonSchema"));
                ("responseMimeType + responseSchema", schema.unwrap())
            }
        };
        assert_eq!(schema["properties"]["city"]["type"], "string", "{what}: {sent}");
        table.push(format!("| {client} | {upstream} | mapped: {field} |"));
    }
    print_table(&["client", "upstream", "JSON schema output"], &table);
}

/// Redacted thinking (Anthropic's `redacted_thinking`, all of it sealed) reaches callers of every
/// other protocol wrapped in their own field and goes back to Anthropic as the block it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redacted_thinking_goes_back_to_anthropic_from_every_client_protocol() {
    use mock_upstream::thinking;
    let rig = rig().await;
    for client in ["responses", "messages", "gemini"] {
        let (tool, text) = ("anthropic_messages-redacted-tool", "anthropic_messages-redacted-text");
        let first = first_turn(client, tool);
        let (status, answer) = rig.send(client, tool, &first).await;
        assert_eq!(status, 200, "{client}: {answer}");
        assert!(client_seal(client, &answer).is_some(), "{client}: {answer}");
        let second = second_turn(client, &first, &answer, text);
        let (status, answer) = rig.send(client, text, &second).await;
        assert_eq!(status, 200, "{client}, second turn: {answer}");
        let sent = rig.mock.last("/v1/messages").unwrap();
        let block = &sent["messages"][1]["content"][0];
        assert_eq!(block["type"], "redacted_thinking", "{client}: {sent}");
        assert_eq!(block["data"], thinking::anthropic_redacted(), "{client}");
    }
}
