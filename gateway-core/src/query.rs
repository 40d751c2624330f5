//! URL query strings: `a=1&b=x%2Fy` into decoded pairs, and percent-encoding for URLs and forms.

/// Decoded `(name, value)` pairs; `+` is a space, bad escapes are kept as written.
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (what SigV4 and OAuth forms
/// expect).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(percent_encode("a-Z_0.~ /+=é"), "a-Z_0.~%20%2F%2B%3D%C3%A9");
    }

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(
            pairs(Some("model=deepseek%2Fchat&q=a+b&x=%zz&flag&e=%4")),
            vec![
                ("model".into(), "deepseek/chat".into()),
                ("q".into(), "a b".into()),
                ("x".into(), "%zz".into()),
                ("flag".into(), "".into()),
                ("e".into(), "%4".into()),
            ]
        );
        assert!(pairs(None).is_empty());
    }
}
