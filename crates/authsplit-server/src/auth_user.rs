//! The host app's side of a session: the [`AuthUser`] extractor (also as `Option<AuthUser>`)
//! and [`Authsplit::login_required`](crate::Authsplit::login_required). A handler learns who is
//! signed in from the session store — the request's session cookie names a record there — with
//! no call to the provider per request. Both work under any state type and mount prefix: the
//! routes given to [`Authsplit::protect`](crate::Authsplit::protect) or `login_required` carry
//! the router's state in a request extension.

use authsplit_core::ErrorCode;
use authsplit_core::wire::User;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, session_ended};
use authsplit_store::{SessionRecord, SessionState};

/// The signed-in user of a request, read from the session store.
///
/// Rejections (all [`ApiError`] JSON bodies): 401 `not_authenticated` without a session (no
/// cookie, a cookie that does not open, an expired session); 401 `session_ended` when the
/// cookie names a session that was ended on the server (a logout elsewhere, back-channel
/// logout from the provider, a second sign-in); 503
/// `store_unavailable` when the store cannot answer; 500 `internal` when the route was not
/// wrapped by [`Authsplit::protect`](crate::Authsplit::protect) or
/// [`Authsplit::login_required`](crate::Authsplit::login_required) (a wiring mistake, logged).
/// As `Option<AuthUser>` a route serves both: `None` without a session and for an ended one.
///
/// ```no_run
/// use authsplit_server::{AuthUser, Authsplit};
/// use axum::{Json, Router, routing::get};
///
/// async fn me(user: AuthUser) -> Json<authsplit_server::User> {
///     Json(user.user)
/// }
///
/// # fn app(auth: &Authsplit) -> Router {
/// let api: Router = auth.login_required(Router::new().route("/me", get(me)));
/// Router::new().nest("/auth", auth.router()).nest("/api", api)
/// # }
/// ```
#[derive(Clone)]
pub struct AuthUser {
    /// The normalized user, as the browser got it at sign-in.
    pub user: User,
    /// The provider id the user signed in with.
    pub provider: String,
    /// When the provider's access token expires (unix seconds), if it said.
    pub access_expires_at: Option<u64>,
    /// When the session ends at the latest (unix seconds).
    pub session_expires_at: u64,
    session_id: String,
    app: AppState,
}

/// An access token is handed to a server-side call only if it stays valid this much longer.
const FRESH_MARGIN_SECS: u64 = 60;

impl AuthUser {
    /// A provider access token for a call the host makes on the user's behalf: the session's
    /// own while it is valid for another minute, else a fresh one from the session's refresh
    /// — the same single flight as `POST /refresh`, so concurrent callers on any instance
    /// cause one upstream refresh. Errors: 401 `session_ended` when the session was ended on
    /// the server (also while the refresh ran), 401 `not_authenticated` when it expired or can
    /// get no fresh token (no refresh token and the access token expired), the refresh's own
    /// typed error otherwise.
    pub async fn access_token(&self) -> Result<String, ApiError> {
        let Some(record) = live(&self.app, &self.session_id).await? else {
            return Err(not_authenticated());
        };
        fresh_access_token(&self.app, &self.session_id, &record).await
    }
}

impl std::fmt::Debug for AuthUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthUser")
            .field("user_id", &self.user.id)
            .field("provider", &self.provider)
            .field("access_expires_at", &self.access_expires_at)
            .field("session_expires_at", &self.session_expires_at)
            .finish()
    }
}

fn not_authenticated() -> ApiError {
    ApiError::new(ErrorCode::NotAuthenticated, "no session: sign in first")
}

/// The router's state as the wrapping layer left it in the request.
fn app_of(parts: &Parts) -> Result<AppState, ApiError> {
    parts.extensions.get::<AppState>().cloned().ok_or_else(|| {
        tracing::error!(
            "AuthUser used on a route not wrapped by Authsplit::protect or login_required"
        );
        ApiError::new(ErrorCode::Internal, "internal error")
    })
}

/// The id and record of the request's live session (`None`: no session cookie, one that does
/// not open, or a session that expired; `session_ended` when the cookie names a session that
/// was ended on the server).
pub(crate) async fn session_record(
    app: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<(String, SessionRecord)>, ApiError> {
    let Some(id) = crate::routes::session_id(app, headers) else {
        return Ok(None);
    };
    live(app, &id).await.map(|r| r.map(|r| (id, r)))
}

/// The record of session `id` while it is live (active and not expired); `session_ended` when
/// it was ended on the server.
pub(crate) async fn live(app: &AppState, id: &str) -> Result<Option<SessionRecord>, ApiError> {
    match app.store().session(id).await? {
        SessionState::Active(r) if r.expires_at > app.now() => Ok(Some(*r)),
        SessionState::Ended => Err(session_ended()),
        _ => Ok(None),
    }
}

/// An access token of the live session `id` (its `record` as just read) good for another
/// minute: the stored one, or one from the session's single-flight refresh.
pub(crate) async fn fresh_access_token(
    app: &AppState,
    id: &str,
    record: &SessionRecord,
) -> Result<String, ApiError> {
    let fresh = record
        .access_expires_at
        .is_none_or(|exp| exp > app.now().saturating_add(FRESH_MARGIN_SECS));
    if let Some(t) = record
        .access_token
        .as_ref()
        .filter(|t| fresh && !t.is_empty())
    {
        return Ok(t.clone());
    }
    let Some(rt) = record.refresh_token.clone() else {
        return Err(ApiError::new(
            ErrorCode::NotAuthenticated,
            "the session's access token has expired and it has no refresh token; sign in again",
        ));
    };
    let provider = app
        .provider(&record.provider)
        .map_err(|_| not_authenticated())?;
    match crate::routes::refresh::refresh_session(app, id, &provider, rt).await? {
        crate::routes::refresh::Outcome::Refreshed(reply) if !reply.access_token.is_empty() => {
            Ok(reply.access_token)
        }
        crate::routes::refresh::Outcome::Failed { error, .. } => Err(error),
        crate::routes::refresh::Outcome::SignedOut => Err(session_ended()),
        _ => Err(not_authenticated()),
    }
}

/// The live session's user, `None` when the request has none (`session_ended` when its session
/// was ended on the server).
async fn read(parts: &Parts) -> Result<Option<AuthUser>, ApiError> {
    let app = app_of(parts)?;
    let Some((session_id, record)) = session_record(&app, &parts.headers).await? else {
        return Ok(None);
    };
    let Some(user) = record
        .user
        .clone()
        .and_then(|u| serde_json::from_value::<User>(u).ok())
    else {
        tracing::warn!(provider = %record.provider, "a session record has no readable user");
        return Ok(None);
    };
    Ok(Some(AuthUser {
        user,
        provider: record.provider.clone(),
        access_expires_at: record.access_expires_at,
        session_expires_at: record.expires_at,
        session_id,
        app,
    }))
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        read(parts).await?.ok_or_else(not_authenticated)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        // A session ended on the server is no session to a route that serves both.
        match read(parts).await {
            Err(e) if e.code() == ErrorCode::SessionEnded => Ok(None),
            r => r,
        }
    }
}

/// The middleware of [`Authsplit::login_required`](crate::Authsplit::login_required): a request
/// without a live session is answered 401 before it reaches a handler.
pub(crate) async fn require_session(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    match read(&parts).await {
        Ok(Some(_)) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Ok(None) => not_authenticated().into_response(),
        Err(e) => e.into_response(),
    }
}
