//! A request's reservations against its key's limits: made at admission (after routing, so the
//! budget estimate can use the model's prices), settled with the real usage when the response
//! ends — streams and client disconnects included — and the concurrency lease released.

use crate::canonical::Usage;
use crate::error::GatewayError;
use crate::policy::{self, BudgetPeriod, Limit, LimitError};
use crate::quota::{self, LimitStore, Quota, Refused, Ticket, Wants};
use crate::routing::Route;
use crate::store::keys::VirtualKey;

/// The most a route's targets charge per token (input, output), in USD: budgets reserve at the
/// dearest target so failover can never overdraw.
fn prices(route: &Route) -> (f64, f64) {
    route.targets.iter().filter_map(|t| t.model.as_ref()).fold((0.0, 0.0), |(i, o), m| {
        (
            i.max(m.input_cost_per_token.unwrap_or(0.0)),
            o.max(m.output_cost_per_token.unwrap_or(0.0)),
        )
    })
}

/// Reserves what the key's limits need; a refusal says which limit and when it resets. A request
/// the response cache answers (`hit`) counts as a request and holds a slot, but uses no tokens
/// and no budget.
pub(crate) async fn admit(
    quota: &Quota,
    key: &VirtualKey,
    route: &Route,
    body_len: usize,
    max_tokens: Option<u32>,
    now_ms: i64,
    hit: bool,
) -> Result<Option<Ticket>, GatewayError> {
    let (input, output) = policy::estimate_tokens(body_len, max_tokens);
    let (minute, _) = policy::minute(now_ms);
    let period = key.budget_period.unwrap_or(BudgetPeriod::Total);
    let (in_price, out_price) = prices(route);
    let est_cost = (input as f64 * in_price + output as f64 * out_price) * 1e9;
    let wants = Wants {
        counters: [
            key.rpm_limit.map(|limit| (minute, 1, limit)),
            key.tpm_limit.filter(|_| !hit).map(|limit| (minute, input + output, limit)),
            key.budget_usd.filter(|_| !hit).map(|usd| {
                (period.window(now_ms).0, est_cost.round() as i64, policy::to_nano(usd))
            }),
        ],
        max_concurrent: key.max_concurrent,
    };
    if wants.is_empty() {
        return Ok(None);
    }
    match quota.admit(&key.id, wants.clone(), now_ms).await {
        Ok(ticket) => Ok(Some(ticket)),
        Err(Refused::Store(e)) => Err(e.into()),
        Err(Refused::Limit) => {
            Err(which(quota.store(), &wants, period, now_ms, &key.id).await?.into())
        }
    }
}

/// After a refusal: the first limit the request would pass.
async fn which(
    store: &dyn LimitStore,
    wants: &Wants,
    period: BudgetPeriod,
    now: i64,
    key_id: &str,
) -> Result<LimitError, GatewayError> {
    let (_, next_minute) = policy::minute(now);
    let error = |limit, value, reset_ms| LimitError { limit, value, reset_ms, now_ms: now };
    if let Some(max) = wants.max_concurrent
        && store.slots(key_id, now).await? >= max
    {
        return Ok(error(Limit::Concurrency, max, None));
    }
    let [requests, tokens, budget] = wants.counters;
    let checks = [
        (quota::REQUESTS, requests, Limit::Requests, Some(next_minute)),
        (quota::TOKENS, tokens, Limit::Tokens, Some(next_minute)),
        (quota::BUDGET, budget, Limit::Budget, period.window(now).1),
    ];
    for (kind, want, limit, reset) in checks {
        if let Some((window, amount, value)) = want
            && store.used(key_id, kind, window).await? + amount > value
        {
            return Ok(error(limit, value, reset));
        }
    }
    // Another request released what it held in between: report the first limit the key has.
    let (limit, value) = match (requests, tokens, budget) {
        (Some(r), _, _) => (Limit::Requests, r.2),
        (_, Some(r), _) => (Limit::Tokens, r.2),
        (_, _, Some(r)) => (Limit::Budget, r.2),
        _ => (Limit::Concurrency, wants.max_concurrent.unwrap_or(0)),
    };
    Ok(error(limit, value, Some(next_minute)))
}

/// Replaces the estimates with the real usage and releases the slot. Never fails the request:
/// problems are logged.
pub(crate) async fn settle(
    quota: &Quota,
    held: &Ticket,
    usage: Usage,
    cost_usd: Option<f64>,
    now_ms: i64,
) {
    let tokens = usage.input.unwrap_or(0) + usage.output.unwrap_or(0);
    let cost = policy::to_nano(cost_usd.unwrap_or(0.0));
    quota.settle(held, [None, Some(tokens), Some(cost)], now_ms).await;
}
