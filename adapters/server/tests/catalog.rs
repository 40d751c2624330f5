//! The model catalog API on the real binary, with LiteLLM's and models.dev's lists served from
//! fixtures on 127.0.0.1 by the mock upstream (the public URLs cannot be reached from tests):
//! refresh on first search, ranking, apply, and the gateway with no catalog or a broken source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

const PASSWORD: &str = "catalog-admin-pass";

/// The server with the catalog sources given (`off` for none), and an admin session.
async fn start(db: &std::path::Path, litellm: &str, models_dev: &str) -> (GatewayProcess, Admin) {
    let env = [
        ("ADMIN_PASSWORD", PASSWORD),
        ("CATALOG_URL", litellm),
        ("CATALOG_MODELS_DEV_URL", models_dev),
    ];
    let gw = GatewayProcess::start(db, &env);
    let admin = Admin::login(&gw.base, "admin", PASSWORD).await;
    (gw, admin)
}

/// An OpenAI-compatible provider on the mock.
fn openai(mock: &std::net::SocketAddr) -> Value {
    json!({"name": "oa", "base_url": format!("http://{mock}/v1"), "api_key": "k"})
}

/// The status of a chat completion for `model` with a new virtual key.
async fn chat_status(gw: &GatewayProcess, admin: &Admin, model: &str) -> u16 {
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "k"})).await;
    support::chat(&gw.base, key["key"].as_str().unwrap(), model, false).await.status().as_u16()
}

