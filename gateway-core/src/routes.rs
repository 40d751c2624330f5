//! Every API route the gateway answers, in one table. The router refuses what is not here (404 for
//! an unknown path, 405 for a known path with another method) before any handler runs, so this
//! table is exactly what the gateway serves; `openapi.json` documents the same set, and tests keep
//! the three equal (the document against the table here, the table against the running server in
//! `adapters/server/tests/operations.rs`).

use http::Method;

use crate::provider::Protocol;
use crate::reply::ErrorShape;

/// The OpenAPI 3.1 document of the admin, public and data-plane APIs (`GET /api/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// One row of the table: method, path template, and what serves it.
pub type Row = (Method, &'static str, RouteId);

/// `(method, path template, route)`; `{name}` matches one non-empty path segment, `{name}:action`
/// one that ends in `:action`. Data-plane paths are also served without their `/v1` prefix. The
/// gateway dispatches on the row's [`RouteId`]: a new endpoint is one row here and one arm there.
pub const ROUTES: &[Row] = &[
    // data plane
    (Method::POST, "/v1/chat/completions", RouteId::Generate(Protocol::OpenaiChat)),
    (Method::POST, "/v1/responses", RouteId::Generate(Protocol::OpenaiResponses)),
    (Method::POST, "/v1/responses/input_tokens", RouteId::CountTokens(Protocol::OpenaiResponses)),
    (Method::POST, "/v1/messages", RouteId::Generate(Protocol::AnthropicMessages)),
    (Method::POST, "/v1/messages/count_tokens", RouteId::CountTokens(Protocol::AnthropicMessages)),
    (Method::POST, "/v1/embeddings", RouteId::Embeddings),
    (Method::POST, "/v1/completions", RouteId::Openai(OpenaiCall::Completions)),
    (Method::POST, "/v1/images/generations", RouteId::Openai(OpenaiCall::ImageGenerations)),
    (Method::POST, "/v1/images/edits", RouteId::Openai(OpenaiCall::ImageEdits)),
    (Method::POST, "/v1/audio/speech", RouteId::Openai(OpenaiCall::Speech)),
    (Method::POST, "/v1/audio/transcriptions", RouteId::Openai(OpenaiCall::Transcriptions)),
    (Method::POST, "/v1/moderations", RouteId::Openai(OpenaiCall::Moderations)),
    (Method::POST, "/v1/rerank", RouteId::Openai(OpenaiCall::Rerank)),
    (Method::GET, "/v1/models", RouteId::ListModels(Models::OpenAi)),
    (Method::GET, "/v1/models/{model}", RouteId::GetModel(Models::OpenAi)),
    // Gemini-native data plane (`/v1beta`, and `/v1` as the google-genai SDK calls it)
    (Method::POST, "/v1beta/models/{model}:generateContent", RouteId::Gemini(GeminiCall::Generate)),
    (
        Method::POST,
        "/v1beta/models/{model}:streamGenerateContent",
        RouteId::Gemini(GeminiCall::Stream),
    ),
    (Method::POST, "/v1beta/models/{model}:countTokens", RouteId::Gemini(GeminiCall::CountTokens)),
    (Method::GET, "/v1beta/models", RouteId::ListModels(Models::Gemini)),
    (Method::GET, "/v1beta/models/{model}", RouteId::GetModel(Models::Gemini)),
    (Method::POST, "/v1/models/{model}:generateContent", RouteId::Gemini(GeminiCall::Generate)),
    (Method::POST, "/v1/models/{model}:streamGenerateContent", RouteId::Gemini(GeminiCall::Stream)),
    (Method::POST, "/v1/models/{model}:countTokens", RouteId::Gemini(GeminiCall::CountTokens)),
    // operations
    (Method::GET, "/healthz", RouteId::Healthz),
    (Method::GET, "/metrics", RouteId::Metrics),
    (Method::GET, "/api/openapi.json", RouteId::OpenApi),
    // public status
    (Method::GET, "/public/health/summary", RouteId::Public(PublicView::Summary)),
    (Method::GET, "/public/health/targets", RouteId::Public(PublicView::Targets)),
    (Method::GET, "/public/health/detail", RouteId::Public(PublicView::Detail)),
    (Method::GET, "/public/health/runs", RouteId::Public(PublicView::Runs)),
    // admin sessions
    (Method::POST, "/api/auth/login", RouteId::Session(SessionOp::Login)),
    (Method::GET, "/api/auth/me", RouteId::Session(SessionOp::Me)),
    (Method::POST, "/api/auth/password", RouteId::Session(SessionOp::Password)),
    (Method::POST, "/api/auth/logout", RouteId::Session(SessionOp::Logout)),
    // admin resources
    (Method::GET, "/api/admin/providers", RouteId::Admin(AdminRoute::Providers(Op::List))),
    (Method::POST, "/api/admin/providers", RouteId::Admin(AdminRoute::Providers(Op::Create))),
    (Method::GET, "/api/admin/providers/{id}", RouteId::Admin(AdminRoute::Providers(Op::Get))),
    (Method::PUT, "/api/admin/providers/{id}", RouteId::Admin(AdminRoute::Providers(Op::Update))),
    (Method::PATCH, "/api/admin/providers/{id}", RouteId::Admin(AdminRoute::Providers(Op::Update))),
    (
        Method::DELETE,
        "/api/admin/providers/{id}",
        RouteId::Admin(AdminRoute::Providers(Op::Delete)),
    ),
    (Method::POST, "/api/admin/providers/{id}/test", RouteId::Admin(AdminRoute::ProviderTest)),
    (Method::GET, "/api/admin/providers/{id}/models", RouteId::Admin(AdminRoute::ProviderModels)),
    (Method::GET, "/api/admin/models", RouteId::Admin(AdminRoute::Models(Op::List))),
    (Method::POST, "/api/admin/models", RouteId::Admin(AdminRoute::Models(Op::Create))),
    (Method::POST, "/api/admin/models/bulk", RouteId::Admin(AdminRoute::ModelsBulk)),
    (Method::GET, "/api/admin/models/{id}", RouteId::Admin(AdminRoute::Models(Op::Get))),
    (Method::PUT, "/api/admin/models/{id}", RouteId::Admin(AdminRoute::Models(Op::Update))),
    (Method::PATCH, "/api/admin/models/{id}", RouteId::Admin(AdminRoute::Models(Op::Update))),
    (Method::DELETE, "/api/admin/models/{id}", RouteId::Admin(AdminRoute::Models(Op::Delete))),
    (Method::GET, "/api/admin/keys", RouteId::Admin(AdminRoute::Keys(Op::List))),
    (Method::POST, "/api/admin/keys", RouteId::Admin(AdminRoute::Keys(Op::Create))),
    (Method::GET, "/api/admin/keys/{id}", RouteId::Admin(AdminRoute::Keys(Op::Get))),
    (Method::PUT, "/api/admin/keys/{id}", RouteId::Admin(AdminRoute::Keys(Op::Update))),
    (Method::PATCH, "/api/admin/keys/{id}", RouteId::Admin(AdminRoute::Keys(Op::Update))),
    (Method::DELETE, "/api/admin/keys/{id}", RouteId::Admin(AdminRoute::Keys(Op::Delete))),
    (Method::GET, "/api/admin/users", RouteId::Admin(AdminRoute::Users(UserOp::List))),
    (Method::POST, "/api/admin/users", RouteId::Admin(AdminRoute::Users(UserOp::Create))),
    (Method::DELETE, "/api/admin/users/{id}", RouteId::Admin(AdminRoute::Users(UserOp::Delete))),
    (Method::GET, "/api/admin/virtual-models", RouteId::Admin(AdminRoute::VirtualModels(Op::List))),
    (
        Method::POST,
        "/api/admin/virtual-models",
        RouteId::Admin(AdminRoute::VirtualModels(Op::Create)),
    ),
    (
        Method::POST,
        "/api/admin/virtual-models/preview",
        RouteId::Admin(AdminRoute::VirtualModelPreview),
    ),
    (
        Method::GET,
        "/api/admin/virtual-models/{id}",
        RouteId::Admin(AdminRoute::VirtualModels(Op::Get)),
    ),
    (
        Method::PUT,
        "/api/admin/virtual-models/{id}",
        RouteId::Admin(AdminRoute::VirtualModels(Op::Update)),
    ),
    (
        Method::PATCH,
        "/api/admin/virtual-models/{id}",
        RouteId::Admin(AdminRoute::VirtualModels(Op::Update)),
    ),
    (
        Method::DELETE,
        "/api/admin/virtual-models/{id}",
        RouteId::Admin(AdminRoute::VirtualModels(Op::Delete)),
    ),
    (Method::GET, "/api/admin/health-targets", RouteId::Admin(AdminRoute::HealthTargets(Op::List))),
    (
        Method::POST,
        "/api/admin/health-targets",
        RouteId::Admin(AdminRoute::HealthTargets(Op::Create)),
    ),
    (
        Method::GET,
        "/api/admin/health-targets/{id}",
        RouteId::Admin(AdminRoute::HealthTargets(Op::Get)),
    ),
    (
        Method::PUT,
        "/api/admin/health-targets/{id}",
        RouteId::Admin(AdminRoute::HealthTargets(Op::Update)),
    ),
    (
        Method::PATCH,
        "/api/admin/health-targets/{id}",
        RouteId::Admin(AdminRoute::HealthTargets(Op::Update)),
    ),
    (
        Method::DELETE,
        "/api/admin/health-targets/{id}",
        RouteId::Admin(AdminRoute::HealthTargets(Op::Delete)),
    ),
    (Method::GET, "/api/admin/logs", RouteId::Admin(AdminRoute::Logs)),
    (Method::GET, "/api/admin/stats", RouteId::Admin(AdminRoute::Stats)),
    (Method::GET, "/api/admin/settings", RouteId::Admin(AdminRoute::Settings(SettingsOp::Read))),
    (Method::PUT, "/api/admin/settings", RouteId::Admin(AdminRoute::Settings(SettingsOp::Update))),
    (
        Method::PATCH,
        "/api/admin/settings",
        RouteId::Admin(AdminRoute::Settings(SettingsOp::Update)),
    ),
    (Method::GET, "/api/admin/routing", RouteId::Admin(AdminRoute::Routing)),
    (Method::GET, "/api/admin/presets", RouteId::Admin(AdminRoute::Presets)),
    (Method::GET, "/api/admin/catalog", RouteId::Admin(AdminRoute::Catalog(CatalogOp::Search))),
    (
        Method::POST,
        "/api/admin/catalog/refresh",
        RouteId::Admin(AdminRoute::Catalog(CatalogOp::Refresh)),
    ),
    (
        Method::POST,
        "/api/admin/catalog/apply",
        RouteId::Admin(AdminRoute::Catalog(CatalogOp::Apply)),
    ),
];

/// What serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// Generation in a caller protocol (chat completions, Responses, Messages).
    Generate(Protocol),
    /// A Gemini-native call on `{model}:action`.
    Gemini(GeminiCall),
    /// Counting a request's input tokens (`/v1/messages/count_tokens`, `/v1/responses/input_tokens`).
    CountTokens(Protocol),
    Embeddings,
    /// An OpenAI endpoint relayed as it is to OpenAI-compatible upstreams.
    Openai(OpenaiCall),
    ListModels(Models),
    GetModel(Models),
    Healthz,
    Metrics,
    OpenApi,
    Public(PublicView),
    Session(SessionOp),
    Admin(AdminRoute),
}

