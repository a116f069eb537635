//! A host application that embeds authsplit: its own state type, its own `/api` routes
//! behind authsplit's CORS/CSRF rules ([`Authsplit::protect`]), and the auth router nested
//! at `/auth`. It uses only `authsplit-server`'s public API (core types through its
//! re-exports).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use authsplit_server::{ApiError, Authsplit, Config, ConfigError, CryptoProvider, ErrorCode};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// The host's own state (not authsplit's).
#[derive(Clone, Default)]
pub struct HostState {
    /// Notes posted so far.
    pub notes: Arc<AtomicU64>,
}

/// Builds the app from a configuration and the TLS crypto provider the host chose.
pub fn app(
    config: Config,
    crypto: Arc<CryptoProvider>,
    host: HostState,
) -> Result<Router, ConfigError> {
    let auth = Authsplit::builder(config).crypto_provider(crypto).build()?;
    let api: Router<HostState> = Router::new().route("/notes", get(count).post(add));
    Ok(Router::new()
        .nest("/auth", auth.router())
        .nest("/api", auth.protect(api))
        .with_state(host))
}

async fn count(State(host): State<HostState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "notes": host.notes.load(Ordering::SeqCst) }))
}

async fn add(
    State(host): State<HostState>,
    body: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    if body.trim().is_empty() {
        // An owned message built at run time.
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("a note needs text ({} bytes given)", body.len()),
        ));
    }
    let n = host.notes.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Json(serde_json::json!({ "notes": n })))
}
