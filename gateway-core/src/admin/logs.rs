//! `/api/admin/logs`: recent request logs, newest first (`?request_id=`, `limit` ≤ 500, `offset`).

use super::{AdminResult, Op, Req, list};
use crate::error::RequestError;
use crate::gateway::Inner;

pub(super) async fn route(inner: &Inner, req: Req<'_>) -> AdminResult {
    let Op::List = req.op()? else {
        return Err(RequestError::MethodNotAllowed.into());
    };
    let mut request_id = None;
    let (mut limit, mut offset) = (50, 0);
    for pair in req.query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |field: &str, max: i64| {
            value.parse::<i64>().ok().filter(|v| (0..=max).contains(v)).ok_or_else(|| {
                RequestError::field(field, format!("`{field}` must be a number from 0 to {max}"))
            })
        };
        match name {
            "request_id" => request_id = Some(value.to_owned()),
            "limit" => limit = number("limit", 500)?,
            "offset" => offset = number("offset", i64::MAX)?,
            _ => {}
        }
    }
    Ok(list(&inner.store.recent_logs(request_id.as_deref(), limit, offset).await?))
}