/// The model-list family a models route belongs to (Anthropic's shape is chosen per request, by
/// its `anthropic-version` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Models {
    OpenAi,
    Gemini,
}

/// The OpenAI endpoints the gateway relays to OpenAI-compatible upstreams as they are (the
/// model renamed), through keys, limits, routing and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenaiCall {
    Completions,
    ImageGenerations,
    /// Multipart (the image files and the prompt).
    ImageEdits,
    /// JSON in, audio out.
    Speech,
    /// Multipart (the audio file).
    Transcriptions,
    Moderations,
    /// Cohere's / Jina's shape (`{model, query, documents, top_n}`).
    Rerank,
}

impl OpenaiCall {
    /// The endpoint's path, as callers and upstreams (below their base URL) name it.
    pub fn path(self) -> &'static str {
        match self {
            OpenaiCall::Completions => "/completions",
            OpenaiCall::ImageGenerations => "/images/generations",
            OpenaiCall::ImageEdits => "/images/edits",
            OpenaiCall::Speech => "/audio/speech",
            OpenaiCall::Transcriptions => "/audio/transcriptions",
            OpenaiCall::Moderations => "/moderations",
            OpenaiCall::Rerank => "/rerank",
        }
    }

    /// The caller sends `multipart/form-data` (files), not JSON.
    pub fn multipart(self) -> bool {
        matches!(self, OpenaiCall::ImageEdits | OpenaiCall::Transcriptions)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiCall {
    Generate,
    Stream,
    CountTokens,
}

/// The public status API's views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicView {
    Summary,
    Targets,
    Detail,
    Runs,
}

