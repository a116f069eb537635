//! A host application that embeds authsplit: its own state type, its own `/api` routes
//! behind authsplit's CORS/CSRF rules ([`Authsplit::protect`]), routes that know the signed-in
//! user ([`AuthUser`], [`Authsplit::login_required`]), and the auth router nested at `/auth`.
//! It uses only `authsplit-server`'s public API (core types through its re-exports).
//!
//! Protecting a route takes these lines:
//!
//! ```text
//! async fn me(user: AuthUser) -> Json<User> { Json(user.user) }
//! let api = auth.login_required(Router::new().route("/me", get(me)));
//! let app = Router::new().nest("/auth", auth.router()).nest("/api", api);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::BTreeMap;
use std::sync::Mutex;

use authsplit_server::{
    ApiError, AuthUser, Authsplit, Config, ConfigError, CryptoProvider, ErrorCode, User,
};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// The host's own state (not authsplit's).
#[derive(Clone, Default)]
pub struct HostState {
    /// Notes posted so far.
    pub notes: Arc<AtomicU64>,
    /// Orders placed, by user id.
    pub orders: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
}

/// Builds the app from a configuration and the TLS crypto provider the host chose.
pub fn app(
    config: Config,
    crypto: Arc<CryptoProvider>,
    host: HostState,
) -> Result<Router, ConfigError> {
    let auth = Authsplit::builder(config).crypto_provider(crypto).build()?;
    // Open to everyone (the handler may still ask who is signed in).
    let open: Router<HostState> = Router::new()
        .route("/notes", get(count).post(add))
        .route("/hello", get(hello));
    // Signed-in users only: 401 before any handler runs otherwise.
    let signed_in: Router<HostState> = Router::new()
        .route("/me", get(me))
        .route("/orders", get(orders).post(order));
    Ok(Router::new()
        .nest("/auth", auth.router())
        .nest(
            "/api",
            auth.protect(open).merge(auth.login_required(signed_in)),
        )
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

async fn hello(user: Option<AuthUser>) -> Json<serde_json::Value> {
    let name = user.map(|u| u.user.name.unwrap_or(u.user.id));
    Json(serde_json::json!({ "hello": name.unwrap_or_else(|| "stranger".to_owned()) }))
}

async fn me(user: AuthUser) -> Json<User> {
    Json(user.user)
}

async fn orders(State(host): State<HostState>, user: AuthUser) -> Json<Vec<String>> {
    let orders = host.orders.lock().unwrap_or_else(|p| p.into_inner());
    Json(orders.get(&user.user.id).cloned().unwrap_or_default())
}

async fn order(
    State(host): State<HostState>,
    user: AuthUser,
    item: String,
) -> Result<Json<Vec<String>>, ApiError> {
    let item = item.trim();
    if item.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "an order needs an item",
        ));
    }
    let mut orders = host.orders.lock().unwrap_or_else(|p| p.into_inner());
    let mine = orders.entry(user.user.id).or_default();
    mine.push(item.to_owned());
    Ok(Json(mine.clone()))
}
