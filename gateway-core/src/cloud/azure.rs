//! Azure Entra ID applications: the client-credentials token request an Azure OpenAI provider
//! makes with its tenant, client id and secret (scope `https://cognitiveservices.azure.com`).

use bytes::Bytes;
use serde::Deserialize;

const AUTHORITY: &str = "https://login.microsoftonline.com";
const SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// An Entra ID application's credential, as the admin gives it (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Application {
    tenant_id: String,
    client_id: String,
    client_secret: String,
    /// Sovereign clouds (and tests) use another authority host.
    authority_host: Option<String>,
}

impl Application {
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let app: Self = serde_json::from_str(text).map_err(|e| {
            format!("an Entra ID application (JSON with tenant_id, client_id and client_secret) is expected: {e}")
        })?;
        let plain = |s: &str| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        };
        if !plain(&app.tenant_id) {
            return Err("`tenant_id` must be a tenant id or domain".into());
        }
        if app.client_id.is_empty() || app.client_secret.is_empty() {
            return Err("`client_id` and `client_secret` must not be empty".into());
        }
        if let Some(host) = &app.authority_host
            && !(host.starts_with("https://") || host.starts_with("http://"))
        {
            return Err("`authority_host` must be an http(s) URL".into());
        }
        Ok(app)
    }

    /// `POST {authority}/{tenant}/oauth2/v2.0/token` with the client-credentials grant.
    pub(super) fn token_request(&self) -> http::Result<http::Request<Bytes>> {
        let authority = self.authority_host.as_deref().unwrap_or(AUTHORITY).trim_end_matches('/');
        let body = super::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("scope", SCOPE),
        ]);
        http::Request::post(format!("{authority}/{}/oauth2/v2.0/token", self.tenant_id))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(body)
    }
}
