//! The `…agent…` scenario: what a model does for a coding agent in a two-step tool loop, scripted
//! from the request alone, in whichever protocol it arrives.
//!
//! The user's message names a file by its absolute path (a word starting with `/` that contains
//! `agent-note`). The mock calls the agent's own file-reading tool on it — Claude Code's `Read`,
//! the Gemini CLI's `read_file`, the Codex CLI's `exec_command` (`cat`) or `shell` — then, once
//! that result is back, either calls it again or, when the caller declared a `custom`
//! `apply_patch` tool (Codex with a model it knows), writes `agent-patch.txt` with it; once the
//! second result is back it answers `Agent done. Tool results: <r1> | <r2>`. Without a file
//! named, it answers `Hello from the mock agent: <the user's words>`. Each call gets a fresh id,
//! so an agent that saw a repeated id would drop the call and never finish.

use serde_json::{Value, json};

use crate::{Answer, Call, Seen, call_id};

/// The text the `apply_patch` step writes into `agent-patch.txt`.
pub const PATCH_LINE: &str = "written by the mock agent through apply_patch";

/// The file the user's messages name, if any.
fn named_file(seen: &Seen) -> Option<String> {
    seen.user_texts.iter().flat_map(|t| t.split_whitespace()).find_map(|word| {
        let word = word.trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | ',' | '.' | ')'));
        (word.starts_with('/') && word.contains("agent-note")).then(|| word.to_owned())
    })
}

/// A call of the agent's file-reading tool on `path`, if the agent declared one.
fn read_call(seen: &Seen, path: &str) -> Option<Call> {
    let has = |name: &str| seen.tools.iter().any(|t| t == name);
    let (name, args) = if has("Read") {
        ("Read", json!({"file_path": path}))
    } else if has("read_file") {
        ("read_file", json!({"file_path": path}))
    } else if has("exec_command") {
        ("exec_command", json!({"cmd": format!("cat {path}")}))
    } else if has("shell") {
        ("shell", json!({"command": ["cat", path]}))
    } else {
        return None;
    };
    Some(Call { id: call_id(), name: name.into(), args, custom: false })
}

/// A call of a declared `apply_patch` tool adding `agent-patch.txt`: Codex's `custom` tool, or
/// the function with one `input` string a translating gateway offers in its place.
fn patch_call(seen: &Seen) -> Option<Call> {
    let custom = seen.custom_tools.iter().any(|t| t == "apply_patch");
    (custom || seen.tools.iter().any(|t| t == "apply_patch")).then(|| {
        let patch = format!(
            "*** Begin Patch\n*** Add File: agent-patch.txt\n+{PATCH_LINE}\n*** End Patch\n"
        );
        Call { id: call_id(), name: "apply_patch".into(), args: json!({"input": patch}), custom }
    })
}

/// The scenario's next step for this request.
pub fn answer(seen: &Seen) -> Answer {
    let Some(path) = named_file(seen) else {
        return Answer::Text(format!("Hello from the mock agent: {}", seen.user.trim()));
    };
    let step = match seen.tool_results.len() {
        0 => read_call(seen, &path),
        1 => patch_call(seen).or_else(|| read_call(seen, &path)),
        _ => None,
    };
    match step {
        Some(call) => Answer::Calls(vec![call]),
        None if seen.tool_results.is_empty() => {
            Answer::Text(format!("The mock agent found no file tool among {:?}", seen.tools))
        }
        None => Answer::Text(format!(
            "Agent done. Tool results: {}",
            seen.tool_results.iter().map(|r| r.trim()).collect::<Vec<_>>().join(" | ")
        )),
    }
}

/// The text of a tool result however a protocol carries it: a string, content parts, or an
/// object (`{"output": …}`, Gemini's `{"result": …}`).
pub(crate) fn result_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| p["text"].as_str().map_or_else(|| result_text(p), str::to_owned))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Object(o) => ["result", "output", "content", "text"]
            .iter()
            .find_map(|k| o.get(*k))
            .map_or_else(|| value.to_string(), result_text),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
