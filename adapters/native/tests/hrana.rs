//! The core's Hrana client (the Workers' way to Turso) against the Hrana v3 test double: the
//! store's migrations, queries, all-or-nothing batches and constraint errors. (Key limits over
//! Hrana, racing, are in `limits.rs`'s suite.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use gateway_core::hrana::HranaExec;
use gateway_core::io::{SqlError, SqlExec, Stmt, Value};
use gateway_core::store::Store;
use gateway_core::{HttpClient, Secret};
use gateway_native::ReqwestClient;

async fn remote() -> (tempfile::TempDir, Arc<HranaExec>) {
    let dir = tempfile::tempdir().unwrap();
    let url = hrana_test_server::spawn(dir.path().join("r.db").to_str().unwrap(), Some("tok"))
        .await
        .unwrap();
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new().unwrap());
    (dir, Arc::new(HranaExec::new(http, &url, Some(Secret::new("tok")))))
}

#[tokio::test]
async fn store_runs_over_hrana() {
    let (_dir, exec) = remote().await;
    let store = Store::new(exec.clone());
    assert!(!store.migrate(1).await.unwrap().is_empty());
    assert!(store.migrate(2).await.unwrap().is_empty(), "migrations are recorded remotely");
    assert_eq!(store.setting_or_insert("k", "v1", 0).await.unwrap(), "v1");
    assert_eq!(store.setting_or_insert("k", "v2", 0).await.unwrap(), "v1");
    let insert = |k: &str| {
        Stmt::new(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, 'x', 0)",
            vec![Value::Text(k.into())],
        )
    };
    let err = exec.batch(vec![insert("a"), insert("a")]).await.unwrap_err();
    assert!(matches!(err, SqlError::Constraint(_)), "{err:?}");
    let rows = exec
        .query(Stmt::new("SELECT COUNT(*) AS n FROM settings WHERE key = 'a'", vec![]))
        .await
        .unwrap();
    assert_eq!(rows.rows[0][0], Value::Integer(0), "the failed batch left nothing");
    assert_eq!(exec.batch(vec![insert("b"), insert("c")]).await.unwrap(), vec![1, 1]);
    let blob = exec
        .query(Stmt::new(
            "SELECT ? AS b, ? AS r, ? AS n",
            vec![Value::Blob(vec![0, 255]), Value::Real(1.5), Value::Null],
        ))
        .await
        .unwrap();
    assert_eq!(blob.rows[0], vec![Value::Blob(vec![0, 255]), Value::Real(1.5), Value::Null]);
}

#[tokio::test]
async fn a_wrong_token_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let url = hrana_test_server::spawn(dir.path().join("r.db").to_str().unwrap(), Some("right"))
        .await
        .unwrap();
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new().unwrap());
    let exec = HranaExec::new(http, &url, Some(Secret::new("wrong")));
    let err = exec.execute(Stmt::new("SELECT 1", vec![])).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
