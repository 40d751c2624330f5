//! A provider's own secrets kept out of what its upstream says back. Upstreams repeat the key
//! they were sent in their error messages — OpenAI a masked form (`sk-proj-****…abcd`), some
//! proxies the whole key, AWS the access key id — and those messages reach callers' error bodies,
//! the log and a disabled credential's stored reason. An upstream's error message (an answer's
//! error body, a stream's error event, a token endpoint's refusal) is passed through
//! [`Redactor::scrub`] before the gateway answers with it, stores it or logs it.
//!
//! The secrets stay sealed until there is something to scrub: a stream carries only a
//! [`Secrets`] handle, opened into a [`Redactor`] when an error event arrives, and the
//! redactor lives only as long as that error's handling.
//!
//! Three things are replaced with `[redacted]`: any of the secrets, whole; a word of eight or more
//! key characters found inside one (a key cut short); and a masked form — key characters around a
//! run of mask characters (`*`, `•`, `…`) — whose visible ends are a secret's start and end, or
//! whose mask is long enough (eight or more) that it can only be a masked key.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not looked for (they would match ordinary words).
const MIN_SECRET: usize = 8;

/// The secrets of one provider, and their scrubbing. Its `Debug` shows how many, never which.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// A provider's secrets, still sealed: opened into a [`Redactor`] only when an upstream's words
/// must be scrubbed.
pub trait Secrets: crate::maybe_send::MaybeSend + crate::maybe_send::MaybeSync {
    fn redactor(&self) -> Redactor;
}

/// No secrets (a provider without credentials, tests).
impl Secrets for () {
    fn redactor(&self) -> Redactor {
        Redactor::default()
    }
}

impl Secrets for Redactor {
    fn redactor(&self) -> Redactor {
        self.clone()
    }
}

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn mask_char(c: char) -> bool {
    matches!(c, '*' | '•' | '…')
}

impl Redactor {
    /// A redactor for `secrets` (short ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| s.len() >= MIN_SECRET)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// The secrets inside a credential as stored: the key itself, or for a credential given as
    /// JSON (a cloud's key file) the values of its secret fields.
    pub fn credential_secrets(text: &str) -> Vec<String> {
        const SECRET_FIELDS: [&str; 6] = [
            "private_key",
            "private_key_id",
            "client_secret",
            "access_key_id",
            "secret_access_key",
            "session_token",
        ];
        let text = text.trim();
        if !text.starts_with('{') {
            return vec![text.to_owned()];
        }
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(text) else {
            return vec![text.to_owned()];
        };
        let mut out = Vec::new();
        for (name, value) in fields {
            let Some(value) = value.as_str() else { continue };
            if SECRET_FIELDS.contains(&name.as_str()) {
                // A PEM key is looked for line by line (a message may quote one line).
                out.extend(value.lines().map(str::to_owned));
                out.push(value.to_owned());
            }
        }
        out
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret, piece of one and masked form of one replaced; borrowed when
    /// there was none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        match self.words(&out) {
            Some(scrubbed) => Cow::Owned(scrubbed),
            None => out,
        }
    }

    /// The text with its suspicious words replaced, or `None` when it has none.
    fn words(&self, text: &str) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        let mut changed = false;
        let mut chars = text.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if !(key_char(c) || mask_char(c)) {
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, c)) = chars.peek() {
                if !(key_char(c) || mask_char(c)) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            let word = &text[start..end];
            if word != REDACTED.trim_matches(['[', ']']) && self.suspicious(word) {
                out.push_str(&text[last..start]);
                out.push_str(REDACTED);
                last = end;
                changed = true;
            }
        }
        changed.then(|| {
            out.push_str(&text[last..]);
            out
        })
    }

    /// A word that is a piece of a secret, or a masked form of a key.
    fn suspicious(&self, word: &str) -> bool {
        let masked = word.chars().filter(|c| mask_char(*c)).count();
        if masked == 0 {
            return word.len() >= MIN_SECRET && self.secrets.iter().any(|s| s.contains(word));
        }
        let head: String = word.chars().take_while(|c| !mask_char(*c)).collect();
        let tail: String = {
            let mut t: Vec<char> = word.chars().rev().take_while(|c| !mask_char(*c)).collect();
            t.reverse();
            t.into_iter().collect()
        };
        let visible = head.len() + tail.len();
        // `…` stands for a run of hidden characters by itself.
        let run = word.chars().filter(|c| *c == '…').count() * 3 + masked;
        if visible == 0 {
            return false;
        }
        run >= 8
            || self
                .secrets
                .iter()
                .any(|s| s.starts_with(head.as_str()) && s.ends_with(tail.as_str()) && visible >= 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd";

    fn redactor() -> Redactor {
        Redactor::new([KEY.to_owned()])
    }

    #[test]
    fn a_whole_key_is_redacted() {
        let said = format!("Invalid key {KEY}. Check it.");
        assert_eq!(redactor().scrub(&said), "Invalid key [redacted]. Check it.");
    }

    /// OpenAI's own wording for a wrong key.
    #[test]
    fn openais_masked_key_is_redacted() {
        let said = "Incorrect API key provided: sk-proj-********************************abcd. \
                    You can find your API key at https://platform.openai.com/account/api-keys.";
        let scrubbed = redactor().scrub(said);
        assert!(!scrubbed.contains("abcd") && !scrubbed.contains("sk-proj"), "{scrubbed}");
        assert!(scrubbed.starts_with("Incorrect API key provided: [redacted]."), "{scrubbed}");
        assert!(scrubbed.contains("platform.openai.com/account/api-keys"), "{scrubbed}");
        // A short mask is redacted when its ends are the key's.
        let short = redactor().scrub("key sk-p***abcd refused");
        assert_eq!(short, "key [redacted] refused");
        // … and a long one whatever key it hides (another credential's).
        let other = redactor().scrub("key sk-zz**********wxyz refused");
        assert_eq!(other, "key [redacted] refused");
        let ellipsis = redactor().scrub("key sk-proj-Ab…abcd refused");
        assert_eq!(ellipsis, "key [redacted] refused");
    }

    #[test]
    fn a_key_cut_short_is_redacted() {
        let scrubbed = redactor().scrub("no such key: sk-proj-AbCdEfGhIj (truncated)");
        assert_eq!(scrubbed, "no such key: [redacted] (truncated)");
    }

    #[test]
    fn ordinary_messages_are_untouched() {
        for said in [
            "The model `gpt-4o` does not exist or you do not have access to it.",
            "Rate limit reached for requests; try again in 20s",
            "max_tokens: 100000 > 64000, which is the maximum allowed",
            "a**b is not valid",
        ] {
            assert!(matches!(redactor().scrub(said), Cow::Borrowed(_)), "{said}");
        }
    }

    #[test]
    fn json_credentials_give_their_secret_fields() {
        let aws = r#"{"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","region":"us-east-1"}"#;
        let r = Redactor::new(Redactor::credential_secrets(aws));
        let said = "The security token included in the request is invalid. \
                    Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/bedrock/aws4_request";
        let scrubbed = r.scrub(said);
        assert!(!scrubbed.contains("AKIAIOSFODNN7EXAMPLE"), "{scrubbed}");
        assert!(scrubbed.contains("us-east-1"), "the region is not a secret: {scrubbed}");
        assert_eq!(Redactor::credential_secrets("  plain-key-123  "), ["plain-key-123"]);
    }
}