fn names(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["source"].as_str().unwrap(), e["name"].as_str().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_is_fetched_searched_ranked_and_applied() {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let litellm = format!("http://{mock}/catalog/litellm.json");
    let models_dev = format!("http://{mock}/catalog/models-dev.json");
    let (_gw, admin) = start(&db, &litellm, &models_dev).await;

    // The first search finds no stored copy: it fetches both sources, then ranks.
    let (status, page) = admin.get("/api/admin/catalog?q=GPT-4o&limit=10").await;
    assert_eq!(status, 200, "{page}");
    let counts: Vec<(String, i64)> = page["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["source"].as_str().unwrap().to_owned(), s["count"].as_i64().unwrap()))
        .collect();
    // LiteLLM's image model counts too (it prices the relayed images endpoints).
    assert_eq!(counts, [("litellm".to_owned(), 7), ("models.dev".to_owned(), 2)], "{page}");
    assert!(page["refreshed"]["sources"].is_array(), "the first search refreshed: {page}");
    assert_eq!(
        names(&page),
        [
            "litellm:gpt-4o",
            "models.dev:gpt-4o",
            "litellm:azure/gpt-4o",
            "litellm:gpt-4o-mini",
            "litellm:chatgpt-4o-latest"
        ],
        "exact, then prefix, then substring"
    );
    let gpt = &page["data"][0];
    assert_eq!(gpt["context_window"], 128000);
    assert_eq!(gpt["cached_input_cost_per_token"], 1.25e-6);
    assert_eq!(gpt["capabilities"]["tools"], true);

    // A second search uses the stored copy (refreshed at most daily).
    let (_, again) = admin.get("/api/admin/catalog?q=deepseek").await;
    assert!(again["refreshed"].is_null(), "{again}");
    assert_eq!(names(&again), ["models.dev:deepseek-chat"]);
    assert_eq!(again["data"][0]["input_cost_per_token"], 0.27e-6);
    let (status, bad) = admin.get("/api/admin/catalog?q=x&limit=0").await;
    assert_eq!((status, bad["error"]["field"].as_str()), (400, Some("limit")));

    // On demand.
    let (status, report) = admin.post("/api/admin/catalog/refresh", json!({})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sources"][0]["count"], 7);
    let (_, images) = admin.get("/api/admin/catalog?q=dall-e&limit=5").await;
    assert_eq!(images["data"][0]["name"], "dall-e-3", "{images}");
    assert_eq!(images["data"][0]["unit_prices"]["per_image"], 0.04, "{images}");

    // Apply an entry to a model: limits, prices and capability flags are filled in.
    let provider = admin.provider(openai(&mock)).await;
    let (_, model) = admin
        .post(
            "/api/admin/models",
            json!({"name": "my-gpt", "provider_id": provider, "upstream_model": "mock-text",
                   "capabilities": {"custom": true}}),
        )
        .await;
    let apply = json!({"model_id": model["id"], "source": "litellm", "name": "gpt-4o"});
    let (status, applied) = admin.post("/api/admin/catalog/apply", apply).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(
        (&applied["context_window"], &applied["max_output_tokens"]),
        (&json!(128000), &json!(16384))
    );
    assert_eq!(applied["input_cost_per_token"], 2.5e-6);
    assert_eq!(applied["output_cost_per_token"], 1e-5);
    assert_eq!(applied["capabilities"]["vision"], true);
    assert_eq!(applied["capabilities"]["custom"], true, "existing flags are kept");
    let (_, stored) =
        admin.get(&format!("/api/admin/models/{}", model["id"].as_str().unwrap())).await;
    assert_eq!(stored["input_cost_per_token"], 2.5e-6);
    // Prompt-cache prices: reads and writes each have their own.
    let apply = json!({"model_id": model["id"], "source": "litellm", "name": "claude-sonnet-4-5"});
    let (status, applied) = admin.post("/api/admin/catalog/apply", apply).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(
        (&applied["cached_input_cost_per_token"], &applied["cache_write_cost_per_token"]),
        (&json!(3e-7), &json!(3.75e-6))
    );
    let missing = json!({"model_id": model["id"], "source": "litellm", "name": "nope"});
    assert_eq!(admin.post("/api/admin/catalog/apply", missing).await.0, 404);
    let unknown = json!({"model_id": "mdl_nope", "source": "litellm", "name": "gpt-4o"});
    assert_eq!(admin.post("/api/admin/catalog/apply", unknown).await.0, 404);
    let (status, body) = admin.post("/api/admin/catalog/apply", json!({"model_id": 1})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_works_with_no_catalog_and_with_a_broken_source() {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    for (litellm, models_dev) in [
        ("off".to_owned(), "off".to_owned()),
        (format!("http://{mock}/catalog/broken.json"), "http://127.0.0.1:1/api.json".to_owned()),
    ] {
        let (_dir, db) = temp_db();
        let (gw, admin) = start(&db, &litellm, &models_dev).await;
        let (status, page) = admin.get("/api/admin/catalog?q=gpt").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["data"], json!([]), "{litellm}: {page}");
        // Searches do not retry a failing source each time: one attempt per source, then the
        // stored (empty) copy until the retry interval passes.
        for _ in 0..3 {
            let (status, again) = admin.get("/api/admin/catalog?q=gpt").await;
            assert_eq!((status, &again["refreshed"]), (200, &Value::Null), "{again}");
        }
        let failures = |gw: &GatewayProcess| {
            gw.log_lines().iter().filter(|l| l.contains("could not be fetched")).count()
        };
        assert_eq!(failures(&gw), if litellm == "off" { 0 } else { 2 }, "{:?}", gw.log_lines());
        let (status, report) = admin.post("/api/admin/catalog/refresh", json!({})).await;
        if litellm == "off" {
            assert_eq!(status, 409, "{report}");
        } else {
            assert_eq!(status, 200, "{report}");
            assert!(report["sources"][0]["error"].as_str().unwrap().contains("500"), "{report}");
            assert!(report["sources"][1]["error"].is_string(), "{report}");
        }

        // Models and traffic do not need it.
        let provider = admin.provider(openai(&mock)).await;
        let (status, _) = admin
            .post(
                "/api/admin/models",
                json!({"name": "m", "provider_id": provider, "upstream_model": "mock-text"}),
            )
            .await;
        assert_eq!(status, 201);
        assert_eq!(chat_status(&gw, &admin, "m").await, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_are_tested_their_models_fetched_and_imported_in_bulk() {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let (gw, admin) = start(&db, "off", "off").await;
    let mut providers = Vec::new();
    for (name, protocol, base) in [
        ("oa", "openai_chat", format!("http://{mock}/v1")),
        ("an", "anthropic_messages", format!("http://{mock}/v1")),
        ("gm", "gemini", format!("http://{mock}/v1beta")),
    ] {
        let body = json!({"name": name, "protocol": protocol, "base_url": base, "api_key": "k"});
        providers.push(admin.provider(body).await);
    }
    let want: Vec<Value> = {
        let mut ids = mock_upstream::catalog::LISTED.to_vec();
        ids.sort();
        ids.into_iter().map(|id| json!({"id": id})).collect()
    };
    for id in &providers {
        let (status, test) =
            admin.post(&format!("/api/admin/providers/{id}/test"), json!({})).await;
        assert_eq!((status, &test["ok"]), (200, &json!(true)), "{test}");
        assert_eq!(test["models"], 3);
        let (status, models) = admin.get(&format!("/api/admin/providers/{id}/models")).await;
        assert_eq!(status, 200, "{models}");
        assert_eq!(models["data"], json!(want), "Gemini's `models/` prefix is dropped too");
    }

    // A provider without a credential, and one that is down: the test says why.
    let bare = admin
        .provider(
            json!({"name": "bare", "base_url": format!("http://{mock}/v1"), "auth_scheme": "none"}),
        )
        .await;
    let (status, test) = admin.post(&format!("/api/admin/providers/{bare}/test"), json!({})).await;
    assert_eq!((status, &test["ok"]), (200, &json!(false)), "{test}");
    assert_eq!(test["error"]["code"], "upstream_auth_error", "{test}");
    let down_id =
        admin.provider(json!({"name": "down", "base_url": "http://127.0.0.1:1/v1"})).await;
    let (_, test) = admin.post(&format!("/api/admin/providers/{down_id}/test"), json!({})).await;
    assert_eq!(test["ok"], false, "{test}");
    let (status, body) = admin.get(&format!("/api/admin/providers/{down_id}/models")).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(admin.get("/api/admin/providers/nope/models").await.0, 404);

    // Bulk import of the fetched list: created in order; a second run skips the duplicates.
    let models: Vec<Value> = mock_upstream::catalog::LISTED
        .iter()
        .map(|id| json!({"name": format!("oa-{id}"), "provider_id": providers[0], "upstream_model": id}))
        .chain([json!({"name": "broken", "provider_id": providers[0], "context_window": "big"})])
        .collect();
    let (status, report) = admin.post("/api/admin/models/bulk", json!({"models": models})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 3, "{report}");
    let statuses: Vec<i64> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 201, 400]);
    let (_, again) = admin.post("/api/admin/models/bulk", json!({"models": models})).await;
    assert_eq!(again["created"], 0);
    assert_eq!(again["results"][0]["status"], 409);
    assert_eq!(admin.post("/api/admin/models/bulk", json!({"models": []})).await.0, 400);

    // The imported models serve traffic at once.
    assert_eq!(chat_status(&gw, &admin, "oa-mock-text").await, 200);
}
