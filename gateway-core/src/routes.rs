//! Every API route the gateway answers, in one table. The router refuses what is not here (404 for
//! an unknown path, 405 for a known path with another method) before any handler runs, so this
//! table is exactly what the gateway serves; `openapi.json` documents the same set, and tests keep
//! the three equal (the document against the table here, the table against the running server in
//! `adapters/server/tests/operations.rs`).

/// The OpenAPI 3.1 document of the admin, public and data-plane APIs (`GET /api/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `(method, path template)`; `{name}` matches one non-empty path segment, `{name}:action` one
/// that ends in `:action`. Data-plane paths are also served without their `/v1` prefix.
pub const ROUTES: &[(&str, &str)] = &[
    // data plane
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/responses"),
    ("POST", "/v1/responses/input_tokens"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/messages/count_tokens"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}"),
    // Gemini-native data plane (`/v1beta`, and `/v1` as the google-genai SDK calls it)
    ("POST", "/v1beta/models/{model}:generateContent"),
    ("POST", "/v1beta/models/{model}:streamGenerateContent"),
    ("POST", "/v1beta/models/{model}:countTokens"),
    ("GET", "/v1beta/models"),
    ("GET", "/v1beta/models/{model}"),
    ("POST", "/v1/models/{model}:generateContent"),
    ("POST", "/v1/models/{model}:streamGenerateContent"),
    ("POST", "/v1/models/{model}:countTokens"),
    // operations
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    // public status
    ("GET", "/public/health/summary"),
    ("GET", "/public/health/targets"),
    ("GET", "/public/health/detail"),
    ("GET", "/public/health/runs"),
    // admin sessions
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/me"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/auth/logout"),
    // admin resources
    ("GET", "/api/admin/providers"),
    ("POST", "/api/admin/providers"),
    ("GET", "/api/admin/providers/{id}"),
    ("PUT", "/api/admin/providers/{id}"),
    ("PATCH", "/api/admin/providers/{id}"),
    ("DELETE", "/api/admin/providers/{id}"),
    ("POST", "/api/admin/providers/{id}/test"),
    ("GET", "/api/admin/providers/{id}/models"),
    ("GET", "/api/admin/models"),
    ("POST", "/api/admin/models"),
    ("POST", "/api/admin/models/bulk"),
    ("GET", "/api/admin/models/{id}"),
    ("PUT", "/api/admin/models/{id}"),
    ("PATCH", "/api/admin/models/{id}"),
    ("DELETE", "/api/admin/models/{id}"),
    ("GET", "/api/admin/keys"),
    ("POST", "/api/admin/keys"),
    ("GET", "/api/admin/keys/{id}"),
    ("PUT", "/api/admin/keys/{id}"),
    ("PATCH", "/api/admin/keys/{id}"),
    ("DELETE", "/api/admin/keys/{id}"),
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("DELETE", "/api/admin/users/{id}"),
    ("GET", "/api/admin/virtual-models"),
    ("POST", "/api/admin/virtual-models"),
    ("POST", "/api/admin/virtual-models/preview"),
    ("GET", "/api/admin/virtual-models/{id}"),
    ("PUT", "/api/admin/virtual-models/{id}"),
    ("PATCH", "/api/admin/virtual-models/{id}"),
    ("DELETE", "/api/admin/virtual-models/{id}"),
    ("GET", "/api/admin/health-targets"),
    ("POST", "/api/admin/health-targets"),
    ("GET", "/api/admin/health-targets/{id}"),
    ("PUT", "/api/admin/health-targets/{id}"),
    ("PATCH", "/api/admin/health-targets/{id}"),
    ("DELETE", "/api/admin/health-targets/{id}"),
    ("GET", "/api/admin/logs"),
    ("GET", "/api/admin/stats"),
    ("GET", "/api/admin/settings"),
    ("PUT", "/api/admin/settings"),
    ("PATCH", "/api/admin/settings"),
    ("GET", "/api/admin/routing"),
    ("GET", "/api/admin/presets"),
    ("GET", "/api/admin/catalog"),
    ("POST", "/api/admin/catalog/refresh"),
    ("POST", "/api/admin/catalog/apply"),
];

