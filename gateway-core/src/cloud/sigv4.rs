//! AWS Signature Version 4 for Bedrock requests: the canonical request (each path segment
//! encoded once more, as AWS does for every service but S3), the string to sign, the derived
//! signing key and the `Authorization` header. HMAC-SHA256 and SHA-256 come from `hmac-sha256`;
//! the tests check every signature against botocore's reference signer.

use bytes::Bytes;
use serde::Deserialize;

use crate::query::percent_encode;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "bedrock";

/// An AWS credential, as the admin gives it (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AwsKey {
    access_key_id: String,
    secret_access_key: String,
    /// Temporary credentials (STS) come with a session token.
    session_token: Option<String>,
    /// The region requests are signed for; by default read from the host
    /// (`bedrock-runtime.{region}.amazonaws.com`).
    region: Option<String>,
}

impl AwsKey {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let key: Self = serde_json::from_str(text).map_err(|e| {
            format!(
                "an AWS credential (JSON with access_key_id and secret_access_key) is expected: {e}"
            )
        })?;
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !plain(&key.access_key_id) || !plain(&key.secret_access_key) {
            return Err("`access_key_id` and `secret_access_key` must be non-empty".into());
        }
        if key.session_token.as_deref().is_some_and(|t| !plain(t)) {
            return Err("`session_token` must be visible characters".into());
        }
        if key
            .region
            .as_deref()
            .is_some_and(|r| !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err("`region` must look like us-east-1".into());
        }
        Ok(key)
    }
}

/// The region in a Bedrock runtime host name.
fn region_of(host: &str) -> Option<&str> {
    let rest = host
        .strip_prefix("bedrock-runtime.")
        .or_else(|| host.strip_prefix("bedrock-runtime-fips."))?;
    rest.split('.').next().filter(|r| !r.is_empty())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    hmac_sha256::HMAC::mac(data.as_bytes(), key)
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a Unix time in ms.
fn amz_date(now_ms: i64) -> String {
    let date = crate::rules::date(now_ms).replace('-', "");
    let secs = now_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{date}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Signs `request` (its URL, headers and body final) with `key` at `now_ms`: adds `x-amz-date`,
/// `x-amz-security-token` when there is a session token, and `authorization`. Signed headers
/// are the host, the content type and those two.
pub(crate) fn sign(
    request: &mut http::Request<Bytes>,
    key: &AwsKey,
    now_ms: i64,
) -> Result<(), String> {
    let host =
        request.uri().authority().map(|a| a.as_str().to_owned()).ok_or("the URL has no host")?;
    let region = key
        .region
        .as_deref()
        .or_else(|| region_of(request.uri().host().unwrap_or_default()))
        .ok_or("the AWS credential needs a `region` (the base URL does not name one)")?
        .to_owned();
    let when = amz_date(now_ms);
    let day = &when[..8];
    let headers = request.headers_mut();
    let value = |v: &str| http::HeaderValue::from_str(v).map_err(|e| e.to_string());
    headers.insert("x-amz-date", value(&when)?);
    if let Some(token) = &key.session_token {
        headers.insert("x-amz-security-token", value(token)?);
    }
    let mut signed: Vec<(String, String)> = vec![("host".into(), host)];
    for (name, v) in request.headers() {
        let name = name.as_str();
        if matches!(name, "content-type" | "x-amz-date" | "x-amz-security-token") {
            let v = v.to_str().map_err(|e| e.to_string())?;
            signed.push((name.to_owned(), v.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_names = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    // Each segment of the path as sent, encoded once more.
    let path = request.uri().path();
    let canonical_uri: String = if path.is_empty() {
        "/".into()
    } else {
        path.split('/').map(percent_encode).collect::<Vec<_>>().join("/")
    };
    let mut query: Vec<(String, String)> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    query.sort();
    let canonical_query =
        query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let payload = hex(&hmac_sha256::Hash::hash(request.body()));
    let canonical = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_names}\n{payload}",
        request.method()
    );
    let scope = format!("{day}/{region}/{SERVICE}/aws4_request");
    let to_sign = format!(
        "{ALGORITHM}\n{when}\n{scope}\n{}",
        hex(&hmac_sha256::Hash::hash(canonical.as_bytes()))
    );
    let mut signing = hmac(format!("AWS4{}", key.secret_access_key).as_bytes(), day);
    for part in [region.as_str(), SERVICE, "aws4_request"] {
        signing = hmac(&signing, part);
    }
    let signature = hex(&hmac(&signing, &to_sign));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
        key.access_key_id
    );
    request.headers_mut().insert(http::header::AUTHORIZATION, value(&authorization)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(region: Option<&str>, token: Option<&str>) -> AwsKey {
        AwsKey {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
            region: region.map(str::to_owned),
        }
    }

    #[test]
    fn dates_regions_and_the_signature_shape() {
        assert_eq!(amz_date(1_440_938_160_000), "20150830T123600Z");
        assert_eq!(region_of("bedrock-runtime.eu-west-3.amazonaws.com"), Some("eu-west-3"));
        assert_eq!(region_of("127.0.0.1"), None);
        let mut request = http::Request::post(
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        )
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{}"))
        .unwrap();
        sign(&mut request, &key(None, Some("session")), 1_440_938_160_000).unwrap();
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="), "{auth}");
        assert_eq!(request.headers()["x-amz-security-token"], "session");
        let mut local =
            http::Request::post("http://127.0.0.1:9/model/m/converse").body(Bytes::new()).unwrap();
        assert!(sign(&mut local, &key(None, None), 0).unwrap_err().contains("region"));
    }
}
