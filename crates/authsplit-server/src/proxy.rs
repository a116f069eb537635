//! The backend calls APIs for the browser, so tokens stay server-side (RFC 10017's BFF;
//! docs/SECURITY.md S19):
//! - `ANY /proxy/{provider}/{path}` forwards to the provider API allow-listed in
//!   `[providers.<id>.api]` with the session's access token added here;
//! - [`Authsplit::upstream_router`](crate::Authsplit::upstream_router) forwards to the
//!   application's own API (`[upstream]`, any language) with the signed-in user's identity in
//!   request headers.
//!
//! Never an open proxy: the target is the configured base plus a path that is checked segment
//! by segment (no `.`/`..`, no encoded `/`, `\` or `.`, no empty segment), the final URL must
//! still be under the base, methods and path prefixes are allow-listed, the client's cookies,
//! `Authorization`, CSRF header and identity headers never pass, bodies are capped both ways,
//! every call has the outbound deadline, and redirects are not followed.

use std::sync::Arc;

use authsplit_core::ErrorCode;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::config::{ApiProxyConfig, ConfigError, UpstreamConfig, cfg_err};
use crate::error::ApiError;
use crate::outbound::EndpointKind;

/// Request headers passed on from the browser (everything else is dropped).
const PASSED_REQUEST_HEADERS: [HeaderName; 5] = [
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::CONTENT_TYPE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
];

fn parse_base(key: &str, url: &str) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(url).map_err(|_| cfg_err(format!("{key}: not an absolute URL")))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
        return Err(cfg_err(format!(
            "{key}: must be https (http only on a loopback address)"
        )));
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(cfg_err(format!(
            "{key}: no query, fragment or user information"
        )));
    }
    Ok(u)
}

fn parse_methods(key: &str, methods: &[String]) -> Result<Vec<Method>, ConfigError> {
    methods
        .iter()
        .map(|m| {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .ok()
                .filter(|m| *m != Method::CONNECT && *m != Method::TRACE)
                .ok_or_else(|| cfg_err(format!("{key}: unknown or refused method {m}")))
        })
        .collect()
}

/// `[providers.<id>.api]`, checked.
#[derive(Debug, Clone)]
pub(crate) struct ApiBase {
    base: url::Url,
    methods: Vec<Method>,
    paths: Vec<String>,
}

impl ApiBase {
    pub(crate) fn from_config(key: &str, cfg: &ApiProxyConfig) -> Result<Self, ConfigError> {
        let base = parse_base(&format!("{key}.base"), &cfg.base)?;
        let methods = parse_methods(&format!("{key}.methods"), &cfg.methods)?;
        for p in &cfg.paths {
            if checked_tail(p).is_err() {
                return Err(cfg_err(format!(
                    "{key}.paths: `{p}` must be a plain path starting with /"
                )));
            }
        }
        Ok(Self {
            base,
            methods,
            paths: cfg.paths.clone(),
        })
    }

    fn path_allowed(&self, tail: &str) -> bool {
        self.paths.iter().any(|p| {
            let p = p.trim_end_matches('/');
            p.is_empty()
                || tail == p
                || tail
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// `[upstream]`, checked.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    /// Where the binary mounts it (`[upstream] path`).
    pub path: String,
    base: url::Url,
    /// Calls to the upstream in flight at most (its own limit, apart from the providers').
    permits: Arc<tokio::sync::Semaphore>,
    methods: Vec<Method>,
    user_header: HeaderName,
    email_header: HeaderName,
    provider_header: HeaderName,
}

impl Upstream {
    pub(crate) fn from_config(cfg: &UpstreamConfig) -> Result<Self, ConfigError> {
        let name = |k: &str, v: &str| {
            HeaderName::from_bytes(v.as_bytes())
                .map_err(|_| cfg_err(format!("upstream.{k}: not a header name")))
        };
        if !cfg.path.starts_with('/') || cfg.path.len() < 2 || cfg.path.ends_with('/') {
            return Err(cfg_err(
                "upstream.path: a mount point like /app (no trailing slash)",
            ));
        }
        Ok(Self {
            path: cfg.path.clone(),
            base: parse_base("upstream.url", &cfg.url)?,
            permits: Arc::new(tokio::sync::Semaphore::new(UPSTREAM_IN_FLIGHT)),
            methods: parse_methods("upstream.methods", &cfg.methods)?,
            user_header: name("user_header", &cfg.user_header)?,
            email_header: name("email_header", &cfg.email_header)?,
            provider_header: name("provider_header", &cfg.provider_header)?,
        })
    }
}

/// Calls to the `[upstream]` API in flight at most.
const UPSTREAM_IN_FLIGHT: usize = 256;

fn refused(msg: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg)
}

/// A request path tail (`/a/b`), still percent-encoded as it arrived: every segment must be
/// plain. Refused: empty segments (`//`), `.` and `..`, encoded `/`, `\`, `.` or NUL, a raw `\`,
/// and anything that is not a path (`http://…`).
fn checked_tail(raw: &str) -> Result<&str, ApiError> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(refused("the path must start with /"));
    };
    if rest.is_empty() {
        return Ok(raw);
    }
    for seg in rest.split('/') {
        let lower = seg.to_ascii_lowercase();
        if seg.is_empty()
            || seg == "."
            || seg == ".."
            || seg.contains('\\')
            || ["%2f", "%5c", "%2e", "%00"]
                .iter()
                .any(|b| lower.contains(b))
        {
            return Err(refused(
                "the path is not a plain path under the allowed base",
            ));
        }
    }
    Ok(raw)
}

