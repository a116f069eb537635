//! `GET /session`: who is signed in, for a page that was just (re)loaded. No CSRF header is
//! needed and nothing changes: it never refreshes, never calls the provider and sets no cookie
//! except to clear one that does not open. Signed in or out it answers
//! `200 {"authenticated", "user", "expiresAt"}` — never a 401, so a signed-out page load shows
//! no failed request; when the cookie names a session that was ended on the server (a logout
//! elsewhere, back-channel logout, a second sign-in) the signed-out answer adds `"ended": true`
//! to say why. `expiresAt` is when the session's access token expires (unix
//! milliseconds, as `handleCallback` reports it), `null` when unknown. A store that cannot
//! answer is `503 store_unavailable`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::session_id;
use crate::AppState;
use crate::cookies::CookieSettings;
use crate::error::ApiError;
use authsplit_core::ErrorCode;

/// `GET /session`.
pub(crate) async fn session(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let signed_out = || json!({ "authenticated": false, "user": null, "expiresAt": null });
    let c = &app.inner.cookies;
    let Some(id) = session_id(&app, &headers) else {
        let mut out = HeaderMap::new();
        if CookieSettings::has(&headers, c.session_name) {
            c.clear(&mut out, Some(&headers), c.session_name);
        }
        return Ok((out, Json(signed_out())).into_response());
    };
    let body = match crate::auth_user::live(&app, &id).await {
        Ok(Some(r)) => json!({
            "authenticated": true,
            "user": r.user,
            "expiresAt": r.access_expires_at.map(|s| s.saturating_mul(1000)),
        }),
        Ok(None) => signed_out(),
        Err(e) if e.code() == ErrorCode::SessionEnded => {
            let mut b = signed_out();
            b["ended"] = true.into();
            b
        }
        Err(e) => return Err(e),
    };
    Ok(Json(body).into_response())
}
