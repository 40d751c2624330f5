//! Admin session tokens: HS256 JWTs, 12 hours, verified against the platform clock (never the
//! system clock, which does not exist on every host).

use jwt_simple::prelude::{
    Duration as JwtDuration, HS256Key, JWTClaims, MACLike, VerificationOptions,
};
use serde::{Deserialize, Serialize};

use super::AuthError;

/// How long a session token lives.
pub(crate) const TOKEN_TTL_SECS: u64 = 12 * 60 * 60;
/// Clock skew tolerated between instances.
const TOLERANCE_SECS: u64 = 30;
const ISSUER: &str = "llm-gateway";

/// What the token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// User id.
    pub uid: String,
    /// The user's token version when issued; logout and password changes bump it, revoking the token.
    pub ver: i64,
}

/// Signs and verifies session tokens with one HS256 key.
pub(crate) struct Signer {
    key: HS256Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self { key: HS256Key::from_bytes(secret) }
    }

    /// Issues a token for `session` at `now_secs`; returns it with its expiry (Unix seconds).
    pub(crate) fn issue(
        &self,
        session: Session,
        now_secs: u64,
    ) -> Result<(String, u64), AuthError> {
        let now = JwtDuration::from_secs(now_secs);
        let expires = now_secs + TOKEN_TTL_SECS;
        let claims = JWTClaims {
            issued_at: Some(now),
            expires_at: Some(JwtDuration::from_secs(expires)),
            invalid_before: Some(now),
            issuer: Some(ISSUER.into()),
            subject: Some(session.uid.clone()),
            audiences: None,
            jwt_id: None,
            nonce: None,
            custom: session,
        };
        let token = self.key.authenticate(claims).map_err(|_| AuthError::InvalidToken)?;
        Ok((token, expires))
    }

    /// Checks signature, issuer and validity window at `now_secs`.
    pub(crate) fn verify(&self, token: &str, now_secs: u64) -> Result<Session, AuthError> {
        self.verify_issued(token, now_secs).map(|(session, _)| session)
    }

    /// Like `verify`, with when the token was issued (Unix seconds), for sliding renewal.
    pub(crate) fn verify_issued(
        &self,
        token: &str,
        now_secs: u64,
    ) -> Result<(Session, u64), AuthError> {
        let options = VerificationOptions {
            artificial_time: Some(JwtDuration::from_secs(now_secs)),
            time_tolerance: Some(JwtDuration::from_secs(TOLERANCE_SECS)),
            allowed_issuers: Some(std::collections::HashSet::from([ISSUER.to_string()])),
            max_token_length: Some(4096),
            ..Default::default()
        };
        let claims = self
            .key
            .verify_token::<Session>(token, Some(options))
            .map_err(|_| AuthError::InvalidToken)?;
        // Every token this gateway issues expires; one that never does was not made by it (or
        // was made with a leaked key) and is refused, as one without its issue time.
        match (claims.expires_at, claims.issued_at) {
            (Some(_), Some(issued)) => Ok((claims.custom, issued.as_secs())),
            _ => Err(AuthError::InvalidToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn session() -> Session {
        Session { uid: "u1".into(), ver: 3 }
    }

    #[test]
    fn issued_token_verifies_until_it_expires() {
        let signer = Signer::new(&[9; 32]);
        let (token, exp) = signer.issue(session(), NOW).unwrap();
        assert_eq!(exp, NOW + TOKEN_TTL_SECS);
        assert_eq!(signer.verify(&token, NOW + 60).unwrap(), session());
        assert_eq!(signer.verify(&token, exp + TOLERANCE_SECS + 1), Err(AuthError::InvalidToken));
    }

    /// A token signed with the right key but without an expiry (or issue time) never ends: it is
    /// refused.
    #[test]
    fn a_token_without_expiry_is_rejected() {
        let signer = Signer::new(&[9; 32]);
        let forever = JWTClaims {
            issued_at: Some(JwtDuration::from_secs(NOW)),
            expires_at: None,
            invalid_before: None,
            issuer: Some(ISSUER.into()),
            subject: Some("u1".into()),
            audiences: None,
            jwt_id: None,
            nonce: None,
            custom: session(),
        };
        let token = signer.key.authenticate(forever).unwrap();
        assert_eq!(signer.verify(&token, NOW + 60), Err(AuthError::InvalidToken));
    }

    #[test]
    fn token_from_another_key_is_rejected() {
        let (token, _) = Signer::new(&[1; 32]).issue(session(), NOW).unwrap();
        assert_eq!(Signer::new(&[2; 32]).verify(&token, NOW), Err(AuthError::InvalidToken));
    }

    #[test]
    fn tampered_token_is_rejected() {
        let signer = Signer::new(&[9; 32]);
        let (token, _) = signer.issue(session(), NOW).unwrap();
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = parts[1].replace('A', "B");
        assert!(signer.verify(&parts.join("."), NOW).is_err() || !token.contains('A'));
        assert!(signer.verify("not.a.jwt", NOW).is_err());
        assert!(signer.verify("", NOW).is_err());
    }
}