/// What the table says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Served; the template that matched.
    Found(&'static str),
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

/// Whether `path` is one of the Gemini-native routes (Google's error shape, `?key=` accepted).
pub fn is_gemini(path: &str) -> bool {
    let path = canonical(path);
    path.starts_with("/v1beta/")
        || path.strip_prefix("/v1/models/").is_some_and(|rest| rest.contains(':'))
}

/// The value of the `{name}` segment of `template` in `path` (without any `:action` suffix).
pub fn param<'a>(template: &str, path: &'a str) -> Option<&'a str> {
    template.split('/').zip(path.split('/')).find_map(|(t, p)| {
        let (open, suffix) = t.split_once('}')?;
        open.starts_with('{').then(|| p.strip_suffix(suffix)).flatten()
    })
}

/// Looks a request up; literal templates win over `{id}` ones (`virtual-models/preview`), and
/// `{id}:action` ones over plain `{id}` ones.
pub fn lookup(method: &http::Method, path: &str) -> Lookup {
    let path = canonical(path);
    let literal = ROUTES.iter().filter(|(_, t)| *t == path);
    let with_action = ROUTES.iter().filter(|(_, t)| t.contains("}:") && matches(t, &path));
    let candidates: Vec<&(&str, &str)> = if literal.clone().next().is_some() {
        literal.collect()
    } else if with_action.clone().next().is_some() {
        with_action.collect()
    } else {
        ROUTES.iter().filter(|(_, t)| matches(t, &path)).collect()
    };
    if candidates.is_empty() {
        return Lookup::NotFound;
    }
    candidates
        .iter()
        .find(|(m, _)| *m == method.as_str())
        .map_or(Lookup::MethodNotAllowed, |(_, t)| Lookup::Found(t))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use http::Method;

    use super::*;

    #[test]
    fn lookup_distinguishes_paths_methods_and_literals() {
        assert_eq!(
            lookup(&Method::POST, "/chat/completions"),
            Lookup::Found("/v1/chat/completions")
        );
        assert_eq!(lookup(&Method::GET, "/api/admin/keys/"), Lookup::Found("/api/admin/keys"));
        assert_eq!(
            lookup(&Method::GET, "/api/admin/keys/k1"),
            Lookup::Found("/api/admin/keys/{id}")
        );
        assert_eq!(lookup(&Method::POST, "/api/admin/keys/k1"), Lookup::MethodNotAllowed);
        assert_eq!(lookup(&Method::GET, "/api/admin/keys/k1/x"), Lookup::NotFound);
        assert_eq!(lookup(&Method::GET, "/api/admin/nope"), Lookup::NotFound);
        assert_eq!(
            lookup(&Method::POST, "/api/admin/virtual-models/preview"),
            Lookup::Found("/api/admin/virtual-models/preview")
        );
        assert_eq!(
            lookup(&Method::GET, "/api/admin/virtual-models/preview"),
            Lookup::MethodNotAllowed
        );
        assert_eq!(lookup(&Method::GET, "/v1/chat/completions"), Lookup::MethodNotAllowed);
        assert_eq!(lookup(&Method::GET, "/models/gpt-4o"), Lookup::Found("/v1/models/{model}"));
        assert_eq!(
            lookup(&Method::POST, "/messages/count_tokens"),
            Lookup::Found("/v1/messages/count_tokens")
        );
        let gemini = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";
        assert_eq!(
            lookup(&Method::POST, gemini),
            Lookup::Found("/v1beta/models/{model}:streamGenerateContent")
        );
        assert_eq!(lookup(&Method::GET, gemini), Lookup::MethodNotAllowed);
        assert_eq!(
            lookup(&Method::POST, "/v1beta/models/llama3:8b:countTokens"),
            Lookup::Found("/v1beta/models/{model}:countTokens")
        );
        assert_eq!(
            lookup(&Method::GET, "/v1beta/models/m"),
            Lookup::Found("/v1beta/models/{model}")
        );
        assert_eq!(
            param("/v1beta/models/{model}:countTokens", "/v1beta/models/g-1:countTokens"),
            Some("g-1")
        );
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
            ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
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
