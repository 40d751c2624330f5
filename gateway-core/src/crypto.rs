//! Provider credentials at rest: AES-256-GCM under a key derived from `GATEWAY_SECRET`.
//!
//! Sealed values look like `v1:<base64(nonce ‖ ciphertext ‖ tag)>`; the version prefix leaves room
//! for key rotation. Nonces come from the platform's secure RNG.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 12;
const CONTEXT: &[u8] = b"llm-gateway/provider-credentials/v1\0";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("stored credential is malformed")]
    Malformed,
    #[error("stored credential does not decrypt with this GATEWAY_SECRET")]
    WrongKey,
    #[error("encryption failed")]
    Encrypt,
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}

/// Encrypts and decrypts credentials with one derived key.
pub(crate) struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// Derives the AES key from the secret (domain-separated SHA-256 of a high-entropy secret).
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(CONTEXT);
        hasher.update(secret);
        let key = hasher.finalize();
        Self { cipher: Aes256Gcm::new(&key) }
    }

    pub(crate) fn seal(
        &self,
        plaintext: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, CryptoError> {
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(format!("{VERSION}{}", STANDARD.encode(out)))
    }

    pub(crate) fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let encoded = sealed.strip_prefix(VERSION).ok_or(CryptoError::Malformed)?;
        let raw = STANDARD.decode(encoded).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_credentials_round_trip_and_hide_the_plaintext() {
        let sealer = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let sealed = sealer.seal("sk-upstream-secret", [3; NONCE_LEN]).unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("sk-upstream"));
        assert_eq!(sealer.open(&sealed).unwrap(), "sk-upstream-secret");
    }

    #[test]
    fn another_secret_cannot_open() {
        let sealed = Sealer::new(b"a").seal("x", [0; NONCE_LEN]).unwrap();
        assert_eq!(Sealer::new(b"b").open(&sealed), Err(CryptoError::WrongKey));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let sealer = Sealer::new(b"k");
        assert_eq!(sealer.open("plain"), Err(CryptoError::Malformed));
        assert_eq!(sealer.open("v1:!!!"), Err(CryptoError::Malformed));
        assert_eq!(sealer.open("v1:AAAA"), Err(CryptoError::Malformed));
    }
}
