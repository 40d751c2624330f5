//! Reasoning as the providers return it and check it on the next turn: signed thinking blocks
//! (Anthropic), encrypted reasoning items (OpenAI Responses), thought signatures (Gemini). Seals
//! are minted from this mock's key and what they cover, so it verifies them without keeping
//! state and refuses any it did not mint — as the real APIs refuse a signature from another
//! model, or thinking whose text was changed.

use std::hash::{Hash, Hasher};

/// The reasoning every mock shows when asked to think.
pub const TEXT: &str = "Let me think about the request.";

/// What Gemini 3 accepts in place of a signature (Google's thought-signatures guide).
pub const GEMINI_SKIP: &str = "skip_thought_signature_validator";

fn mint(kind: &str, covered: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ("mock-upstream-seal-key", kind, covered).hash(&mut h);
    // Four letters and sixteen hex digits: valid base64 too (Gemini's signatures are bytes).
    format!("{kind}{:016x}", h.finish())
}

/// Anthropic's `signature` of a thinking block with `text` (empty when the display is omitted).
pub fn anthropic_signature(text: &str) -> String {
    mint("a1sg", text)
}

/// Anthropic's `redacted_thinking` data.
pub fn anthropic_redacted() -> String {
    mint("a1rd", "")
}

/// OpenAI's `encrypted_content` of a reasoning item.
pub fn openai_encrypted() -> String {
    mint("o1en", "")
}

/// Gemini's `thoughtSignature`.
pub fn gemini_signature() -> String {
    mint("g1sg", "")
}

/// Checks Anthropic thinking blocks in `blocks` (message `i`): every signature minted here for
/// that very text, every redacted block's data minted here.
pub fn check_anthropic(i: usize, blocks: &[serde_json::Value]) -> Result<(), String> {
    for (j, b) in blocks.iter().enumerate() {
        let ok = match b["type"].as_str() {
            Some("thinking") => {
                b["signature"].as_str()
                    == Some(
                        anthropic_signature(b["thinking"].as_str().unwrap_or_default()).as_str(),
                    )
            }
            Some("redacted_thinking") => b["data"].as_str() == Some(anthropic_redacted().as_str()),
            _ => true,
        };
        if !ok {
            return Err(format!(
                "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
            ));
        }
    }
    Ok(())
}
