//! Parsing request bodies into typed structs, with the failing field named in the error.

use serde::de::DeserializeOwned;

use crate::error::request::RequestError;

/// Deepest nesting of arrays and objects a request body may have.
pub const MAX_DEPTH: usize = 64;

/// Whether `bytes`, read as JSON, nests arrays and objects deeper than `max` (a linear scan that
/// skips strings; it does not validate the JSON, the parser does that after).
pub fn too_deep(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses JSON; on a type error the error names the field path (`messages[2].content`); on a
/// syntax error it says where the JSON broke.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            RequestError::InvalidJson(inner.to_string())
        } else {
            let field = if path == "." { "body".to_owned() } else { path };
            RequestError::field(field, inner.to_string())
        }
    })?;
    de.end().map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert!(!too_deep(br#"{"a":[{"b":[]}]}"#, 4));
        assert!(too_deep(br#"{"a":[{"b":[[]]}]}"#, 4));
        assert!(!too_deep(br#"{"a":"[[[[[[[[\"[[[["}"#, 1), "brackets inside strings do not count");
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(too_deep(deep.as_bytes(), MAX_DEPTH));
        assert!(!too_deep(deep.as_bytes(), 65));
    }
}
