//! Virtual keys table: only the SHA-256 of a key and a display prefix are ever stored.

use serde::Serialize;

use super::{Row, Store, StoreResult};
use crate::io::Value;
use crate::policy::BudgetPeriod;

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
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_concurrent: Option<i64>,
    pub budget_usd: Option<f64>,
    /// Defaults to `total` when a budget is set without one.
    pub budget_period: Option<BudgetPeriod>,
    /// `None`: any client address. `Some(list)`: only these addresses or CIDR blocks.
    pub allowed_ips: Option<Vec<String>>,
    /// Keep request and response bodies in the request log (truncated).
    pub log_bodies: bool,
    pub tags: Vec<String>,
    /// The response cache for this key's requests (`None`: the virtual model's, if any).
    pub cache: Option<crate::answers::CachePolicy>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl VirtualKey {
    /// An enabled key for `secret` with no restrictions: every model, no limits, no body logging.
    pub fn unrestricted(id: String, name: String, secret: &str, now_ms: i64) -> Self {
        Self {
            id,
            name,
            key_hash: crate::auth::vkey::hash(secret),
            key_prefix: crate::auth::vkey::display_prefix(secret),
            enabled: true,
            expires_at: None,
            allowed_models: None,
            rpm_limit: None,
            tpm_limit: None,
            max_concurrent: None,
            budget_usd: None,
            budget_period: None,
            allowed_ips: None,
            log_bodies: false,
            tags: vec![],
            cache: None,
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// Whether this key may call `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.allowed_models.as_ref().is_none_or(|list| list.iter().any(|m| m == model))
    }
}

const COLUMNS: &str = "id, name, key_hash, key_prefix, enabled, expires_at, allowed_models, \
    rpm_limit, tpm_limit, max_concurrent, budget_usd, budget_period, allowed_ips, log_bodies, tags, \
    cache, created_at, updated_at";

fn decode(r: &Row<'_>) -> StoreResult<VirtualKey> {
    let allowed = match r.opt_text("allowed_models")? {
        None => None,
        Some(_) => Some(r.json("allowed_models")?),
    };
    let allowed_ips = match r.opt_text("allowed_ips")? {
        None => None,
        Some(_) => Some(r.json("allowed_ips")?),
    };
    Ok(VirtualKey {
        id: r.text("id")?,
        name: r.text("name")?,
        key_hash: r.text("key_hash")?,
        key_prefix: r.text("key_prefix")?,
        enabled: r.bool("enabled")?,
        expires_at: r.opt_int("expires_at")?,
        allowed_models: allowed,
        rpm_limit: r.opt_int("rpm_limit")?,
        tpm_limit: r.opt_int("tpm_limit")?,
        max_concurrent: r.opt_int("max_concurrent")?,
        budget_usd: r.opt_real("budget_usd")?,
        budget_period: r.opt_text("budget_period")?.as_deref().and_then(BudgetPeriod::parse),
        allowed_ips,
        log_bodies: r.bool("log_bodies")?,
        tags: r.json("tags")?,
        cache: match r.opt_text("cache")? {
            None => None,
            Some(_) => Some(r.json("cache")?),
        },
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

fn allowed_json(k: &VirtualKey) -> Value {
    k.allowed_models.as_ref().and_then(|list| serde_json::to_string(list).ok()).into()
}

/// The policy columns, in `POLICY_SET` order.
fn policy_params(k: &VirtualKey) -> Vec<Value> {
    vec![
        k.rpm_limit.into(),
        k.tpm_limit.into(),
        k.max_concurrent.into(),
        k.budget_usd.into(),
        k.budget_period.map(|p| p.as_str()).into(),
        k.allowed_ips.as_ref().and_then(|list| serde_json::to_string(list).ok()).into(),
        k.log_bodies.into(),
        serde_json::to_string(&k.tags).unwrap_or_else(|_| "[]".into()).into(),
        k.cache.as_ref().and_then(|c| serde_json::to_string(c).ok()).into(),
    ]
}

const POLICY_SET: &str = "rpm_limit = ?, tpm_limit = ?, max_concurrent = ?, budget_usd = ?, \
    budget_period = ?, allowed_ips = ?, log_bodies = ?, tags = ?, cache = ?";

impl Store {
    pub async fn list_keys(&self) -> StoreResult<super::Listed<VirtualKey>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_keys ORDER BY created_at");
        self.query_tolerant("virtual_keys", &sql, vec![], decode).await
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
        let mut values = vec![
            k.id.clone().into(),
            k.name.clone().into(),
            k.key_hash.clone().into(),
            k.key_prefix.clone().into(),
            k.enabled.into(),
            k.expires_at.into(),
            allowed_json(k),
        ];
        values.extend(policy_params(k));
        values.extend([Value::Integer(k.created_at), Value::Integer(k.updated_at)]);
        let placeholders = vec!["?"; values.len()].join(", ");
        let sql = format!("INSERT INTO virtual_keys ({COLUMNS}) VALUES ({placeholders})");
        self.execute(&sql, values).await?;
        Ok(())
    }

    /// Updates the policy fields (never the hash).
    pub async fn update_key(&self, k: &VirtualKey) -> StoreResult<bool> {
        let mut values =
            vec![k.name.clone().into(), k.enabled.into(), k.expires_at.into(), allowed_json(k)];
        values.extend(policy_params(k));
        values.extend([Value::Integer(k.updated_at), k.id.clone().into()]);
        let sql = format!(
            "UPDATE virtual_keys SET name = ?, enabled = ?, expires_at = ?, allowed_models = ?, \
             {POLICY_SET}, updated_at = ? WHERE id = ?"
        );
        Ok(self.execute(&sql, values).await? == 1)
    }

    pub async fn delete_key(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM virtual_keys WHERE id = ?", vec![id.into()]).await? == 1)
    }
}
