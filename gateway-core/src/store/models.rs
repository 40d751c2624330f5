//! Models table: the names callers use, each bound to a provider and an upstream model id.

use serde::Serialize;

use super::{Row, Store, StoreResult};
use crate::io::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    pub id: String,
    /// The name callers send as `model`.
    pub name: String,
    pub provider_id: String,
    /// The id sent upstream in place of `name`.
    pub upstream_model: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub cached_input_cost_per_token: Option<f64>,
    pub capabilities: serde_json::Map<String, serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, provider_id, upstream_model, display_name, enabled, context_window, \
    max_output_tokens, input_cost_per_token, output_cost_per_token, cached_input_cost_per_token, \
    capabilities, created_at, updated_at";

fn decode(r: &Row<'_>) -> StoreResult<Model> {
    Ok(Model {
        id: r.text("id")?,
        name: r.text("name")?,
        provider_id: r.text("provider_id")?,
        upstream_model: r.text("upstream_model")?,
        display_name: r.opt_text("display_name")?,
        enabled: r.bool("enabled")?,
        context_window: r.opt_int("context_window")?,
        max_output_tokens: r.opt_int("max_output_tokens")?,
        input_cost_per_token: r.opt_real("input_cost_per_token")?,
        output_cost_per_token: r.opt_real("output_cost_per_token")?,
        cached_input_cost_per_token: r.opt_real("cached_input_cost_per_token")?,
        capabilities: r.json("capabilities")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

fn params(m: &Model) -> Vec<Value> {
    vec![
        m.name.clone().into(),
        m.provider_id.clone().into(),
        m.upstream_model.clone().into(),
        m.display_name.clone().into(),
        m.enabled.into(),
        m.context_window.into(),
        m.max_output_tokens.into(),
        m.input_cost_per_token.into(),
        m.output_cost_per_token.into(),
        m.cached_input_cost_per_token.into(),
        serde_json::Value::Object(m.capabilities.clone()).to_string().into(),
        Value::Integer(m.updated_at),
    ]
}

impl Store {
    pub async fn list_models(&self) -> StoreResult<super::Listed<Model>> {
        let sql = format!("SELECT {COLUMNS} FROM models ORDER BY name");
        self.query_tolerant("models", &sql, vec![], decode).await
    }

    pub async fn model(&self, id: &str) -> StoreResult<Option<Model>> {
        let sql = format!("SELECT {COLUMNS} FROM models WHERE id = ?");
        self.query_one(&sql, vec![id.into()], decode).await
    }

    pub async fn model_by_name(&self, name: &str) -> StoreResult<Option<Model>> {
        let sql = format!("SELECT {COLUMNS} FROM models WHERE name = ?");
        self.query_one(&sql, vec![name.into()], decode).await
    }

    /// Enabled models whose provider is enabled too: what callers can reach.
    pub async fn list_servable_models(&self) -> StoreResult<super::Listed<(Model, String)>> {
        let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("m.{}", c.trim())).collect();
        let sql = format!(
            "SELECT {}, p.name AS provider_name FROM models m JOIN providers p ON p.id = m.provider_id \
             WHERE m.enabled = 1 AND p.enabled = 1 ORDER BY m.name",
            columns.join(", ")
        );
        self.query_tolerant("models", &sql, vec![], |r| Ok((decode(r)?, r.text("provider_name")?)))
            .await
    }

    /// The model row of a provider's upstream model, if one exists (for prices and limits).
    pub async fn model_by_upstream(
        &self,
        provider_id: &str,
        upstream: &str,
    ) -> StoreResult<Option<Model>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM models WHERE provider_id = ? AND upstream_model = ? ORDER BY created_at LIMIT 1"
        );
        self.query_one(&sql, vec![provider_id.into(), upstream.into()], decode).await
    }

    pub async fn insert_model(&self, m: &Model) -> StoreResult<()> {
        let mut values = params(m);
        values.insert(0, m.id.clone().into());
        values.push(Value::Integer(m.created_at));
        self.execute(
            "INSERT INTO models (id, name, provider_id, upstream_model, display_name, enabled, \
             context_window, max_output_tokens, input_cost_per_token, output_cost_per_token, \
             cached_input_cost_per_token, capabilities, updated_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        .await?;
        Ok(())
    }

    pub async fn update_model(&self, m: &Model) -> StoreResult<bool> {
        let mut values = params(m);
        values.push(m.id.clone().into());
        let changed = self
            .execute(
                "UPDATE models SET name = ?, provider_id = ?, upstream_model = ?, display_name = ?, \
                 enabled = ?, context_window = ?, max_output_tokens = ?, input_cost_per_token = ?, \
                 output_cost_per_token = ?, cached_input_cost_per_token = ?, capabilities = ?, \
                 updated_at = ? WHERE id = ?",
                values,
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn delete_model(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM models WHERE id = ?", vec![id.into()]).await? == 1)
    }
}
