//! Virtual keys: generation (`sk-gw-` + 32 base62), custom-key rules, SHA-256 hashing, display
//! prefixes, and finding the key in a request's headers.

use http::HeaderMap;
use sha2::{Digest, Sha256};

/// Prefix of generated keys.
pub(crate) const PREFIX: &str = "sk-gw-";
const RANDOM_CHARS: usize = 32;
/// Characters of a key kept for display.
const DISPLAY_CHARS: usize = 10;

/// Generates `sk-gw-` + 32 unbiased base62 characters from the random bytes `refill` supplies.
pub(crate) fn generate(refill: impl FnMut(&mut [u8])) -> String {
    format!("{PREFIX}{}", crate::ids::base62(RANDOM_CHARS, refill))
}

/// Checks a caller-chosen key: 16–64 characters of letters, digits, `-`, `_` or `.`.
pub(crate) fn check_custom(key: &str) -> Result<(), &'static str> {
    if !(16..=64).contains(&key.len()) {
        return Err("a custom key must be 16 to 64 characters long");
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err("a custom key may contain only letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

/// The stored form of a key: lowercase hex SHA-256.
pub(crate) fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// The part of a key shown in lists, e.g. `sk-gw-AbCd`.
pub(crate) fn display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_CHARS).collect()
}

/// The key a caller sent: `Authorization: Bearer`, `x-api-key` or `x-goog-api-key`.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<&str> {
    let bearer =
        headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    bearer
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .or_else(|| headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_prefix_and_32_base62_chars() {
        let mut counter = 0u8;
        let key = generate(|buf| {
            for b in buf.iter_mut() {
                *b = counter;
                counter = counter.wrapping_add(1);
            }
        });
        assert!(key.starts_with(PREFIX));
        assert_eq!(key.len(), PREFIX.len() + 32);
        assert!(key[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn custom_keys_are_checked() {
        assert!(check_custom("my-team-key-0001").is_ok());
        assert!(check_custom("short").is_err());
        assert!(check_custom(&"x".repeat(65)).is_err());
        assert!(check_custom("has space in the key!").is_err());
    }

    #[test]
    fn key_is_found_in_any_supported_header() {
        let mut h = HeaderMap::new();
        assert_eq!(from_headers(&h), None);
        h.insert("x-goog-api-key", "g".parse().unwrap());
        assert_eq!(from_headers(&h), Some("g"));
        h.insert("x-api-key", "a".parse().unwrap());
        assert_eq!(from_headers(&h), Some("a"));
        h.insert("authorization", "Bearer  b ".parse().unwrap());
        assert_eq!(from_headers(&h), Some("b"));
        h.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(from_headers(&h), Some("a"), "non-bearer authorization is ignored");
    }

    #[test]
    fn display_prefix_keeps_ten_chars() {
        assert_eq!(display_prefix("sk-gw-ABCDEFGH"), "sk-gw-ABCD");
    }
}
