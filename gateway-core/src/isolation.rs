//! Relay-station isolation (per provider): relays in front of Codex-style backends inject their own
//! `instructions` and echo them back. The gateway strips what they echo, so their prompt never
//! reaches the caller, and can move the caller's system prompt out of the slot they override.

use serde_json::Value;

use crate::canonical::{Block, CacheAt, Request, Role};

/// Nulls `instructions` at the top level and inside a nested `response` object; returns whether
/// anything was there.
fn scrub(value: &mut Value) -> bool {
    let mut changed = null_instructions(value);
    if let Some(inner) = value.get_mut("response") {
        changed |= null_instructions(inner);
    }
    changed
}

fn null_instructions(value: &mut Value) -> bool {
    match value.get_mut("instructions") {
        Some(i) if !i.is_null() => {
            *i = Value::Null;
            true
        }
        _ => false,
    }
}

/// A JSON body without the echoed instructions (unchanged bytes when there were none).
pub fn scrub_body(body: bytes::Bytes) -> bytes::Bytes {
    if !contains_instructions(&body) {
        return body;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else { return body };
    if scrub(&mut v) { bytes::Bytes::from(v.to_string()) } else { body }
}

/// An SSE event's data without the echoed instructions, if it had any.
pub fn scrub_event(data: &str) -> Option<String> {
    if !contains_instructions(data.as_bytes()) {
        return None;
    }
    let mut v = serde_json::from_str::<Value>(data).ok()?;
    scrub(&mut v).then(|| v.to_string())
}

fn contains_instructions(bytes: &[u8]) -> bool {
    bytes.windows(14).any(|w| w == b"\"instructions\"")
}

/// Moves the system prompt to the front of the first user turn (after any tool results); a
/// prompt-cache breakpoint on the instructions moves with them.
pub fn system_into_user(request: &mut Request) {
    let Some(system) = request.system_text() else { return };
    request.system.clear();
    let block = Block::Text(system);
    // Where the text went; a breakpoint on the instructions marks it there.
    let (message, at) = match request.messages.iter().position(|m| m.role == Role::User) {
        Some(i) => {
            let first = &mut request.messages[i].content;
            let at = first.iter().take_while(|b| matches!(b, Block::ToolResult { .. })).count();
            first.insert(at, block);
            (i, at)
        }
        None => {
            let first = crate::canonical::Message { role: Role::User, content: vec![block] };
            request.messages.insert(0, first);
            request.remap_marks(|m| match m {
                CacheAt::Block { message, block } => {
                    Some(CacheAt::Block { message: message + 1, block })
                }
                other => Some(other),
            });
            (0, 0)
        }
    };
    request.remap_marks(|m| match m {
        CacheAt::System(_) => Some(CacheAt::Block { message, block: at }),
        CacheAt::Block { message: i, block } if i == message && block >= at => {
            Some(CacheAt::Block { message: i, block: block + 1 })
        }
        other => Some(other),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Message;

    #[test]
    fn echoed_instructions_are_removed_from_bodies_and_events() {
        let body =
            bytes::Bytes::from(r#"{"id":"r","instructions":"SECRET relay prompt","output":[]}"#);
        let out = scrub_body(body);
        assert!(!String::from_utf8_lossy(&out).contains("SECRET"));
        let event = r#"{"type":"response.created","response":{"id":"r","instructions":"SECRET"}}"#;
        let out = scrub_event(event).unwrap();
        assert!(!out.contains("SECRET") && out.contains("\"instructions\":null"));
        assert_eq!(scrub_event(r#"{"type":"response.output_text.delta","delta":"hi"}"#), None);
        let clean = bytes::Bytes::from_static(br#"{"instructions":null}"#);
        assert_eq!(scrub_body(clean.clone()), clean);
    }

    #[test]
    fn system_prompt_moves_into_the_first_user_turn() {
        let mut r = Request {
            system: vec!["Be terse.".into()],
            messages: vec![Message { role: Role::User, content: vec![Block::Text("hi".into())] }],
            ..Request::default()
        };
        system_into_user(&mut r);
        assert!(r.system.is_empty());
        assert_eq!(
            r.messages[0].content,
            vec![Block::Text("Be terse.".into()), Block::Text("hi".into())]
        );
    }
}
