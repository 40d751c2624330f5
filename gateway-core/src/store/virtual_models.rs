//! Virtual models: a caller-facing name bound to a routing config (strategy, targets, settings)
//! and prompt rules.

use serde::Serialize;

use super::{Row, Store, StoreError, StoreResult};
use crate::io::Value;
use crate::routing::{RouteConfig, Strategy, Target};
use crate::rules::Rule;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualModel {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub strategy: Strategy,
    pub targets: Vec<Target>,
    pub rules: Vec<Rule>,
    pub config: RouteConfig,
    /// The response cache for requests to this model (a key's own setting wins).
    pub cache: Option<crate::answers::CachePolicy>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, strategy, targets, rules, config, cache, enabled, created_at, updated_at";

fn decode(r: &Row<'_>) -> StoreResult<VirtualModel> {
    let strategy = r.text("strategy")?;
    Ok(VirtualModel {
        id: r.text("id")?,
        name: r.text("name")?,
        description: r.opt_text("description")?,
        strategy: serde_json::from_value(strategy.clone().into()).map_err(|_| {
            StoreError::Decode {
                column: "strategy".into(),
                detail: format!("unknown value {strategy:?}"),
            }
        })?,
        targets: r.json("targets")?,
        rules: r.json("rules")?,
        config: r.json("config")?,
        cache: match r.opt_text("cache")? {
            None => None,
            Some(_) => Some(r.json("cache")?),
        },
        enabled: r.bool("enabled")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

fn json(value: &impl Serialize) -> Value {
    Value::Text(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
}

fn params(v: &VirtualModel) -> Vec<Value> {
    vec![
        v.name.clone().into(),
        v.description.clone().into(),
        Value::Text(strategy_name(v.strategy)),
        json(&v.targets),
        json(&v.rules),
        json(&v.config),
        v.cache.as_ref().map(json).unwrap_or(Value::Null),
        v.enabled.into(),
        Value::Integer(v.updated_at),
    ]
}

/// A strategy as stored: its bare snake_case name.
fn strategy_name(strategy: Strategy) -> String {
    serde_json::to_value(strategy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Store {
    pub async fn list_virtual_models(&self) -> StoreResult<super::Listed<VirtualModel>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_models ORDER BY name");
        self.query_tolerant("virtual_models", &sql, vec![], decode).await
    }

    pub async fn virtual_model(&self, id: &str) -> StoreResult<Option<VirtualModel>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_models WHERE id = ?");
        self.query_one(&sql, vec![id.into()], decode).await
    }

    pub async fn virtual_model_by_name(&self, name: &str) -> StoreResult<Option<VirtualModel>> {
        let sql = format!("SELECT {COLUMNS} FROM virtual_models WHERE name = ?");
        self.query_one(&sql, vec![name.into()], decode).await
    }

    pub async fn insert_virtual_model(&self, v: &VirtualModel) -> StoreResult<()> {
        let mut values = params(v);
        values.insert(0, v.id.clone().into());
        values.push(Value::Integer(v.created_at));
        self.execute(
            "INSERT INTO virtual_models (id, name, description, strategy, targets, rules, config, \
             cache, enabled, updated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        .await?;
        Ok(())
    }

    pub async fn update_virtual_model(&self, v: &VirtualModel) -> StoreResult<bool> {
        let mut values = params(v);
        values.push(v.id.clone().into());
        let changed = self
            .execute(
                "UPDATE virtual_models SET name = ?, description = ?, strategy = ?, targets = ?, \
                 rules = ?, config = ?, cache = ?, enabled = ?, updated_at = ? WHERE id = ?",
                values,
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn delete_virtual_model(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM virtual_models WHERE id = ?", vec![id.into()]).await? == 1)
    }

    /// Whether a real model or a virtual model already uses `name` (they share one namespace).
    pub async fn model_name_taken(&self, name: &str, except_id: &str) -> StoreResult<bool> {
        let n = self
            .query_one(
                "SELECT (SELECT COUNT(*) FROM models WHERE name = ? AND id != ?) + \
                 (SELECT COUNT(*) FROM virtual_models WHERE name = ? AND id != ?) AS n",
                vec![name.into(), except_id.into(), name.into(), except_id.into()],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0);
        Ok(n > 0)
    }
}
