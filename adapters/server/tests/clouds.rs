//! Cloud providers against the real binary and the mock upstream checking what the real services
//! check: Amazon Bedrock behind SigV4 (the mock recomputes each signature), Vertex AI behind Google's token endpoint (the mock verifies the RS256 assertion against
//! the test key's public half), Azure OpenAI deployments (`api-key` and `api-version`) and Entra ID
//! (client credentials). Concurrent first requests share one token exchange; a key the services
//! refuse — a wrong signature, a wrong secret, a wrong api-key, an unknown access key — comes back as that provider's
//! auth error, with the service's own words and no secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, chat, temp_db};

const OTHER_KEY: &str = include_str!("../../../tools/mock-upstream/testdata/other-key.pem");

/// A model `name` on a new provider made of `provider`.
async fn model_on(admin: &Admin, name: &str, provider: Value, upstream: &str) {
    let id = admin.provider(provider).await;
    let (status, model) = admin
        .post(
            "/api/admin/models",
            json!({"name": name, "provider_id": id, "upstream_model": upstream}),
        )
        .await;
    assert_eq!(status, 201, "{model}");
}

async fn answer(gw: &GatewayProcess, key: &str, model: &str) -> (u16, Value) {
    let response = chat(&gw.base, key, model, false).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_and_azure_authenticate_as_the_real_services_demand() {
    let (mock_addr, mock) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "clouds-pass")]);
    let admin = Admin::login(&gw.base, "admin", "clouds-pass").await;
    let token_uri = format!("http://{mock_addr}/google/token");
    let account = mock_upstream::cloud::service_account(&token_uri);
    let mut forged: Value = serde_json::from_str(&account).unwrap();
    forged["private_key"] = json!(OTHER_KEY);
    let vertex =
        format!("http://{mock_addr}/v1/projects/mock-project/locations/us-east5/publishers");
    let app = |secret: &str| {
        json!({"tenant_id": "contoso", "client_id": mock_upstream::cloud::ENTRA_CLIENT_ID,
               "client_secret": secret, "authority_host": format!("http://{mock_addr}/entra")})
        .to_string()
    };
    let azure = format!("http://{mock_addr}/openai");
    let aws = |key: &str, secret: &str| {
        json!({"access_key_id": key, "secret_access_key": secret, "region": "us-east-1"})
            .to_string()
    };
    let bedrock = format!("http://{mock_addr}");
    use mock_upstream::bedrock::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};
    let providers = [
        (
            "gemini",
            json!({"preset": "vertex-gemini", "name": "vg", "base_url": format!("{vertex}/google"), "api_key": account}),
            "mock-text",
        ),
        (
            "claude",
            json!({"preset": "vertex-anthropic", "name": "va", "base_url": format!("{vertex}/anthropic"), "api_key": account}),
            "mock-text",
        ),
        (
            "forged",
            json!({"preset": "vertex-gemini", "name": "vf", "base_url": format!("{vertex}/google"), "api_key": forged.to_string()}),
            "mock-text",
        ),
        (
            "azure-key",
            json!({"preset": "azure-openai-deployments", "name": "ak", "base_url": azure, "api_key": mock_upstream::cloud::AZURE_API_KEY}),
            "mock-text",
        ),
        (
            "azure-wrong-key",
            json!({"preset": "azure-openai-deployments", "name": "aw", "base_url": azure, "api_key": "not-the-key"}),
            "mock-text",
        ),
        (
            "azure-entra",
            json!({"preset": "azure-openai-deployments", "name": "ae", "base_url": azure, "auth_scheme": "azure_entra", "api_key": app(mock_upstream::cloud::ENTRA_CLIENT_SECRET)}),
            "mock-text",
        ),
        (
            "azure-wrong-secret",
            json!({"preset": "azure-openai-deployments", "name": "ax", "base_url": azure, "auth_scheme": "azure_entra", "api_key": app("wrong-secret")}),
            "mock-text",
        ),
        (
            "bedrock",
            json!({"name": "bk", "protocol": "bedrock_converse", "auth_scheme": "aws_sigv4", "base_url": bedrock, "api_key": aws(ACCESS_KEY_ID, SECRET_ACCESS_KEY)}),
            "anthropic.mock-text-v1:0",
        ),
        (
            "bedrock-wrong-secret",
            json!({"name": "bw", "protocol": "bedrock_converse", "auth_scheme": "aws_sigv4", "base_url": bedrock, "api_key": aws(ACCESS_KEY_ID, "not-the-secret")}),
            "anthropic.mock-text-v1:0",
        ),
        (
            "bedrock-unknown-key",
            json!({"name": "bu", "protocol": "bedrock_converse", "auth_scheme": "aws_sigv4", "base_url": bedrock, "api_key": aws("AKIAUNKNOWN", SECRET_ACCESS_KEY)}),
            "anthropic.mock-text-v1:0",
        ),
    ];
    for (name, provider, upstream) in providers {
        model_on(&admin, name, provider, upstream).await;
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "k"})).await;
    let key = key["key"].as_str().unwrap().to_owned();

    // Eight concurrent first requests to Gemini on Vertex: one token exchange serves them all.
    let calls = (0..8).map(|_| answer(&gw, &key, "gemini"));
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
        assert!(body["choices"][0]["message"]["content"].as_str().unwrap().starts_with("Hello"));
    }
    assert_eq!(mock.issued.google_exchanges.load(Ordering::Relaxed), 1);
    let (status, body) = answer(&gw, &key, "claude").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.issued.google_exchanges.load(Ordering::Relaxed), 2, "one per provider");

    for (model, words) in [
        ("forged", "invalid_grant: Invalid JWT Signature."),
        ("azure-wrong-key", "Access denied due to invalid subscription key"),
        ("azure-wrong-secret", "AADSTS7000215: Invalid client secret provided"),
        ("bedrock-wrong-secret", "The request signature we calculated does not match"),
        ("bedrock-unknown-key", "The security token included in the request is invalid."),
    ] {
        let (status, body) = answer(&gw, &key, model).await;
        assert_eq!(status, 502, "{model}: {body}");
        assert_eq!(body["error"]["code"], "upstream_auth_error", "{model}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{model}: {message}");
        assert!(
            !message.contains("PRIVATE KEY")
                && !message.contains("wrong-secret")
                && !message.contains("not-the-secret"),
            "{message}"
        );
    }
    for model in ["azure-key", "azure-entra", "bedrock"] {
        let (status, body) = answer(&gw, &key, model).await;
        assert_eq!(status, 200, "{model}: {body}");
    }
    assert_eq!(
        mock.issued.entra_exchanges.load(Ordering::Relaxed),
        2,
        "the refused one and the good one"
    );
    let logs = gw.stop().join("\n");
    assert!(
        !logs.contains("PRIVATE KEY")
            && !logs.contains("ya29.")
            && !logs.contains(mock_upstream::cloud::ENTRA_CLIENT_SECRET),
        "a secret in the logs"
    );
}
