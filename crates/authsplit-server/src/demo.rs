//! The example SPA's "protected API": `GET /api/hello` accepts `Authorization: Bearer <token>`
//! (in BFF mode the session cookie instead, and uses the session's token) and validates the
//! token by calling the provider's userinfo endpoint. It never sends a token
//! to a provider other than the one named (`?provider=<id>`, or the only one with userinfo).
//! `GET /api/me` answers the signed-in user from the session store ([`crate::AuthUser`]).

use authsplit_core::ErrorCode;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::outbound::EndpointKind;

/// `?provider=`.
#[derive(Debug, Deserialize)]
pub(crate) struct HelloQuery {
    provider: Option<String>,
}

fn unauthorized(msg: &'static str) -> Response {
    let mut r = ApiError::new(ErrorCode::NotAuthenticated, msg).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"authsplit-demo\""),
    );
    r
}

/// `GET /api/hello`.
pub(crate) async fn hello(
    State(app): State<AppState>,
    Query(q): Query<HelloQuery>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    // BFF mode: the page sends its session cookie instead, and the backend uses the session's
    // access token (refreshed through the session's single flight when needed).
    let (token, session_provider) = match token {
        Some(t) => (t, None),
        None if app.inner.server.mode == crate::config::Mode::Bff => {
            match crate::auth_user::session_record(&app, &headers).await {
                Ok(Some((id, record))) => {
                    match crate::auth_user::fresh_access_token(&app, &id, &record).await {
                        Ok(t) => (t, Some(record.provider)),
                        Err(e) => return e.into_response(),
                    }
                }
                Ok(None) => return unauthorized("sign in first"),
                Err(e) => return e.into_response(),
            }
        }
        None => return unauthorized("an Authorization: Bearer token is required"),
    };
    let out = &app.inner.out;
    let provider = match session_provider.or(q.provider) {
        Some(id) => match app.provider(&id) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        },
        None => {
            let with_userinfo: Vec<_> = app
                .inner
                .providers
                .values()
                .filter(|p| p.base_profile().userinfo.is_some())
                .collect();
            match with_userinfo.as_slice() {
                [one] => (*one).clone(),
                _ => {
                    return ApiError::new(
                        ErrorCode::InvalidRequest,
                        "name the provider with ?provider=<id>",
                    )
                    .into_response();
                }
            }
        }
    };
    let profile = match provider.profile(out).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(url) = &profile.endpoints.userinfo else {
        return ApiError::new(
            ErrorCode::Configuration,
            "this provider has no userinfo endpoint",
        )
        .into_response();
    };
    let req = out
        .client()
        .get(url)
        .bearer_auth(&token)
        .header(reqwest::header::ACCEPT, "application/json");
    let f = match out
        .send(&provider.id, EndpointKind::Userinfo, &provider.permits, req)
        .await
    {
        Ok(f) => f,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match (f.status, serde_json::from_slice::<Value>(&f.body)) {
        (200, Ok(Value::Object(profile))) => {
            let sub = profile.get("sub").and_then(Value::as_str).unwrap_or("");
            let name = profile.get("name").and_then(Value::as_str).unwrap_or(sub);
            let mut r = (
                StatusCode::OK,
                Json(json!({
                    "message": format!("Hello, {name}!"),
                    "provider": provider.id,
                    "sub": sub,
                })),
            )
                .into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        (401 | 403, _) => unauthorized("the access token was rejected by the provider"),
        _ => ApiError::from(crate::outbound::unexpected(
            "the userinfo request failed",
            &f,
        ))
        .into_response(),
    }
}

/// `GET /api/me`: the session's user (401 `not_authenticated` without a session, answered by
/// the `login_required` layer before this runs).
pub(crate) async fn me(user: crate::AuthUser) -> Json<authsplit_core::wire::User> {
    Json(user.user)
}
