//! The core's store on a real libSQL file: migrations, every table's queries, constraint mapping,
//! transactions, and two connections racing on one file (as two instances would).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use gateway_core::io::{Stmt, Value};
use gateway_core::provider::{
    AuthScheme, Isolation, MaxTokensField, Protocol, Provider, Quirks, SystemTo,
};
use gateway_core::store::Store;
use gateway_core::store::keys::VirtualKey;
use gateway_core::store::logs::{LogFilter, LogRecord};
use gateway_core::store::models::Model;
use gateway_core::store::users::User;
use gateway_native::open_database;

async fn fresh() -> (tempfile::TempDir, Store, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/gateway.db").to_string_lossy().into_owned();
    let store = Store::new(open_database(&path, None).await.unwrap());
    store.migrate(1).await.unwrap();
    (dir, store, path)
}

fn provider(id: &str, name: &str) -> Provider {
    Provider {
        id: id.into(),
        name: name.into(),
        protocol: Protocol::OpenaiChat,
        base_url: "http://127.0.0.1:1/v1".into(),
        auth_scheme: AuthScheme::Bearer,
        credentials: vec![gateway_core::provider::Credential {
            id: "c1".into(),
            label: Some("main".into()),
            sealed: "v1:sealed".into(),
            weight: 2,
            disabled: None,
        }],
        extra_headers: BTreeMap::from([("x-team".into(), "a".into())]),
        isolation: Isolation { strip_instructions: true, system_to: Some(SystemTo::Developer) },
        quirks: Quirks {
            max_tokens_field: Some(MaxTokensField::MaxCompletionTokens),
            api_version: None,
        },
        enabled: true,
        created_at: 1,
        updated_at: 1,
    }
}

fn model(id: &str, name: &str, provider_id: &str) -> Model {
    Model {
        id: id.into(),
        name: name.into(),
        provider_id: provider_id.into(),
        upstream_model: format!("up-{name}"),
        display_name: Some("Display".into()),
        enabled: true,
        context_window: Some(128_000),
        max_output_tokens: None,
        input_cost_per_token: Some(1e-6),
        output_cost_per_token: Some(2e-6),
        cached_input_cost_per_token: None,
        cache_write_cost_per_token: None,
        capabilities: serde_json::from_str(r#"{"vision":true}"#).unwrap(),
        unit_prices: gateway_core::store::models::UnitPrices {
            per_image: Some(0.04),
            ..Default::default()
        },
        created_at: 1,
        updated_at: 1,
    }
}

#[tokio::test]
async fn migrations_create_the_schema_once_and_directories_on_the_way() {
    let (_dir, store, path) = fresh().await;
    assert!(std::path::Path::new(&path).exists());
    assert_eq!(store.migrate(2).await.unwrap(), Vec::<i64>::new(), "second run applies nothing");
    let reopened = Store::new(open_database(&path, None).await.unwrap());
    assert!(reopened.migrate(3).await.unwrap().is_empty());
    assert_eq!(reopened.count_users().await.unwrap(), 0);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (_dir, _store, path) = fresh().await;
    let db = open_database(&path, None).await.unwrap();
    db.execute(Stmt::new(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        vec![],
    ))
    .await
    .unwrap();
    let err = Store::new(db).migrate(5).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn two_instances_migrating_one_file_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db").to_string_lossy().into_owned();
    let a = Store::new(open_database(&path, None).await.unwrap());
    let b = Store::new(open_database(&path, None).await.unwrap());
    let (ra, rb) = tokio::join!(a.migrate(1), b.migrate(1));
    let applied = ra.unwrap().len() + rb.unwrap().len();
    let known = gateway_core::store::migrate::MIGRATIONS.len();
    assert_eq!(applied, known, "each migration applied by exactly one instance");
}

#[tokio::test]
async fn first_user_is_created_exactly_once() {
    let (_dir, store, _) = fresh().await;
    let user = |id: &str, name: &str| User {
        id: id.into(),
        username: name.into(),
        password_hash: "h".into(),
        role: "admin".into(),
        token_version: 0,
        created_at: 1,
        updated_at: 1,
    };
    assert!(store.create_first_user(&user("u1", "admin")).await.unwrap());
    assert!(!store.create_first_user(&user("u2", "other")).await.unwrap());
    assert_eq!(store.count_users().await.unwrap(), 1);
    store.set_password("u1", "h2", 5).await.unwrap();
    let loaded = store.user_by_username("admin").await.unwrap().unwrap();
    assert_eq!((loaded.password_hash.as_str(), loaded.token_version), ("h2", 1));
    assert!(!store.delete_user("u1").await.unwrap(), "the last user stays");
}

#[tokio::test]
async fn settings_keep_the_first_value_written() {
    let (_dir, store, _) = fresh().await;
    assert_eq!(store.setting_or_insert("k", "first", 1).await.unwrap(), "first");
    assert_eq!(store.setting_or_insert("k", "second", 2).await.unwrap(), "first");
    store.put_setting("k", "third", 3).await.unwrap();
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("third"));
}