/// `/api/auth/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOp {
    Login,
    Me,
    Password,
    Logout,
}

/// `/api/admin/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    Providers(Op),
    ProviderTest,
    ProviderModels,
    Models(Op),
    ModelsBulk,
    Keys(Op),
    Users(UserOp),
    VirtualModels(Op),
    VirtualModelPreview,
    HealthTargets(Op),
    Logs,
    Stats,
    Settings(SettingsOp),
    Routing,
    Presets,
    Catalog(CatalogOp),
}

/// The operations on a resource collection (`List`, `Create`) and on one item (`{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Create,
    Get,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOp {
    List,
    Create,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsOp {
    Read,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogOp {
    Search,
    Refresh,
    Apply,
}

impl RouteId {
    /// The error shape this route's callers understand.
    pub fn shape(self) -> ErrorShape {
        match self {
            RouteId::Generate(p) | RouteId::CountTokens(p) => ErrorShape::of(p),
            RouteId::Gemini(_)
            | RouteId::ListModels(Models::Gemini)
            | RouteId::GetModel(Models::Gemini) => ErrorShape::Gemini,
            RouteId::Embeddings
            | RouteId::Openai(_)
            | RouteId::ListModels(_)
            | RouteId::GetModel(_) => ErrorShape::OpenAi,
            RouteId::Healthz
            | RouteId::Metrics
            | RouteId::OpenApi
            | RouteId::Public(_)
            | RouteId::Session(_)
            | RouteId::Admin(_) => ErrorShape::Admin,
        }
    }
}

/// What the table says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Served by this row.
    Found(&'static Row),
    /// The path exists, the method does not.
    MethodNotAllowed,
    NotFound,
}

/// Data-plane paths also served without `/v1`: a path equal to one of these or below it.
pub const UNVERSIONED: [&str; 5] =
    ["/chat/completions", "/responses", "/messages", "/embeddings", "/models"];

/// The path as the table spells it: trailing `/` dropped, data-plane aliases given their `/v1`.
pub fn canonical(path: &str) -> std::borrow::Cow<'_, str> {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let aliased = UNVERSIONED
        .iter()
        .any(|a| path.strip_prefix(a).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')));
    if aliased { format!("/v1{path}").into() } else { path.into() }
}

/// Whether one path segment matches one template segment.
fn segment_matches(template: &str, segment: &str) -> bool {
    match template.split_once('}') {
        // `{name}` or `{name}:action`: a non-empty value, then the literal suffix.
        Some((open, suffix)) if open.starts_with('{') => {
            segment.strip_suffix(suffix).is_some_and(|value| !value.is_empty())
        }
        _ => template == segment,
    }
}

fn matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if segment_matches(ts, ps) => {}
            _ => return false,
        }
    }
}

