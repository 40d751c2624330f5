//! Token usage as upstreams report it, and what it costs at a model's prices.

use crate::store::models::Model;

/// Tokens of one request. `None` where the upstream did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cached: Option<i64>,
    pub reasoning: Option<i64>,
}

impl Usage {
    /// USD at the model's per-token prices; cached input falls back to the input price. `None`
    /// when the model has no prices or the upstream reported no tokens.
    pub fn cost(&self, model: &Model) -> Option<f64> {
        if self.input.is_none() && self.output.is_none() {
            return None;
        }
        let input_price = model.input_cost_per_token;
        let output_price = model.output_cost_per_token;
        if input_price.is_none() && output_price.is_none() {
            return None;
        }
        let input = self.input.unwrap_or(0).max(0) as f64;
        let cached = (self.cached.unwrap_or(0).max(0) as f64).min(input);
        let output = self.output.unwrap_or(0).max(0) as f64;
        let cached_price = model.cached_input_cost_per_token.or(input_price).unwrap_or(0.0);
        Some(
            (input - cached) * input_price.unwrap_or(0.0)
                + cached * cached_price
                + output * output_price.unwrap_or(0.0),
        )
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
            capabilities: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn cost_splits_cached_input() {
        let u = Usage { input: Some(1000), output: Some(100), cached: Some(400), reasoning: None };
        let cost = u.cost(&model(Some(1e-6), Some(2e-6), Some(0.5e-6))).unwrap();
        assert!((cost - (600.0 * 1e-6 + 400.0 * 0.5e-6 + 100.0 * 2e-6)).abs() < 1e-12);
    }

    #[test]
    fn no_prices_or_no_tokens_means_no_cost() {
        let u = Usage { input: Some(1), ..Default::default() };
        assert_eq!(u.cost(&model(None, None, None)), None);
        assert_eq!(Usage::default().cost(&model(Some(1.0), Some(1.0), None)), None);
    }
}