#[tokio::test]
async fn providers_and_models_round_trip_and_enforce_references() {
    let (_dir, store, _) = fresh().await;
    let p = provider("p1", "OpenAI");
    store.insert_provider(&p).await.unwrap();
    assert_eq!(store.provider("p1").await.unwrap().unwrap(), p);
    let dup = store.insert_provider(&provider("p2", "OpenAI")).await.unwrap_err();
    assert!(dup.is_constraint(), "{dup:?}");

    let m = model("m1", "gpt-x", "p1");
    store.insert_model(&m).await.unwrap();
    assert_eq!(store.model_by_name("gpt-x").await.unwrap().unwrap(), m);
    let servable = store.list_servable_models().await.unwrap();
    assert_eq!(servable.items, vec![(m.clone(), "OpenAI".to_string())]);

    assert_eq!(store.delete_provider("p1").await.unwrap(), None, "in use by a model");
    let mut disabled = p.clone();
    disabled.enabled = false;
    assert!(store.update_provider(&disabled).await.unwrap());
    assert!(store.list_servable_models().await.unwrap().items.is_empty());
    assert!(store.delete_model("m1").await.unwrap());
    assert_eq!(store.delete_provider("p1").await.unwrap(), Some(true));
    assert_eq!(store.delete_provider("p1").await.unwrap(), Some(false));
}

/// Refused credentials are disabled one by one, never the last enabled one — also when two
/// instances refuse two keys at once (the stored list is compared before it is replaced).
#[tokio::test]
async fn the_last_enabled_credential_is_never_disabled() {
    let (_dir, store, path) = fresh().await;
    let mut p = provider("p1", "OpenAI");
    let mut second = p.credentials[0].clone();
    second.id = "c2".into();
    p.credentials.push(second);
    store.insert_provider(&p).await.unwrap();
    let why = |at| gateway_core::provider::Disabled { reason: "401".into(), at };
    // Two instances on one file, each refusing a different key at the same moment.
    let other = Store::new(open_database(&path, None).await.unwrap());
    let (a, b) = tokio::join!(
        store.disable_credential("p1", "c1", why(1)),
        other.disable_credential("p1", "c2", why(1))
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|d| **d).count(), 1, "one of two");
    let stored = store.provider("p1").await.unwrap().unwrap();
    let enabled: Vec<&str> =
        stored.credentials.iter().filter(|c| c.disabled.is_none()).map(|c| c.id.as_str()).collect();
    assert_eq!(enabled.len(), 1, "{stored:?}");
    assert!(!store.disable_credential("p1", enabled[0], why(2)).await.unwrap(), "the last");
    assert!(!store.disable_credential("p1", "nope", why(2)).await.unwrap());
}

#[tokio::test]
async fn keys_are_found_by_hash_and_keep_their_policy() {
    let (_dir, store, _) = fresh().await;
    let mut key = VirtualKey {
        id: "k1".into(),
        name: "team".into(),
        key_hash: "abc".into(),
        key_prefix: "sk-gw-1234".into(),
        enabled: true,
        expires_at: Some(99),
        allowed_models: Some(vec!["gpt-x".into()]),
        rpm_limit: Some(10),
        tpm_limit: None,
        max_concurrent: Some(2),
        budget_usd: Some(1.5),
        budget_period: Some(gateway_core::policy::BudgetPeriod::Month),
        allowed_ips: Some(vec!["10.0.0.0/8".into()]),
        log_bodies: true,
        tags: vec!["team-a".into()],
        cache: Some(serde_json::from_value(serde_json::json!({"ttl_s": 60})).unwrap()),
        created_at: 1,
        updated_at: 1,
    };
    store.insert_key(&key).await.unwrap();
    assert_eq!(store.key_by_hash("abc").await.unwrap().unwrap(), key);
    key.allowed_models = None;
    key.enabled = false;
    assert!(store.update_key(&key).await.unwrap());
    assert_eq!(store.key("k1").await.unwrap().unwrap(), key);
    assert!(store.delete_key("k1").await.unwrap());
    assert!(store.key_by_hash("abc").await.unwrap().is_none());
}