/// The rows a path matches, whatever their method: literal templates win over `{id}` ones
/// (`virtual-models/preview`), and `{id}:action` ones over plain `{id}` ones.
fn rows(path: &str) -> impl Iterator<Item = &'static Row> + '_ {
    let literal = ROUTES.iter().any(|(_, t, _)| *t == path);
    let with_action =
        !literal && ROUTES.iter().any(|(_, t, _)| t.contains("}:") && matches(t, path));
    ROUTES.iter().filter(move |(_, t, _)| {
        if literal {
            *t == path
        } else if with_action {
            t.contains("}:") && matches(t, path)
        } else {
            matches(t, path)
        }
    })
}

/// Looks a request up.
pub fn lookup(method: &Method, path: &str) -> Lookup {
    let path = canonical(path);
    let mut candidates = rows(&path).peekable();
    if candidates.peek().is_none() {
        return Lookup::NotFound;
    }
    candidates.find(|(m, _, _)| m == method).map_or(Lookup::MethodNotAllowed, Lookup::Found)
}

/// The row a path belongs to, for answering it before (or without) a method match: the first row
/// it matches, else the first row sharing the most leading segments with it.
fn nearest(path: &str) -> Option<&'static Row> {
    let path = canonical(path);
    if let Some(row) = rows(&path).next() {
        return Some(row);
    }
    let shared =
        |t: &str| t.split('/').zip(path.split('/')).skip(1).take_while(|(a, b)| a == b).count();
    let best = ROUTES.iter().map(|r| shared(r.1)).max().filter(|n| *n > 0)?;
    ROUTES.iter().find(|r| shared(r.1) == best)
}

