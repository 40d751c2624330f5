//! From the model name a caller sent to a route: a real model is a route with one target; a
//! virtual model brings its strategy, targets, prompt rules and deadlines.

use std::time::Duration;

use crate::error::{GatewayError, RequestError};
use crate::routing::{NoTarget, Route, RouteConfig, RouteTarget, Strategy, Target};
use crate::store::Store;

/// Finds the route for `name`; unknown and disabled names are 404, a virtual model whose every
/// target's provider is disabled is 503.
pub(crate) async fn resolve(
    store: &Store,
    name: &str,
    deadline: Duration,
) -> Result<Route, GatewayError> {
    let not_found = || RequestError::ModelNotFound(name.to_owned());
    if let Some(model) = store.model_by_name(name).await? {
        if !model.enabled {
            return Err(not_found().into());
        }
        let provider = store
            .provider(&model.provider_id)
            .await?
            .filter(|p| p.enabled)
            .ok_or_else(not_found)?;
        let ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
        return Ok(Route {
            name: name.to_owned(),
            strategy: Strategy::Priority,
            targets: vec![RouteTarget {
                target: Target {
                    provider_id: provider.id.clone(),
                    model: model.upstream_model.clone(),
                    weight: 1,
                    priority: 0,
                },
                provider,
                model: Some(model),
            }],
            rules: vec![],
            config: RouteConfig {
                deadline_ms: ms,
                attempt_timeout_ms: ms,
                max_attempts: 1,
                ..RouteConfig::default()
            },
            cache: None,
        });
    }
    let virtual_model =
        store.virtual_model_by_name(name).await?.filter(|v| v.enabled).ok_or_else(not_found)?;
    let mut targets = Vec::with_capacity(virtual_model.targets.len());
    for target in virtual_model.targets {
        let Some(provider) = store.provider(&target.provider_id).await?.filter(|p| p.enabled)
        else {
            continue;
        };
        let model = store.model_by_upstream(&provider.id, &target.model).await?;
        targets.push(RouteTarget { target, provider, model });
    }
    if targets.is_empty() {
        return Err(NoTarget { retry_after_secs: 60, rate_limited: false }.into());
    }
    Ok(Route {
        name: name.to_owned(),
        strategy: virtual_model.strategy,
        targets,
        rules: virtual_model.rules.into_iter().filter(|r| r.enabled).collect(),
        config: virtual_model.config,
        cache: virtual_model.cache,
    })
}
