//! Requests recorded from the coding agents (`tests/fixtures/agents/`: Claude Code, the Codex CLI
//! with and without a model it knows, the Gemini CLI — long prompt texts cut) through every codec:
//! decoded by the agent's own protocol, encoded for every upstream protocol, and read back by
//! that protocol's decoder. What each agent relies on must survive every direction:
//! mid-conversation system messages, custom and namespaced tools and their calls, hosted tools
//! kept or dropped by name, and tool calls linked to their results by unique ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use gateway_core::canonical::{Block, Request, Role, ToolKind};
use gateway_core::codec::{self, EncodeOptions};
use gateway_core::provider::Protocol;
use serde_json::Value;

fn recorded(name: &str) -> (Protocol, Request) {
    let path = format!("{}/tests/fixtures/agents/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let protocol = match fixture["path"].as_str().unwrap() {
        p if p.starts_with("/v1/messages") => Protocol::AnthropicMessages,
        p if p.starts_with("/v1/responses") => Protocol::OpenaiResponses,
        _ => Protocol::Gemini,
    };
    let body = fixture["body"].to_string();
    (protocol, codec::decode_request(protocol, body.as_bytes()).unwrap())
}

/// Every tool call's id and every tool result's call id, in order.
fn links(request: &Request) -> (Vec<String>, Vec<String>) {
    let blocks = request.messages.iter().flat_map(|m| &m.content);
    let calls = blocks
        .clone()
        .filter_map(|b| if let Block::ToolCall { id, .. } = b { Some(id.clone()) } else { None })
        .collect();
    let results = blocks
        .filter_map(|b| match b {
            Block::ToolResult { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .collect();
    (calls, results)
}

/// Encodes `request` for `upstream` and decodes it back with that protocol's decoder.
fn through(request: &Request, upstream: Protocol) -> (Value, Request) {
    let options = EncodeOptions { default_max_tokens: 8192, ..EncodeOptions::default() };
    let body = codec::encode_request(upstream, request, "upstream-model", &options).unwrap();
    let back = codec::decode_request(upstream, &body).unwrap();
    (serde_json::from_slice(&body).unwrap(), back)
}

#[test]
fn every_recorded_agent_request_keeps_its_tool_links_in_every_protocol() {
    for name in ["claude-code", "codex-namespace", "codex-custom", "gemini-cli"] {
        let (_, request) = recorded(name);
        let (calls, results) = links(&request);
        assert_eq!(calls.len(), 2, "{name}: two calls in the recorded loop");
        assert_eq!(calls, results, "{name}: each result answers its call");
        assert_eq!(calls.iter().collect::<HashSet<_>>().len(), 2, "{name}: unique ids");
        for upstream in Protocol::ALL {
            let (_, back) = through(&request, upstream);
            assert_eq!(links(&back), (calls.clone(), results.clone()), "{name} → {upstream:?}");
        }
    }
}

#[test]
fn claude_codes_mid_conversation_system_message_stays_in_place_or_joins_the_system_prompt() {
    let (_, request) = recorded("claude-code");
    let in_place = request.messages.iter().position(|m| m.role == Role::System);
    assert_eq!(in_place, Some(1), "after the first user turn, as Claude Code sends it");
    let reminder = gateway_core::canonical::blocks_text(&request.messages[1].content);
    assert!(reminder.starts_with("# Environment"), "{reminder}");
    assert_eq!(request.reasoning.as_ref().and_then(|r| r.effort.as_deref()), Some("high"));
    let (chat, _) = through(&request, Protocol::OpenaiChat);
    let roles: Vec<&str> =
        chat["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    let opening = roles.iter().take_while(|r| **r == "system").count();
    assert_eq!(opening, request.system.len(), "the opening instructions first");
    assert_eq!(&roles[opening..opening + 3], ["user", "system", "assistant"], "{roles:?}");
    let (responses, _) = through(&request, Protocol::OpenaiResponses);
    let items = responses["input"].as_array().unwrap();
    assert_eq!(
        (items[0]["role"].as_str(), items[1]["role"].as_str()),
        (Some("user"), Some("system"))
    );
    for upstream in [Protocol::AnthropicMessages, Protocol::Gemini] {
        let (body, back) = through(&request, upstream);
        assert!(back.messages.iter().all(|m| m.role != Role::System), "{upstream:?}");
        // Claude Code marks system blocks for caching: Anthropic gets blocks, not one string.
        let blocks = body["system"].as_array().into_iter().flatten();
        let system = blocks
            .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
            + body["systemInstruction"]["parts"][0]["text"].as_str().unwrap_or_default();
        assert!(system.contains("# Environment"), "{upstream:?}: folded into the system prompt");
    }
}

#[test]
fn claude_codes_cache_breakpoints_survive_re_encoding_for_anthropic_and_nothing_else_sees_them() {
    use gateway_core::canonical::CacheAt;
    let (_, request) = recorded("claude-code");
    let marks: Vec<CacheAt> = request.cache_marks.iter().map(|(at, _)| *at).collect();
    assert_eq!(
        marks,
        [CacheAt::System(1), CacheAt::System(2), CacheAt::Block { message: 3, block: 1 }],
        "two system blocks and the last tool result, as recorded"
    );
    let (body, back) = through(&request, Protocol::AnthropicMessages);
    let system = body["system"].as_array().unwrap();
    let marked: Vec<bool> = system.iter().map(|b| b.get("cache_control").is_some()).collect();
    assert_eq!(&marked[..3], [false, true, true], "{system:?}");
    assert_eq!(marked[3..], [false], "the folded mid-conversation instructions come last");
    let results: Vec<&Value> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().unwrap())
        .filter(|b| b["type"] == "tool_result")
        .collect();
    assert_eq!(results[1]["cache_control"], serde_json::json!({"type": "ephemeral"}));
    assert!(results[0].get("cache_control").is_none());
    assert_eq!(back.cache_marks.len(), 3, "read back by the Anthropic decoder");
    // OpenAI and Gemini cache prompts by themselves: nothing of the breakpoints is sent there.
    for upstream in [Protocol::OpenaiChat, Protocol::OpenaiResponses, Protocol::Gemini] {
        let (body, _) = through(&request, upstream);
        assert!(!body.to_string().contains("cache_control"), "{upstream:?}");
    }
}

#[test]
fn codex_namespaces_are_flattened_for_other_protocols_and_grouped_again_for_responses() {
    let (_, request) = recorded("codex-namespace");
    let spawn =
        request.tool("multi_agent_v1__spawn_agent").expect("a flattened namespaced function");
    assert!(
        matches!(&spawn.kind, ToolKind::Namespaced { namespace, .. } if namespace == "multi_agent_v1")
    );
    assert_eq!(codec::dropped_tools(&request, Protocol::OpenaiChat).unwrap(), ["web_search"]);
    assert!(codec::dropped_tools(&request, Protocol::OpenaiResponses).unwrap().is_empty());
    let (chat, _) = through(&request, Protocol::OpenaiChat);
    let names: Vec<&str> = chat["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"multi_agent_v1__spawn_agent") && names.contains(&"exec_command"));
    assert!(!names.contains(&"web_search"));
    let (gemini, _) = through(&request, Protocol::Gemini);
    assert!(gemini.to_string().contains("multi_agent_v1__spawn_agent"));
    let (responses, _) = through(&request, Protocol::OpenaiResponses);
    let tools = responses["tools"].as_array().unwrap();
    let group = tools.iter().find(|t| t["type"] == "namespace").unwrap();
    assert_eq!(group["name"], "multi_agent_v1");
    assert!(group["tools"].as_array().unwrap().iter().any(|t| t["name"] == "spawn_agent"));
    assert!(tools.iter().any(|t| t["type"] == "web_search"), "kept for a Responses upstream");
}

#[test]
fn codex_custom_tools_become_one_string_functions_and_their_calls_keep_their_input() {
    let (_, request) = recorded("codex-custom");
    let patch = request.tool("apply_patch").unwrap();
    assert!(matches!(patch.kind, ToolKind::Custom { .. }));
    let call = request
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .find_map(|b| match b {
            Block::ToolCall { name, arguments, .. } if name == "apply_patch" => Some(arguments),
            _ => None,
        })
        .unwrap();
    let input = serde_json::from_str::<Value>(call).unwrap()["input"].as_str().unwrap().to_owned();
    assert!(input.starts_with("*** Begin Patch"), "{input}");
    let mut dropped = codec::dropped_tools(&request, Protocol::AnthropicMessages).unwrap();
    dropped.sort();
    assert_eq!(dropped, ["tool_search", "web_search"]);
    let (anthropic, _) = through(&request, Protocol::AnthropicMessages);
    let tool =
        anthropic["tools"].as_array().unwrap().iter().find(|t| t["name"] == "apply_patch").unwrap();
    assert_eq!(tool["input_schema"]["required"], serde_json::json!(["input"]));
    assert!(tool["description"].as_str().unwrap().contains("lark grammar"), "{tool}");
    assert!(anthropic.to_string().contains("*** Begin Patch"), "the call's input survives");
    let (responses, _) = through(&request, Protocol::OpenaiResponses);
    let items = responses["input"].as_array().unwrap();
    let custom = items.iter().find(|i| i["type"] == "custom_tool_call").unwrap();
    assert_eq!(custom["input"], input.as_str());
    assert!(items.iter().any(|i| i["type"] == "custom_tool_call_output"));
    assert!(responses["tools"].as_array().unwrap().iter().any(|t| t["type"] == "custom"));
}

#[test]
fn gemini_clis_json_schema_tools_and_id_less_answers_survive() {
    let (_, request) = recorded("gemini-cli");
    let read = request.tool("read_file").unwrap();
    assert_eq!(read.parameters["type"], "object", "from parametersJsonSchema");
    for upstream in [Protocol::AnthropicMessages, Protocol::OpenaiChat, Protocol::OpenaiResponses] {
        let (body, _) = through(&request, upstream);
        assert!(body.to_string().contains("secret-fig-9"), "{upstream:?}: the tool output travels");
    }
}

/// The body of a recorded request, its top-level fields as the dispatcher keeps them.
fn recorded_fields(
    name: &str,
) -> std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> {
    let path = format!("{}/tests/fixtures/agents/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    serde_json::from_str(&fixture["body"].to_string()).unwrap()
}

/// The `@google/genai` chat sends a streamed model turn back as it kept it, a content per chunk
/// (the last one an empty text part): one assistant turn in every protocol, with no empty
/// message between the call and its result (OpenAI refuses one).
#[test]
fn a_split_gemini_model_turn_is_one_turn_in_every_protocol() {
    let (protocol, request) = recorded("google-genai-chat-split-turn");
    assert_eq!(protocol, Protocol::Gemini);
    let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::User], "{request:#?}");
    let turn = &request.messages[1].content;
    assert_eq!(gateway_core::canonical::blocks_text(turn), "Let me check.", "{turn:?}");
    assert!(matches!(turn.last(), Some(Block::ToolCall { .. })), "{turn:?}");
    let (calls, results) = links(&request);
    assert_eq!((calls.len(), calls.clone()), (1, results.clone()));
    for upstream in Protocol::ALL {
        let (body, back) = through(&request, upstream);
        assert_eq!(links(&back), (calls.clone(), results.clone()), "→ {upstream:?}");
        if upstream == Protocol::OpenaiChat {
            let messages = body["messages"].as_array().unwrap();
            let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
            assert_eq!(roles, ["user", "assistant", "tool"], "{body}");
        }
    }
}

/// The Anthropic SDK's threaded tool runner: its first request creates the thread with the
/// whole conversation (translated, `thread` is dropped and named); its second continues it with
/// only the tool result, which no other protocol can carry.
#[test]
fn a_thread_is_created_translatably_and_continued_only_as_it_came() {
    for (name, continued) in
        [("anthropic-sdk-thread-create", false), ("anthropic-sdk-thread-continue", true)]
    {
        let (protocol, mut request) = recorded(name);
        request.extra = codec::unmapped(protocol, &recorded_fields(name));
        assert!(request.extra.contains_key("thread"), "{name}: {:?}", request.extra);
        let refused = codec::untranslatable(protocol, &request.extra);
        assert_eq!(refused, continued.then_some("thread"), "{name}");
        let report = codec::translation(&request, protocol, Protocol::OpenaiChat).unwrap();
        assert!(report.dropped.contains(&"thread".to_owned()), "{name}: {report:?}");
        if !continued {
            assert!(!request.system.is_empty() && !request.tools.is_empty(), "{name}");
        }
    }
}