#[tokio::test]
async fn logs_are_written_and_read_back_newest_first() {
    let (_dir, store, _) = fresh().await;
    for i in 0..3 {
        let log = LogRecord {
            id: format!("l{i}"),
            created_at: i,
            request_id: format!("r{i}"),
            endpoint: "/v1/chat/completions".into(),
            status: 200,
            latency_ms: 5,
            input_tokens: Some(10 + i),
            cost_usd: Some(0.5),
            ..Default::default()
        };
        store.insert_log(&log).await.unwrap();
    }
    let all_filter = LogFilter::default();
    let (all, total) = store.search_logs(&all_filter, 10, 0).await.unwrap();
    assert_eq!(all.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["l2", "l1", "l0"]);
    assert_eq!(total, 3);
    let by_id = LogFilter { request_id: Some("r1".into()), ..LogFilter::default() };
    let (one, _) = store.search_logs(&by_id, 10, 0).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].input_tokens, Some(11));
    assert_eq!(store.search_logs(&all_filter, 1, 1).await.unwrap().0[0].id, "l1");
    let window = LogFilter { from_ms: Some(1), to_ms: Some(2), ..LogFilter::default() };
    assert_eq!(store.search_logs(&window, 10, 0).await.unwrap().1, 1);
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_behind() {
    let (_dir, _store, path) = fresh().await;
    let db = open_database(&path, None).await.unwrap();
    let insert = |k: &str| {
        Stmt::new(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, 'v', 0)",
            vec![Value::Text(k.into())],
        )
    };
    let err = db.batch(vec![insert("a"), insert("b"), insert("a")]).await.unwrap_err();
    assert!(matches!(err, gateway_core::SqlError::Constraint(_)), "{err:?}");
    let rows = db.query(Stmt::new("SELECT COUNT(*) FROM settings", vec![])).await.unwrap();
    assert_eq!(rows.rows[0][0], Value::Integer(0));
    // The pool still works after the failure.
    assert_eq!(db.batch(vec![insert("c")]).await.unwrap(), vec![1]);
}

#[tokio::test]
async fn concurrent_writers_do_not_lose_rows() {
    let (_dir, store, _) = fresh().await;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let log = LogRecord {
                id: format!("c{i}"),
                request_id: format!("c{i}"),
                endpoint: "/x".into(),
                ..Default::default()
            };
            store.insert_log(&log).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.search_logs(&LogFilter::default(), 100, 0).await.unwrap().1, 50);
}

#[tokio::test]
async fn rollups_outlive_pruned_logs() {
    let (_dir, store, _) = fresh().await;
    let day = 86_400_000;
    for (i, (t, status)) in
        [(day + 5, 200), (day + 9, 502), (2 * day + 1, 200)].into_iter().enumerate()
    {
        let log = LogRecord {
            id: format!("l{i}"),
            created_at: t,
            request_id: format!("r{i}"),
            endpoint: "/v1/chat/completions".into(),
            model_requested: Some("m".into()),
            status,
            latency_ms: 10,
            input_tokens: Some(3),
            output_tokens: Some(2),
            cost_usd: Some(0.25),
            key_id: Some("k1".into()),
            ..Default::default()
        };
        store.insert_log(&log).await.unwrap();
    }
    let deleted = store.roll_up_and_prune(2 * day, 2 * day).await.unwrap();
    assert_eq!(deleted, 2);
    let rollups = store.rollups("1970-01-01").await.unwrap();
    assert_eq!(rollups, vec![("1970-01-02".to_string(), 2, 1, 10, 0.5)]);
    assert_eq!(store.search_logs(&LogFilter::default(), 10, 0).await.unwrap().1, 1);
    // What a key spent, for a limit store that lost its counter: the pruned days from their
    // rollups, the rest from the logs, each counted once.
    let spent = |from| store.spent_since("k1", from);
    assert_eq!(spent(0).await.unwrap(), 0.75, "a total budget");
    assert_eq!(spent(day).await.unwrap(), 0.75, "from the first day");
    assert_eq!(spent(2 * day).await.unwrap(), 0.25, "only the kept day");
    assert_eq!(spent(3 * day).await.unwrap(), 0.0);
    assert_eq!(store.spent_since("k2", 0).await.unwrap(), 0.0, "another key");
}

/// A row the code cannot read — a `check_config` written by hand with a field this version does
/// not know, a provider whose `quirks` is not JSON — is reported and skipped: the rest of its list
/// still comes back.
#[tokio::test]
async fn unreadable_rows_are_reported_and_skipped_not_fatal() {
    let (_dir, store, _) = fresh().await;
    store.insert_provider(&provider("p1", "Good")).await.unwrap();
    store.insert_provider(&provider("p2", "Bad")).await.unwrap();
    let db = open_database(&_dir.path().join("nested/dir/gateway.db").to_string_lossy(), None)
        .await
        .unwrap();
    db.execute(Stmt::new("UPDATE providers SET quirks = 'not json' WHERE id = 'p2'", vec![]))
        .await
        .unwrap();
    for (id, config) in [("ht_ok", "{}"), ("ht_bad", r#"{"timeout_ms": 1000, "retries": 3}"#)] {
        db.execute(Stmt::new(
            "INSERT INTO health_targets (id, name, type, target_id, enabled, check_interval_seconds, \
             check_prompt, check_config, created_at, updated_at) \
             VALUES (?, ?, 'model', 'm', 1, 60, 'Say OK', ?, 1, 1)",
            vec![id.into(), id.into(), config.into()],
        ))
        .await
        .unwrap();
    }
    let providers = store.list_providers().await.unwrap();
    assert_eq!(providers.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["p1"]);
    assert_eq!(providers.skipped.len(), 1);
    assert_eq!(providers.skipped[0].id, "p2");
    let targets = store.list_health_targets().await.unwrap();
    assert_eq!(targets.items.len(), 1);
    assert_eq!(targets.skipped[0].id, "ht_bad");
    assert!(targets.skipped[0].problem.contains("retries"), "{:?}", targets.skipped);
}