/// The error shape callers of `path` understand (that of its route, or of the nearest one):
/// Anthropic's on `/v1/messages`, Google's on the Gemini-native routes, the admin shape on
/// `/api/` and `/public/`, OpenAI's elsewhere.
pub fn shape_for(path: &str) -> ErrorShape {
    nearest(path).map_or(ErrorShape::OpenAi, |(_, _, id)| id.shape())
}

/// Whether `path` is one of the Gemini-native routes (Google's error shape, `?key=` accepted).
pub fn is_gemini(path: &str) -> bool {
    shape_for(path) == ErrorShape::Gemini
}

/// The table's families: first segments of its longer rows (`v1`, `api`, …), and its
/// one-segment rows (`/healthz`). Derived once, on first use.
fn families() -> &'static (Vec<&'static str>, Vec<&'static str>) {
    static FAMILIES: std::sync::OnceLock<(Vec<&'static str>, Vec<&'static str>)> =
        std::sync::OnceLock::new();
    FAMILIES.get_or_init(|| {
        let (mut deep, mut exact) = (Vec::new(), Vec::new());
        for (_, template, _) in ROUTES {
            let rest = template.trim_start_matches('/');
            match rest.split_once('/') {
                Some((first, _)) if !deep.contains(&first) => deep.push(first),
                Some(_) => {}
                None => exact.push(*template),
            }
        }
        (deep, exact)
    })
}

/// Whether `path` belongs to the gateway's own API (everything else is the static admin UI): a
/// path a one-segment row names exactly (`/healthz`), or one below a segment the table's longer
/// rows start with (`/v1/…`, `/api/…`), with `/v1`-less data-plane aliases. Every host asks this
/// of every request, so it compares with the families derived once, not with every row.
pub fn is_api_path(path: &str) -> bool {
    let trailing = path.len() > 1 && path.ends_with('/');
    let path = canonical(path);
    let Some(rest) = path.strip_prefix('/') else { return false };
    let (deep, exact) = families();
    match rest.split_once('/') {
        Some((first, _)) => deep.contains(&first),
        None if trailing => deep.contains(&rest),
        None => exact.contains(&path.as_ref()),
    }
}

