//! Models table: the names callers use, each bound to a provider and an upstream model id.

use serde::{Deserialize, Serialize};

use super::{Row, Store, StoreResult};
use crate::canonical::Usage;
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
    /// The price of a token written to the prompt cache.
    pub cache_write_cost_per_token: Option<f64>,
    pub capabilities: serde_json::Map<String, serde_json::Value>,
    /// Prices of what the OpenAI endpoints not billed by the token count.
    pub unit_prices: UnitPrices,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Prices per unit (USD) for the endpoints billed by something else than tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitPrices {
    /// An image generated or edited (`/v1/images/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<f64>,
    /// A second of audio transcribed (`/v1/audio/transcriptions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<f64>,
    /// A character of text spoken (`/v1/audio/speech`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_character: Option<f64>,
    /// A rerank query (`/v1/rerank`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_query: Option<f64>,
}

/// What a request used of the units [`UnitPrices`] price.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub images: Option<f64>,
    pub seconds: Option<f64>,
    pub characters: Option<f64>,
    pub queries: Option<f64>,
}

impl Units {
    pub fn is_empty(&self) -> bool {
        *self == Units::default()
    }
}

/// A request's tokens split by what each is priced at.
struct Split {
    /// Input neither read from nor written to the cache.
    plain: f64,
    read: f64,
    write: f64,
    output: f64,
}

impl Split {
    /// Reads and writes are parts of the input, never more than it.
    fn of(usage: &Usage) -> Split {
        let input = usage.input.unwrap_or(0).max(0) as f64;
        let read = (usage.cached.unwrap_or(0).max(0) as f64).min(input);
        let write = (usage.cache_write.unwrap_or(0).max(0) as f64).min(input - read);
        let output = usage.output.unwrap_or(0).max(0) as f64;
        Split { plain: input - read - write, read, write, output }
    }
}

impl Model {
    /// The per-token prices `(input, cache read, cache write, output)`; cache reads and writes
    /// fall back to the input price. `None` when the model has no prices.
    fn prices(&self) -> Option<(f64, f64, f64, f64)> {
        let (input, output) = (self.input_cost_per_token, self.output_cost_per_token);
        if input.is_none() && output.is_none() {
            return None;
        }
        let input = input.unwrap_or(0.0);
        Some((
            input,
            self.cached_input_cost_per_token.unwrap_or(input),
            self.cache_write_cost_per_token.unwrap_or(input),
            output.unwrap_or(0.0),
        ))
    }

    /// USD for `usage` at this model's per-token prices: plain input, cache reads, cache writes
    /// and output each at their own price. `None` when the model has no prices or the upstream
    /// reported no tokens.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        if usage.input.is_none() && usage.output.is_none() {
            return None;
        }
        let (input, read, write, output) = self.prices()?;
        let s = Split::of(usage);
        Some(s.plain * input + s.read * read + s.write * write + s.output * output)
    }

    /// USD for `units` at this model's unit prices; `None` when none of the units used has one.
    pub fn unit_cost(&self, units: &Units) -> Option<f64> {
        let p = &self.unit_prices;
        let priced = [
            (units.images, p.per_image),
            (units.seconds, p.per_second),
            (units.characters, p.per_character),
            (units.queries, p.per_query),
        ];
        priced
            .iter()
            .filter_map(|(n, price)| Some(n.as_ref()?.max(0.0) * price.as_ref()?))
            .fold(None, |sum, c| Some(sum.unwrap_or(0.0) + c))
    }

    /// What the prompt cache saved on `usage`: cache reads at the input price less what they
    /// cost, minus what cache writes cost above the input price (negative when writes outweigh
    /// reads). `None` without prices or without cache figures.
    pub fn cache_savings(&self, usage: &Usage) -> Option<f64> {
        if usage.cached.is_none() && usage.cache_write.is_none() {
            return None;
        }
        let (input, read, write, _) = self.prices()?;
        let s = Split::of(usage);
        Some(s.read * (input - read) - s.write * (write - input))
    }
}

const COLUMNS: &str = "id, name, provider_id, upstream_model, display_name, enabled, context_window, \
    max_output_tokens, input_cost_per_token, output_cost_per_token, cached_input_cost_per_token, \
    cache_write_cost_per_token, capabilities, unit_prices, created_at, updated_at";

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
        cache_write_cost_per_token: r.opt_real("cache_write_cost_per_token")?,
        capabilities: r.json("capabilities")?,
        unit_prices: r
            .opt_text("unit_prices")?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
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
        m.cache_write_cost_per_token.into(),
        serde_json::Value::Object(m.capabilities.clone()).to_string().into(),
        unit_prices_json(&m.unit_prices).into(),
        Value::Integer(m.updated_at),
    ]
}