/// `base` + `tail` (+ `?query`), and the result must still be under `base`.
fn target(base: &url::Url, tail: &str, query: Option<&str>) -> Result<url::Url, ApiError> {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(tail);
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    let u = url::Url::parse(&s).map_err(|_| refused("the path does not make a valid URL"))?;
    let base_path = base.path().trim_end_matches('/');
    let under = u.path() == base_path
        || u.path()
            .strip_prefix(base_path)
            .is_some_and(|r| r.starts_with('/'));
    if u.origin() != base.origin() || !under {
        return Err(refused("the path leaves the allowed base"));
    }
    Ok(u)
}

/// 401 `not_authenticated`: no session (an ended one is `session_ended`, from
/// [`crate::auth_user::session_record`]).
fn no_session() -> ApiError {
    ApiError::new(ErrorCode::NotAuthenticated, "no session: sign in first")
}

/// Reads the body (capped), then sends `req` to `url` and hands the answer back with only the
/// passed headers.
#[allow(clippy::too_many_arguments)]
async fn forward(
    app: &AppState,
    (name, permits): (&str, &Arc<tokio::sync::Semaphore>),
    kind: EndpointKind,
    method: Method,
    url: url::Url,
    incoming: &HeaderMap,
    body: Body,
    add: Vec<(HeaderName, HeaderValue)>,
) -> Result<Response, ApiError> {
    let body = crate::extract::read_limited(body, app.inner.server.max_body_bytes).await?;
    let out = &app.inner.out;
    let mut req = out.client().request(method, url.as_str());
    for h in &PASSED_REQUEST_HEADERS {
        if let Some(v) = incoming.get(h) {
            req = req.header(h, v);
        }
    }
    req = req.header(header::USER_AGENT, "authsplit-server");
    for (k, v) in add {
        req = req.header(k, v);
    }
    if !body.is_empty() {
        req = req.body(body);
    }
    let f = out
        .send(name, kind, permits, req)
        .await
        .map_err(ApiError::from)?;
    let mut resp = Response::new(Body::from(f.body));
    *resp.status_mut() = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Some(ct) = f.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    Ok(resp)
}

/// `ANY /proxy/{provider}/{path}`: the provider API call with the session's access token.
pub(crate) async fn provider_api(State(app): State<AppState>, req: Request) -> Response {
    match provider_api_inner(app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn provider_api_inner(app: AppState, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let raw = parts.uri.path();
    let after = raw
        .strip_prefix("/proxy/")
        .ok_or_else(|| refused("not a proxy path"))?;
    let (provider_id, tail) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    let provider = app.provider(provider_id)?;
    let api = provider.api.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "this provider has no API proxy configured",
        )
        .with_status(StatusCode::NOT_FOUND)
    })?;
    let tail = checked_tail(tail)?;
    if !api.methods.contains(&parts.method) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "method not allowed through the proxy",
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    if !api.path_allowed(tail) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "path not allowed through the proxy",
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    let url = target(&api.base, tail, parts.uri.query())?;
    let Some((id, record)) = crate::auth_user::session_record(&app, &parts.headers).await? else {
        return Err(no_session());
    };
    if record.provider != provider.id {
        return Err(ApiError::new(
            ErrorCode::NotAuthenticated,
            "the session is not with this provider",
        ));
    }
    // Refreshed through the session's single flight when it expires within a minute.
    let token = crate::auth_user::fresh_access_token(&app, &id, &record).await?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))?;
    forward(
        &app,
        (&provider.id, &provider.permits),
        EndpointKind::Api,
        parts.method,
        url,
        &parts.headers,
        body,
        vec![(header::AUTHORIZATION, bearer)],
    )
    .await
}

/// The `[upstream]` forwarder (mounted by the host at `[upstream] path`).
pub(crate) async fn upstream(State(app): State<AppState>, req: Request) -> Response {
    match upstream_inner(app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn upstream_inner(app: AppState, req: Request) -> Result<Response, ApiError> {
    let Some(up) = app.inner.upstream.clone() else {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "no such endpoint")
            .with_status(StatusCode::NOT_FOUND));
    };
    let (parts, body) = req.into_parts();
    if !up.methods.contains(&parts.method) {
        return Err(
            ApiError::new(ErrorCode::InvalidRequest, "method not allowed")
                .with_status(StatusCode::METHOD_NOT_ALLOWED),
        );
    }
    let tail = checked_tail(parts.uri.path())?;
    let url = target(&up.base, tail, parts.uri.query())?;
    let Some((_, record)) = crate::auth_user::session_record(&app, &parts.headers).await? else {
        return Err(no_session());
    };
    let user: authsplit_core::wire::User = record
        .user
        .clone()
        .and_then(|u| serde_json::from_value(u).ok())
        .ok_or_else(no_session)?;
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))
    };
    let mut add = vec![
        (up.user_header.clone(), value(&user.id)?),
        (up.provider_header.clone(), value(&user.provider)?),
    ];
    if let Some(e) = user.email.as_deref() {
        add.push((up.email_header.clone(), value(e)?));
    }
    forward(
        &app,
        ("upstream", &up.permits),
        EndpointKind::Upstream,
        parts.method,
        url,
        &parts.headers,
        body,
        add,
    )
    .await
}
