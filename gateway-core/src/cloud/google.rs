//! Google service accounts: the JSON key file a Vertex AI provider is given, and the OAuth token
//! request it makes — an RS256-signed JWT (`jwt-bearer` grant) sent to the account's `token_uri`.

use bytes::Bytes;
use jwt_simple::prelude::{Duration as JwtDuration, JWTClaims, RS256KeyPair, RSAKeyPairLike};
use serde::{Deserialize, Serialize};

/// The scope Vertex AI needs.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long the signed assertion is valid (Google's maximum).
const ASSERTION_SECS: u64 = 3600;

/// The fields of a service account key file the gateway reads (others are ignored).
#[derive(Deserialize)]
pub(super) struct ServiceAccount {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Scope {
    scope: &'static str,
}

impl ServiceAccount {
    /// Parses a key file and checks its private key opens.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let account: Self = serde_json::from_str(text).map_err(|e| {
            format!("a service account key file (JSON with client_email and private_key) is expected: {e}")
        })?;
        if account.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err("the key file's `type` must be `service_account`".into());
        }
        account.key()?;
        if let Some(uri) = &account.token_uri
            && !(uri.starts_with("https://") || uri.starts_with("http://"))
        {
            return Err("the key file's `token_uri` must be an http(s) URL".into());
        }
        Ok(account)
    }

    fn key(&self) -> Result<RS256KeyPair, String> {
        let key = RS256KeyPair::from_pem(&self.private_key).map_err(|_| {
            "the key file's `private_key` is not an RSA private key in PEM".to_owned()
        })?;
        Ok(match &self.private_key_id {
            Some(id) => key.with_key_id(id),
            None => key,
        })
    }

    /// The token request at `now_secs`: a JWT signed with the account's key, asking for the
    /// cloud-platform scope, addressed to the token endpoint.
    pub(super) fn token_request(
        &self,
        now_secs: i64,
    ) -> Result<http::Result<http::Request<Bytes>>, String> {
        let uri = self.token_uri.as_deref().unwrap_or(TOKEN_URI);
        let now = u64::try_from(now_secs).unwrap_or(0);
        let claims = JWTClaims {
            issued_at: Some(JwtDuration::from_secs(now)),
            expires_at: Some(JwtDuration::from_secs(now + ASSERTION_SECS)),
            invalid_before: None,
            issuer: Some(self.client_email.clone()),
            subject: None,
            audiences: Some(jwt_simple::claims::Audiences::AsString(uri.to_owned())),
            jwt_id: None,
            nonce: None,
            custom: Scope { scope: SCOPE },
        };
        let assertion =
            self.key()?.sign(claims).map_err(|e| format!("could not sign the assertion: {e}"))?;
        let body = super::form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ]);
        Ok(http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(body))
    }
}
