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
    /// What to charge for a stream that did not end normally (the client left, the upstream
    /// broke or stalled): the tokens the upstream reported so far; where it never said, the
    /// input estimated at admission and one output token per four bytes of answer received.
    /// Never nothing: an answer had without its final usage event is still paid for.
    pub fn charged_when_cut(self, output_bytes: usize, estimated_input: i64) -> Usage {
        Usage {
            input: self.input.or(Some(estimated_input)),
            output: self.output.or_else(|| i64::try_from(output_bytes.div_ceil(4)).ok()),
            ..self
        }
    }

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
    fn a_cut_stream_is_charged_what_is_known_and_estimated_where_not() {
        let known = Usage { input: Some(50), ..Default::default() };
        let charged = known.charged_when_cut(41, 900);
        assert_eq!((charged.input, charged.output), (Some(50), Some(11)));
        let charged = Usage::default().charged_when_cut(0, 900);
        assert_eq!((charged.input, charged.output), (Some(900), Some(0)));
        let full = Usage { input: Some(1), output: Some(2), ..Default::default() };
        assert_eq!(full.charged_when_cut(400, 900), full);
    }

    #[test]
    fn no_prices_or_no_tokens_means_no_cost() {
        let u = Usage { input: Some(1), ..Default::default() };
        assert_eq!(u.cost(&model(None, None, None)), None);
        assert_eq!(Usage::default().cost(&model(Some(1.0), Some(1.0), None)), None);
    }
}
