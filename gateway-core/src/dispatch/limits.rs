//! A request's reservations against its key's limits: made at admission (after routing, so the
//! budget estimate can use the model's prices), settled with the real usage when the response
//! ends — streams and client disconnects included — and the concurrency lease released.

use crate::canonical::Usage;
use crate::error::GatewayError;
use crate::policy::{self, BudgetPeriod, Limit, LimitError};
use crate::routing::Route;
use crate::store::Store;
use crate::store::keys::VirtualKey;
use crate::store::limits::{self, Admission, Reserve};

/// How long a concurrency lease lives if its holder never releases it (a crashed instance).
/// Streams running longer stop counting against the limit after this.
pub(super) const LEASE_MS: i64 = 15 * 60 * 1000;

/// What a request holds until it settles.
#[derive(Debug, Clone, Default)]
pub(crate) struct Held {
    admission: Admission,
}

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

/// Reserves what the key's limits need; a refusal says which limit and when it resets.
pub(crate) async fn admit(
    store: &Store,
    key: &VirtualKey,
    route: &Route,
    request_id: &str,
    body_len: usize,
    max_tokens: Option<u32>,
    now_ms: i64,
) -> Result<Held, GatewayError> {
    let (input, output) = policy::estimate_tokens(body_len, max_tokens);
    let (minute, _) = policy::minute(now_ms);
    let period = key.budget_period.unwrap_or(BudgetPeriod::Total);
    let (in_price, out_price) = prices(route);
    let est_cost = (input as f64 * in_price + output as f64 * out_price) * 1e9;
    let admission = Admission {
        key_id: key.id.clone(),
        request_id: request_id.to_owned(),
        now_ms,
        requests: key.rpm_limit.map(|limit| Reserve { window: minute, amount: 1, limit }),
        tokens: key.tpm_limit.map(|limit| Reserve {
            window: minute,
            amount: input + output,
            limit,
        }),
        budget: key.budget_usd.map(|usd| Reserve {
            window: period.window(now_ms).0,
            amount: est_cost.round() as i64,
            limit: policy::to_nano(usd),
        }),
        lease: key.max_concurrent.map(|max| (max, now_ms + LEASE_MS)),
    };
    if admission.is_empty() || store.admit(&admission).await? {
        return Ok(Held { admission });
    }
    Err(which(store, key, &admission, period).await?.into())
}

/// After a refusal: the first limit the request would pass.
async fn which(
    store: &Store,
    key: &VirtualKey,
    a: &Admission,
    period: BudgetPeriod,
) -> Result<LimitError, GatewayError> {
    let now = a.now_ms;
    let (_, next_minute) = policy::minute(now);
    let error = |limit, value, reset_ms| LimitError { limit, value, reset_ms, now_ms: now };
    if let Some((max, _)) = a.lease
        && store.leases(&key.id, now).await? >= max
    {
        return Ok(error(Limit::Concurrency, max, None));
    }
    let checks = [
        (limits::REQUESTS, a.requests, Limit::Requests, Some(next_minute)),
        (limits::TOKENS, a.tokens, Limit::Tokens, Some(next_minute)),
        (limits::BUDGET, a.budget, Limit::Budget, period.window(now).1),
    ];
    for (kind, reserve, limit, reset) in checks {
        if let Some(r) = reserve
            && store.usage(&key.id, kind, r.window).await? + r.amount > r.limit
        {
            return Ok(error(limit, r.limit, reset));
        }
    }
    // Another request released what it held in between: report the first limit the key has.
    let (limit, value) = match (a.requests, a.tokens, a.budget) {
        (Some(r), _, _) => (Limit::Requests, r.limit),
        (_, Some(r), _) => (Limit::Tokens, r.limit),
        (_, _, Some(r)) => (Limit::Budget, r.limit),
        _ => (Limit::Concurrency, a.lease.map_or(0, |l| l.0)),
    };
    Ok(error(limit, value, Some(next_minute)))
}

/// Replaces the estimates with the real usage and releases the lease. Never fails the request:
/// problems are logged.
pub(crate) async fn settle(store: &Store, held: &Held, usage: Usage, cost_usd: Option<f64>) {
    let a = &held.admission;
    let mut result = Ok(());
    if let Some(r) = a.tokens {
        let real = usage.input.unwrap_or(0) + usage.output.unwrap_or(0);
        result =
            result.and(store.settle(&a.key_id, limits::TOKENS, r.window, real - r.amount).await);
    }
    if let Some(r) = a.budget {
        let real = policy::to_nano(cost_usd.unwrap_or(0.0));
        result =
            result.and(store.settle(&a.key_id, limits::BUDGET, r.window, real - r.amount).await);
    }
    if a.lease.is_some() {
        result = result.and(store.release_lease(&a.request_id).await);
    }
    if let Err(e) = result {
        tracing::error!(request_id = %a.request_id, error = %e, "could not settle key limits");
    }
}
