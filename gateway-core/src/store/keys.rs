//! Virtual keys table: only the SHA-256 of a key and a display prefix are ever stored.

use serde::Serialize;

use super::{Row, Store, StoreResult};
use crate::io::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualKey {
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub key_hash: String,
    pub key_prefix: String,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// `None`: every model. `Some(list)`: only these model names.
    pub allowed_models: Option<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl VirtualKey {
    /// Whether this key may call `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.allowed_models.as_ref().is_none_or(|list| list.iter().any(|m| m == model))
    }
}

const COLUMNS: &str =
    "id, name, key_hash, key_prefix, enabled, expires_at, allowed_models, created_at, updated_at";

fn decode(r: &Row<'_>) -> StoreResult<VirtualKey> {
    let allowed = match r.opt_text("allowed_models")? {
        None => None,
        Some(_) => Some(r.json("allowed_models")?),
    };
    Ok(VirtualKey {
        id: r.text("id")?,
        name: r.text("name")?,
        key_hash: r.text("key_hash")?,
        key_prefix: r.text("key_prefix")?,
        enabled: r.bool("enabled")?,
        expires_at: r.opt_int("expires_at")?,
        allowed_models: allowed,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

fn allowed_json(k: &VirtualKey) -> Value {
    k.allowed_models.as_ref().and_then(|list| serde_json::to_string(list).ok()).into()
}

impl Store {
    pub async fn list_keys(&self) -> StoreResult<Vec<VirtualKey>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_keys ORDER BY created_at");
        self.query_as(&sql, vec![], decode).await
    }

    pub async fn key(&self, id: &str) -> StoreResult<Option<VirtualKey>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_keys WHERE id = ?");
        self.query_one(&sql, vec![id.into()], decode).await
    }

    pub async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<VirtualKey>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_keys WHERE key_hash = ?");
        self.query_one(&sql, vec![hash.into()], decode).await
    }

    pub async fn insert_key(&self, k: &VirtualKey) -> StoreResult<()> {
        self.execute(
            "INSERT INTO virtual_keys (id, name, key_hash, key_prefix, enabled, expires_at, \
             allowed_models, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                k.id.clone().into(),
                k.name.clone().into(),
                k.key_hash.clone().into(),
                k.key_prefix.clone().into(),
                k.enabled.into(),
                k.expires_at.into(),
                allowed_json(k),
                Value::Integer(k.created_at),
                Value::Integer(k.updated_at),
            ],
        )
        .await?;
        Ok(())
    }

    /// Updates the policy fields (never the hash).
    pub async fn update_key(&self, k: &VirtualKey) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE virtual_keys SET name = ?, enabled = ?, expires_at = ?, allowed_models = ?, \
                 updated_at = ? WHERE id = ?",
                vec![
                    k.name.clone().into(),
                    k.enabled.into(),
                    k.expires_at.into(),
                    allowed_json(k),
                    Value::Integer(k.updated_at),
                    k.id.clone().into(),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn delete_key(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM virtual_keys WHERE id = ?", vec![id.into()]).await? == 1)
    }
}
