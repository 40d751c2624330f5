//! A resolved route: the targets a model name leads to, each with its provider and model row,
//! and the virtual model's strategy, prompt rules and deadlines.

use super::{RouteConfig, Strategy, Target};
use crate::provider::Provider;
use crate::rules::Rule;
use crate::store::models::Model;

/// One target with everything needed to call it.
#[derive(Debug, Clone)]
pub(crate) struct RouteTarget {
    pub target: Target,
    pub provider: Provider,
    /// The model row behind the target, when there is one (prices, max output).
    pub model: Option<Model>,
}

#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub name: String,
    pub strategy: Strategy,
    pub targets: Vec<RouteTarget>,
    pub rules: Vec<Rule>,
    pub config: RouteConfig,
    /// The virtual model's response cache.
    pub cache: Option<crate::answers::CachePolicy>,
}

impl AsRef<Target> for RouteTarget {
    fn as_ref(&self) -> &Target {
        &self.target
    }
}
