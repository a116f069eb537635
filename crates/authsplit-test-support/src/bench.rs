//! The constant token endpoint the benchmarks run against: `POST /token` answers a fixed
//! RFC 6749 §5.1 JSON body at once. Not an authorization server: it checks nothing.

use axum::Router;
use axum::routing::post;

/// The token response body.
pub const TOKEN_BODY: &str = r#"{"access_token":"bench-access-token","token_type":"Bearer","expires_in":3600,"refresh_token":"bench-refresh-token","scope":"profile"}"#;

/// The router: `POST /token` → [`TOKEN_BODY`] (`application/json`, `no-store`).
pub fn constant_token_endpoint() -> Router {
    Router::new().route(
        "/token",
        post(|| async {
            (
                [
                    ("content-type", "application/json"),
                    ("cache-control", "no-store"),
                ],
                TOKEN_BODY,
            )
        }),
    )
}
