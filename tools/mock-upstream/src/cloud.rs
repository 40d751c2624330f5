//! The clouds' own ways in, checked as the real services check them: Google's OAuth token
//! endpoint (an RS256 JWT verified against the test service account's public key), Vertex AI's
//! Gemini and Anthropic (`rawPredict`) routes behind the tokens it issued, Azure OpenAI
//! deployments (`api-key` or an Entra ID token, and `api-version`), and an Entra ID token
//! endpoint (client credentials). Wrong credentials get each service's real error shape.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use jwt_simple::prelude::{RS256PublicKey, RSAPublicKeyLike, VerificationOptions};
use serde_json::{Value, json};

use crate::{Mock, json_response};

/// The public half of `testdata/service-account.json`'s key.
const PUBLIC_KEY: &str = include_str!("../testdata/vertex-test-key.pub.pem");
/// The test service account's key file (its `token_uri` is set by `service_account`).
const SERVICE_ACCOUNT: &str = include_str!("../testdata/service-account.json");
const CLIENT_EMAIL: &str = "gateway-test@mock-project.iam.gserviceaccount.com";
/// The Entra ID application the mock knows.
pub const ENTRA_CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const ENTRA_CLIENT_SECRET: &str = "mock-entra-secret";
/// The `api-key` Azure deployments accept (any other is refused, as Azure refuses it).
pub const AZURE_API_KEY: &str = "azure-mock-key";

/// Tokens the mock's token endpoints issued, and how many exchanges each saw.
#[derive(Debug, Default)]
pub struct Issued {
    tokens: std::sync::Mutex<HashSet<String>>,
    pub google_exchanges: AtomicU64,
    pub entra_exchanges: AtomicU64,
}

impl Issued {
    fn issue(&self, prefix: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let token = format!("{prefix}.mock-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(token.clone());
        }
        token
    }

    fn knows(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        bearer.is_some_and(|t| self.tokens.lock().is_ok_and(|tokens| tokens.contains(t)))
    }
}

/// The test service account's key file, its `token_uri` pointing at `token_uri`.
pub fn service_account(token_uri: &str) -> String {
    let mut account: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap_or_default();
    account["token_uri"] = json!(token_uri);
    account.to_string()
}

/// Reads an `application/x-www-form-urlencoded` body.
fn form(body: &str) -> std::collections::HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(status, json!({"error": error, "error_description": description}))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Scope {
    scope: String,
}

/// `POST /google/token`: Google's OAuth endpoint for the `jwt-bearer` grant. The assertion must
/// be signed (RS256) by the test account's key, issued by its email, addressed to this endpoint,
/// live, valid for at most an hour, and ask for the cloud-platform scope.
pub(crate) async fn google_token(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    mock.issued.google_exchanges.fetch_add(1, Ordering::Relaxed);
    let fields = form(&body);
    if fields.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        );
    }
    let Some(assertion) = fields.get("assertion") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
    let audience = format!("http://{host}/google/token");
    let Ok(key) = RS256PublicKey::from_pem(PUBLIC_KEY) else {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "mock key");
    };
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([CLIENT_EMAIL.to_owned()])),
        allowed_audiences: Some(HashSet::from([audience])),
        ..VerificationOptions::default()
    };
    let claims = match key.verify_token::<Scope>(assertion, Some(options)) {
        Ok(claims) => claims,
        Err(e) => {
            let signature = e.to_string().to_lowercase().contains("signature");
            let description = if signature {
                "Invalid JWT Signature."
            } else {
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
            };
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description);
        }
    };
    let lifetime = match (claims.issued_at, claims.expires_at) {
        (Some(iat), Some(exp)) => exp.as_secs().saturating_sub(iat.as_secs()),
        _ => u64::MAX,
    };
    if lifetime > 3600 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    if !claims
        .custom
        .scope
        .split(' ')
        .any(|s| s == "https://www.googleapis.com/auth/cloud-platform")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let token = mock.issued.issue("ya29");
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

/// `POST /entra/{tenant}/oauth2/v2.0/token`: Entra ID's client-credentials grant.
pub(crate) async fn entra_token(
    State(mock): State<Arc<Mock>>,
    Path(_tenant): Path<String>,
    body: String,
) -> Response {
    mock.issued.entra_exchanges.fetch_add(1, Ordering::Relaxed);
    let fields = form(&body);
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != Some(ENTRA_CLIENT_ID) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application was not found in the directory.",
        );
    }
    if field("client_secret") != Some(ENTRA_CLIENT_SECRET) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    if field("scope") != Some("https://cognitiveservices.azure.com/.default") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011: The provided request must include a 'scope' input parameter.",
        );
    }
    let token = mock.issued.issue("entra");
    json_response(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
    )
}

/// Vertex AI's answer to a request without a valid OAuth token.
fn unauthenticated() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "status": "UNAUTHENTICATED"}}),
    )
}