/// The value of the `{name}` segment of `template` in `path` (without any `:action` suffix).
pub fn param<'a>(template: &str, path: &'a str) -> Option<&'a str> {
    template.split('/').zip(path.split('/')).find_map(|(t, p)| {
        let (open, suffix) = t.split_once('}')?;
        open.starts_with('{').then(|| p.strip_suffix(suffix)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use http::Method;

    use super::*;

    /// The row of `method` at `template`.
    fn found(method: Method, template: &str) -> Lookup {
        Lookup::Found(ROUTES.iter().find(|(m, t, _)| *m == method && *t == template).unwrap())
    }

    #[test]
    fn lookup_distinguishes_paths_methods_and_literals() {
        assert_eq!(
            lookup(&Method::POST, "/chat/completions"),
            found(Method::POST, "/v1/chat/completions")
        );
        assert_eq!(lookup(&Method::GET, "/api/admin/keys/"), found(Method::GET, "/api/admin/keys"));
        assert_eq!(
            lookup(&Method::GET, "/api/admin/keys/k1"),
            found(Method::GET, "/api/admin/keys/{id}")
        );
        assert_eq!(lookup(&Method::POST, "/api/admin/keys/k1"), Lookup::MethodNotAllowed);
        assert_eq!(lookup(&Method::GET, "/api/admin/keys/k1/x"), Lookup::NotFound);
        assert_eq!(lookup(&Method::GET, "/api/admin/nope"), Lookup::NotFound);
        assert_eq!(
            lookup(&Method::POST, "/api/admin/virtual-models/preview"),
            found(Method::POST, "/api/admin/virtual-models/preview")
        );
        assert_eq!(
            lookup(&Method::GET, "/api/admin/virtual-models/preview"),
            Lookup::MethodNotAllowed
        );
        assert_eq!(lookup(&Method::GET, "/v1/chat/completions"), Lookup::MethodNotAllowed);
        assert_eq!(
            lookup(&Method::GET, "/models/gpt-4o"),
            found(Method::GET, "/v1/models/{model}")
        );
        assert_eq!(
            lookup(&Method::POST, "/messages/count_tokens"),
            found(Method::POST, "/v1/messages/count_tokens")
        );
        let gemini = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";
        assert_eq!(
            lookup(&Method::POST, gemini),
            found(Method::POST, "/v1beta/models/{model}:streamGenerateContent")
        );
        assert_eq!(lookup(&Method::GET, gemini), Lookup::MethodNotAllowed);
        assert_eq!(
            lookup(&Method::POST, "/v1beta/models/llama3:8b:countTokens"),
            found(Method::POST, "/v1beta/models/{model}:countTokens")
        );
        assert_eq!(
            lookup(&Method::GET, "/v1beta/models/m"),
            found(Method::GET, "/v1beta/models/{model}")
        );
        assert_eq!(
            param("/v1beta/models/{model}:countTokens", "/v1beta/models/g-1:countTokens"),
            Some("g-1")
        );
    }

    #[test]
    fn api_paths_are_the_table_s_families_and_nothing_else() {
        for api in [
            "/v1/chat/completions",
            "/chat/completions",
            "/models",
            "/models/m",
            "/v1/",
            "/v1/nope",
            "/v1beta/models",
            "/api/admin/keys",
            "/api/",
            "/public/health/summary",
            "/healthz",
            "/metrics",
        ] {
            assert!(is_api_path(api), "{api}");
        }
        for ui in
            ["/", "/v1", "/api", "/healthz/", "/index.html", "/status", "/js/main.js", "/modelsx"]
        {
            assert!(!is_api_path(ui), "{ui}");
        }
    }

    /// The OpenAPI document describes exactly the routes in the table.
    #[test]
    fn openapi_document_matches_the_route_table() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                assert!(op["responses"].is_object(), "{method} {path} documents no responses");
                assert!(op["summary"].is_string(), "{method} {path} has no summary");
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let registered: BTreeSet<(String, String)> =
            ROUTES.iter().map(|(m, p, _)| (m.to_string(), (*p).to_owned())).collect();
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty() && phantom.is_empty(),
            "served but not documented: {undocumented:?}\ndocumented but not served: {phantom:?}"
        );
        // Every `$ref` points at a schema that exists.
        let text = OPENAPI;
        for piece in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
        }
    }
}
