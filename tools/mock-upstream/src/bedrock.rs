//! Amazon Bedrock's Converse and ConverseStream, checked as Bedrock checks them: every request's
//! SigV4 signature recomputed here (independently of the gateway's signer) from the request as it
//! arrived, the signature's age, the session token; the body validated (roles alternating from
//! the user, one field per content block, tool configuration present whenever tool blocks are,
//! tool results answering the previous turn's calls, reasoning signed by this mock); streams
//! written as AWS event-stream binary messages with their CRCs.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use crate::{Answer, Incoming, Mock, Seen, USAGE_INPUT, USAGE_OUTPUT, json_pieces, text_pieces};

/// The AWS credentials the mock knows: access key, secret, session token (when required).
pub const ACCESS_KEY_ID: &str = "AKIAMOCKBEDROCK00001";
pub const SECRET_ACCESS_KEY: &str = "mock/Bedrock+Secret/Key0000000000000000";
pub const TEMPORARY_ACCESS_KEY_ID: &str = "ASIAMOCKBEDROCK00002";
pub const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEMock//SessionToken==";
pub const REGION: &str = "us-east-1";

/// A signed request as it arrived.
#[derive(Debug, Clone)]
pub struct Signed {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

fn refusal(status: StatusCode, kind: &str, message: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(
            "x-amzn-errortype",
            format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )
        .body(Body::from(json!({"message": message}).to_string()))
        .unwrap_or_default()
}

fn invalid(message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, "ValidationException", message)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

/// RFC 3986 encoding of one path segment (unreserved characters kept).
fn encode_segment(segment: &str) -> String {
    let mut out = String::new();
    for c in segment.chars() {
        if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Seconds since the epoch of an `x-amz-date` (`YYYYMMDDTHHMMSSZ`).
fn epoch_of(date: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from civil (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Checks the request's SigV4 signature as AWS does; the refusal to send otherwise.
fn verify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Box<Response>> {
    let forbidden =
        |kind: &str, message: &str| Box::new(refusal(StatusCode::FORBIDDEN, kind, message));
    let mismatch = || {
        forbidden(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = header("authorization") else {
        return Err(forbidden(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(forbidden(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        ));
    };
    let field = |name: &str| {
        fields.split(',').map(str::trim).find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(credential), Some(signed), Some(signature)) =
        (field("Credential"), field("SignedHeaders"), field("Signature"))
    else {
        return Err(forbidden(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        ));
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, day, region, service, "aws4_request"] = parts[..] else {
        return Err(forbidden(
            "IncompleteSignatureException",
            "Credential should be scoped to a valid region.",
        ));
    };
    let token_needed = match access_key {
        ACCESS_KEY_ID => false,
        TEMPORARY_ACCESS_KEY_ID => true,
        _ => {
            return Err(forbidden(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        }
    };
    if token_needed && header("x-amz-security-token") != Some(SESSION_TOKEN) {
        return Err(forbidden(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if service != "bedrock" || region != REGION {
        return Err(forbidden(
            "InvalidSignatureException",
            &format!(
                "Credential should be scoped to correct service: 'bedrock' in region '{REGION}'."
            ),
        ));
    }
    let Some(date) = header("x-amz-date") else {
        return Err(forbidden(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match epoch_of(date) {
        Some(at) if (now - at).abs() <= 300 && date.starts_with(day) => {}
        _ => {
            return Err(forbidden(
                "InvalidSignatureException",
                &format!(
                    "Signature expired: {date} is now earlier or later than the allowed 5 minutes."
                ),
            ));
        }
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(mismatch());
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(name).ok_or_else(mismatch)?;
        canonical_headers.push_str(&format!(
            "{name}:{}\n",
            value.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    let path: Vec<String> = uri.path().split('/').map(encode_segment).collect();
    let mut query: Vec<&str> =
        uri.query().unwrap_or("").split('&').filter(|q| !q.is_empty()).collect();
    query.sort_unstable();
    let canonical = [
        method.as_str().to_owned(),
        path.join("/"),
        query.join("&"),
        canonical_headers,
        signed.to_owned(),
        hex(&hmac_sha256::Hash::hash(body)),
    ]
    .join("\n");
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&hmac_sha256::Hash::hash(canonical.as_bytes()))
    );
    let mut key =
        hmac_sha256::HMAC::mac(day.as_bytes(), format!("AWS4{SECRET_ACCESS_KEY}").as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256::HMAC::mac(part.as_bytes(), key);
    }
    if hex(&hmac_sha256::HMAC::mac(to_sign.as_bytes(), key)) != signature {
        return Err(mismatch());
    }
    Ok(())
}

/// The one field a content block has (Converse blocks are unions).
fn block_kind(block: &Value) -> Result<&str, String> {
    let keys: Vec<&String> = block.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    match keys[..] {
        [key] => Ok(key.as_str()),
        _ => Err("Malformed input request: each content block must have exactly one member".into()),
    }
}

fn reasoning_signature(text: &str) -> String {
    // A seal this mock minted for `text` (see `thinking`).
    crate::thinking::anthropic_signature(&format!("bedrock:{text}"))
}

/// Reads a Converse request as Bedrock validates it.
fn read(incoming: &Incoming<'_>) -> Result<Seen, String> {
    const FIELDS: [&str; 10] = [
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "guardrailConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "promptVariables",
        "requestMetadata",
        "performanceConfig",
    ];
    let body = incoming.body;
    if let Some(unknown) = crate::unknown_field(body, &FIELDS) {
        return Err(format!(
            "Malformed input request: extraneous key [{unknown}] is not permitted"
        ));
    }
    let mut seen = Seen::default();
    for part in body["system"].as_array().into_iter().flatten() {
        match block_kind(part)? {
            "text" => seen.system.push_str(part["text"].as_str().unwrap_or_default()),
            "cachePoint" | "guardContent" => {}
            other => {
                return Err(format!("Malformed input request: system blocks cannot be {other}"));
            }
        }
    }
    let messages = body["messages"].as_array().filter(|m| !m.is_empty())
        .ok_or("A conversation must start with a user message. Try again with a conversation that starts with a user message.")?;
    let tools_declared = body["toolConfig"]["tools"].as_array().is_some_and(|t| !t.is_empty());
    let mut expected = "user";
    let mut open_calls: Vec<String> = Vec::new();
    let mut ids = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if role != expected {
            return Err(format!(
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again. (messages.{i})"
            ));
        }
        expected = if role == "user" { "assistant" } else { "user" };
        let content = m["content"].as_array().filter(|c| !c.is_empty())
            .ok_or(format!("The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."))?;
        let (mut calls, mut answered) = (Vec::new(), Vec::new());
        for b in content {
            match block_kind(b)? {
                "text" if role == "user" => {
                    seen.user = b["text"].as_str().unwrap_or_default().to_owned();
                    seen.user_texts.push(seen.user.clone());
                }
                "text" | "image" | "cachePoint" | "document" => {}
                "toolUse" | "toolResult" if !tools_declared => {
                    return Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.".into());
                }
                "toolUse" if role == "assistant" => {
                    let id = b["toolUse"]["toolUseId"].as_str().unwrap_or_default();
                    if !b["toolUse"]["input"].is_object() {
                        return Err(format!("messages.{i}: toolUse.input must be an object"));
                    }
                    crate::check_unique(&mut ids, id, &format!("messages.{i}"))?;
                    calls.push(id.to_owned());
                }
                "toolResult" if role == "user" => {
                    let result = &b["toolResult"];
                    answered.push(result["toolUseId"].as_str().unwrap_or_default().to_owned());
                    let texts: Vec<String> = result["content"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| {
                            c["text"].as_str().map_or_else(|| c["json"].to_string(), str::to_owned)
                        })
                        .collect();
                    seen.tool_results.push(texts.join(" "));
                }
                "reasoningContent" if role == "assistant" => {
                    let text =
                        b["reasoningContent"]["reasoningText"]["text"].as_str().unwrap_or_default();
                    let signature = b["reasoningContent"]["reasoningText"]["signature"].as_str();
                    if signature != Some(reasoning_signature(text).as_str()) {
                        return Err(format!("messages.{i}: The reasoning signature is invalid."));
                    }
                }
                other => {
                    return Err(format!("messages.{i}: a {role} message cannot carry {other}"));
                }
            }
        }
        if role == "user" {
            if answered.len() > open_calls.len() || answered.iter().any(|a| !open_calls.contains(a))
            {
                return Err(format!(
                    "The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
                ));
            }
            if let Some(missing) = open_calls.iter().find(|c| !answered.contains(c)) {
                return Err(format!(
                    "Expected toolResult blocks at messages.{i}.content for the following Ids: {missing}"
                ));
            }
        }
        open_calls = calls;
    }
    for t in body["toolConfig"]["tools"].as_array().into_iter().flatten() {
        match block_kind(t)? {
            "toolSpec" => {
                if !t["toolSpec"]["inputSchema"]["json"].is_object() {
                    return Err("toolConfig.tools: toolSpec.inputSchema.json is required".into());
                }
                seen.tools.push(t["toolSpec"]["name"].as_str().unwrap_or_default().to_owned());
            }
            "cachePoint" => {}
            other => return Err(format!("toolConfig.tools: unknown tool {other}")),
        }
    }
    let max = &body["inferenceConfig"]["maxTokens"];
    if !max.is_null() && max.as_u64().is_none_or(|n| n == 0) {
        return Err("inferenceConfig.maxTokens: must be a positive integer".into());
    }
    seen.max_tokens = max.as_u64();
    let thinking = &body["additionalModelRequestFields"]["thinking"];
    seen.thinking = match thinking["type"].as_str() {
        Some("enabled") => {
            let budget = thinking["budget_tokens"].as_u64().unwrap_or(0);
            if budget < 1024 || seen.max_tokens.is_some_and(|m| budget >= m) {
                return Err(
                    "thinking.budget_tokens: must be at least 1024 and less than max_tokens".into(),
                );
            }
            Some(true)
        }
        Some("adaptive") => Some(true),
        _ => None,
    };
    Ok(seen)
}

fn usage() -> Value {
    json!({"inputTokens": USAGE_INPUT, "outputTokens": USAGE_OUTPUT, "totalTokens": USAGE_INPUT + USAGE_OUTPUT})
}

/// `POST /model/{model}/converse` and `/model/{model}/converse-stream`.
pub(crate) async fn handle(
    State(mock): State<Arc<Mock>>,
    Path((model, verb)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(refused) = verify(&method, &uri, &headers, body.as_bytes()) {
        return *refused;
    }
    if let Ok(mut signed) = mock.signed.lock() {
        *signed = Some(Signed {
            method: method.to_string(),
            uri: uri.to_string(),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: body.clone(),
        });
    }
    let stream = match verb.as_str() {
        "converse" => false,
        "converse-stream" => true,
        _ => {
            return refusal(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "Unknown operation",
            );
        }
    };
    let error = |status: StatusCode, message: &str| match status.as_u16() {
        429 => refusal(
            status,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        400 => invalid(message),
        _ => refusal(status, "InternalServerException", message),
    };
    let path = format!("/model/{model}/{verb}");
    let (request, model, answer) =
        match crate::prepare(&mock, &path, (&headers, &body), Some(&model), read, error).await {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
    let thinking = read(&Incoming { body: &request, model: &model, headers: &headers })
        .ok()
        .and_then(|s| s.thinking)
        .map(|_| crate::thinking::TEXT);
    if !stream {
        let mut content: Vec<Value> = Vec::new();
        if let Some(text) = thinking {
            content.push(json!({"reasoningContent": {"reasoningText": {"text": text, "signature": reasoning_signature(text)}}}));
        }
        let stop = match &answer {
            Answer::Text(t) => {
                content.push(json!({"text": t}));
                "end_turn"
            }
            Answer::Calls(calls) => {
                content.extend(calls.iter().map(
                    |c| json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.args}}),
                ));
                "tool_use"
            }
        };
        return crate::json_response(
            StatusCode::OK,
            json!({
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop, "usage": usage(), "metrics": {"latencyMs": 1},
            }),
        );
    }
    let mut frames: Vec<Vec<u8>> = vec![event("messageStart", &json!({"role": "assistant"}))];
    let mut index = 0;
    if let Some(text) = thinking {
        for piece in text_pieces(text, &model) {
            frames.push(event(
                "contentBlockDelta",
                &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": piece}}}),
            ));
        }
        frames.push(event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": reasoning_signature(text)}}})));
        frames.push(event("contentBlockStop", &json!({"contentBlockIndex": 0})));
        index = 1;
    }
    let stop = match &answer {
        Answer::Text(t) => {
            for piece in text_pieces(t, &model) {
                frames.push(event(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex": index, "delta": {"text": piece}}),
                ));
            }
            frames.push(event("contentBlockStop", &json!({"contentBlockIndex": index})));
            "end_turn"
        }
        Answer::Calls(calls) => {
            for (i, c) in calls.iter().enumerate() {
                let at = index + i;
                frames.push(event("contentBlockStart", &json!({"contentBlockIndex": at, "start": {"toolUse": {"toolUseId": c.id, "name": c.name}}})));
                for piece in json_pieces(&c.args) {
                    frames.push(event(
                        "contentBlockDelta",
                        &json!({"contentBlockIndex": at, "delta": {"toolUse": {"input": piece}}}),
                    ));
                }
                frames.push(event("contentBlockStop", &json!({"contentBlockIndex": at})));
            }
            "tool_use"
        }
    };
    frames.push(event("messageStop", &json!({"stopReason": stop})));
    frames.push(event("metadata", &json!({"usage": usage(), "metrics": {"latencyMs": 1}})));
    let delay = mock.config.chunk_delay;
    let stream = futures::stream::unfold(frames.into_iter(), move |mut rest| async move {
        let frame = rest.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<bytes::Bytes, std::io::Error>(bytes::Bytes::from(frame)), rest))
    });
    Response::builder()
        .header("content-type", "application/vnd.amazon.eventstream")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// One event-stream message: an event of `kind` with a JSON payload.
pub fn event(kind: &str, payload: &Value) -> Vec<u8> {
    let mut headers = Vec::new();
    for (name, value) in
        [(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")]
    {
        headers.push(name.len() as u8);
        headers.extend_from_slice(name.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let payload = payload.to_string().into_bytes();
    let total = (12 + headers.len() + payload.len() + 4) as u32;
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let prelude = crc32(&out);
    out.extend_from_slice(&prelude.to_be_bytes());
    out.extend_from_slice(&headers);
    out.extend_from_slice(&payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}