/// `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`: Gemini on
/// Vertex AI — Gemini's own handler once the token checks out.
pub(crate) async fn vertex_gemini(
    State(mock): State<Arc<Mock>>,
    Path((_project, _location, rest)): Path<(String, String, String)>,
    mut headers: HeaderMap,
    body: String,
) -> Response {
    if !mock.issued.knows(&headers) {
        return unauthenticated();
    }
    headers.insert("x-goog-api-key", HeaderValue::from_static("vertex"));
    crate::gemini::handle(State(mock), Path(rest), headers, body).await
}

/// `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict` (and
/// `:streamRawPredict`): Claude on Vertex AI. The model is in the path, never in the body;
/// `anthropic_version` is `vertex-2023-10-16`; streaming needs the streaming verb.
pub(crate) async fn vertex_anthropic(
    State(mock): State<Arc<Mock>>,
    Path((_project, _location, rest)): Path<(String, String, String)>,
    mut headers: HeaderMap,
    body: String,
) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        json_response(
            status,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}),
        )
    };
    if !mock.issued.knows(&headers) {
        return unauthenticated();
    }
    let Some((model, verb)) = rest.split_once(':') else {
        return refuse(StatusCode::NOT_FOUND, "unknown method");
    };
    let Ok(mut value) = serde_json::from_str::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    if model == "count-tokens" && verb == "rawPredict" {
        headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        return crate::anthropic::count_tokens(State(mock), headers, value.to_string()).await;
    }
    if value.get("model").is_some() {
        return refuse(StatusCode::BAD_REQUEST, "model: Extra inputs are not permitted");
    }
    if value["anthropic_version"] != "vertex-2023-10-16" {
        return refuse(
            StatusCode::BAD_REQUEST,
            "anthropic_version: Input should be 'vertex-2023-10-16'",
        );
    }
    let streaming = value["stream"] == true;
    match verb {
        "rawPredict" if !streaming => {}
        "streamRawPredict" if streaming => {}
        "rawPredict" | "streamRawPredict" => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "stream must match the method (streamRawPredict streams)",
            );
        }
        _ => return refuse(StatusCode::NOT_FOUND, "unknown method"),
    }
    if let Some(object) = value.as_object_mut() {
        object.remove("anthropic_version");
        object.insert("model".into(), json!(model));
    }
    headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    crate::anthropic::handle(State(mock), headers, value.to_string()).await
}

/// Azure OpenAI's checks: `api-version` in the query (else 404, as Azure answers), then an
/// `api-key` it knows or an Entra ID token it issued (else 401 in Azure's shape).
fn azure_refusal(mock: &Mock, headers: &HeaderMap, query: Option<&str>) -> Option<Response> {
    let versioned = query
        .unwrap_or_default()
        .split('&')
        .any(|p| p.strip_prefix("api-version=").is_some_and(|v| !v.is_empty()));
    if !versioned {
        return Some(json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "404", "message": "Resource not found"}}),
        ));
    }
    let key = headers.get("api-key").and_then(|v| v.to_str().ok());
    if key == Some(AZURE_API_KEY) || mock.issued.knows(headers) {
        return None;
    }
    Some(json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}),
    ))
}

/// The deployment named in the path replaces the body's model (Azure ignores it).
fn deployed(body: &str, deployment: &str) -> String {
    let mut value: Value = serde_json::from_str(body).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("model".into(), json!(deployment));
    }
    value.to_string()
}

/// `POST /openai/deployments/{deployment}/chat/completions?api-version=…`.
pub(crate) async fn azure_chat(
    State(mock): State<Arc<Mock>>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = azure_refusal(&mock, &headers, query.as_deref()) {
        return refused;
    }
    crate::chat::handle(State(mock), headers, deployed(&body, &deployment)).await
}

/// `POST /openai/deployments/{deployment}/embeddings?api-version=…`.
pub(crate) async fn azure_embeddings(
    State(mock): State<Arc<Mock>>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
    mut headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = azure_refusal(&mock, &headers, query.as_deref()) {
        return refused;
    }
    headers.entry("authorization").or_insert(HeaderValue::from_static("Bearer azure"));
    crate::embeddings::openai(State(mock), headers, deployed(&body, &deployment)).await
}

/// `POST /openai/responses?api-version=…` (the model in the body names the deployment).
pub(crate) async fn azure_responses(
    State(mock): State<Arc<Mock>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = azure_refusal(&mock, &headers, query.as_deref()) {
        return refused;
    }
    crate::responses::handle(State(mock), headers, body).await
}

/// `GET /mock/exchanges`: how many token exchanges each endpoint saw (tests of the cache).
pub(crate) async fn exchanges(State(mock): State<Arc<Mock>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({"google": mock.issued.google_exchanges.load(Ordering::Relaxed),
               "entra": mock.issued.entra_exchanges.load(Ordering::Relaxed)}),
    )
}