/// The column's text: `NULL` when no unit has a price.
fn unit_prices_json(p: &UnitPrices) -> Option<String> {
    (*p != UnitPrices::default()).then(|| serde_json::to_string(p).unwrap_or_default())
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
             cached_input_cost_per_token, cache_write_cost_per_token, capabilities, unit_prices, \
             updated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                 output_cost_per_token = ?, cached_input_cost_per_token = ?, \
                 cache_write_cost_per_token = ?, capabilities = ?, unit_prices = ?, updated_at = ? \
                 WHERE id = ?",
                values,
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn delete_model(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM models WHERE id = ?", vec![id.into()]).await? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(input: Option<f64>, output: Option<f64>, cached: Option<f64>) -> Model {
        Model {
            id: "m".into(),
            name: "m".into(),
            provider_id: "p".into(),
            upstream_model: "m".into(),
            display_name: None,
            enabled: true,
            context_window: None,
            max_output_tokens: None,
            input_cost_per_token: input,
            output_cost_per_token: output,
            cached_input_cost_per_token: cached,
            cache_write_cost_per_token: None,
            capabilities: Default::default(),
            unit_prices: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn units_cost_at_their_own_prices() {
        let mut m = model(Some(1e-6), None, None);
        let units = Units { images: Some(2.0), characters: Some(1000.0), ..Units::default() };
        assert_eq!(m.unit_cost(&units), None, "no unit prices");
        m.unit_prices =
            UnitPrices { per_image: Some(0.04), per_second: Some(1e-4), ..UnitPrices::default() };
        assert!((m.unit_cost(&units).unwrap() - 0.08).abs() < 1e-12, "characters have no price");
        let seconds = Units { seconds: Some(61.5), ..Units::default() };
        assert!((m.unit_cost(&seconds).unwrap() - 0.00615).abs() < 1e-12);
    }

    #[test]
    fn cost_splits_cached_input() {
        let u =
            Usage { input: Some(1000), output: Some(100), cached: Some(400), ..Usage::default() };
        let cost = model(Some(1e-6), Some(2e-6), Some(0.5e-6)).cost(&u).unwrap();
        assert!((cost - (600.0 * 1e-6 + 400.0 * 0.5e-6 + 100.0 * 2e-6)).abs() < 1e-12);
    }

    #[test]
    fn cache_writes_have_their_own_price_and_count_against_savings() {
        // Anthropic's shape: 3 $/M input, reads 0.30, writes 3.75, output 15.
        let mut m = model(Some(3e-6), Some(15e-6), Some(0.3e-6));
        m.cache_write_cost_per_token = Some(3.75e-6);
        let u = Usage {
            input: Some(10_000),
            cached: Some(6_000),
            cache_write: Some(3_000),
            output: Some(200),
            ..Usage::default()
        };
        let cost = m.cost(&u).unwrap();
        let by_hand = 1_000.0 * 3e-6 + 6_000.0 * 0.3e-6 + 3_000.0 * 3.75e-6 + 200.0 * 15e-6;
        assert!((cost - by_hand).abs() < 1e-12, "{cost} vs {by_hand}");
        let saved = m.cache_savings(&u).unwrap();
        let by_hand = 6_000.0 * (3e-6 - 0.3e-6) - 3_000.0 * (3.75e-6 - 3e-6);
        assert!((saved - by_hand).abs() < 1e-12, "{saved} vs {by_hand}");
        // Without a write price writes cost what input costs; reads and writes never exceed input.
        m.cache_write_cost_per_token = None;
        let odd = Usage { input: Some(100), cached: Some(80), cache_write: Some(80), ..u };
        let cost = m.cost(&odd).unwrap();
        assert!((cost - (80.0 * 0.3e-6 + 20.0 * 3e-6 + 200.0 * 15e-6)).abs() < 1e-12);
        assert_eq!(m.cache_savings(&Usage { input: Some(5), ..Usage::default() }), None);
    }

    #[test]
    fn no_prices_or_no_tokens_means_no_cost() {
        let u = Usage { input: Some(1), ..Default::default() };
        assert_eq!(model(None, None, None).cost(&u), None);
        assert_eq!(model(Some(1.0), Some(1.0), None).cost(&Usage::default()), None);
    }
}
