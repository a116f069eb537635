//! # authsplit-server
//!
//! The backend half of authsplit: holds `client_secret`, binds sign-in transactions to the
//! browser, redeems authorization codes (exactly once), validates ID tokens, calls userinfo,
//! refreshes (one at a time per session) and revokes. An axum [`Router`] you nest into your
//! own app, and the `authsplit-server` binary that runs it from a config file.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authsplit_server::{Config, ProviderConfig};
//! let config = Config::builder()
//!     .cookie_key_bytes(&[7u8; 64]) // use 64 random bytes
//!     .allowed_origin("https://app.example")
//!     .provider("local", ProviderConfig::oidc("https://op.example", "app", "secret",
//!         "https://app.example/callback"))
//!     .build();
//! let app: axum::Router = axum::Router::new().nest("/auth", authsplit_server::router(config)?);
//! # let _ = app; Ok(()) }
//! ```
//!
//! Endpoints under the mount point (JSON shapes in [`authsplit_core::wire`]):
//! `POST /transactions` (201), `POST /token`, `POST /refresh`, `POST /logout`, `GET /config`,
//! `GET /healthz`. Every `POST` needs `x-authsplit: 1` and an allow-listed `Origin`; errors are
//! [`error::ApiError`] (JSON [`authsplit_core::wire::ErrorBody`], status table in [`error`]).
//!
//! Rules enforced (REFERENCE §1, §3): transaction bound by an encrypted `__Host-` cookie and
//! single use; state (constant time), verifier grammar and S256 challenge checked before any
//! outbound call; one token request, never retried; refresh token only in an encrypted HttpOnly
//! cookie; `Cache-Control: no-store`; no secret in a body or log line.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use authsplit_core::{Error, ErrorCode};
use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post};
use cookie::Key;

pub mod config;
mod cookies;
mod demo;
pub mod error;
mod extract;
mod handlers;
mod idtoken;
mod outbound;
mod provider;
pub mod serve;

pub use config::{ClientAuth, Config, ConfigError, ProviderConfig, Secret, ServerConfig};
pub use error::ApiError;
pub use extract::StrictJson;
pub use serve::{ConnectionTimeouts, serve};

/// The clock: current time in unix seconds. Injectable for tests ([`AuthsplitBuilder::clock`]).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One cached refresh outcome (shared by concurrent callers presenting the same old token).
#[derive(Clone)]
pub(crate) struct RefreshCache {
    pub rt_hash: [u8; 32],
    pub at: Instant,
    pub outcome: Result<(authsplit_core::wire::TokenReply, Option<String>), ApiError>,
}

type SessionSlot = Arc<tokio::sync::Mutex<Option<RefreshCache>>>;

pub(crate) struct Inner {
    pub server: ServerConfig,
    pub allowed_origins: Vec<String>,
    pub providers: BTreeMap<String, Arc<provider::Provider>>,
    pub key: Key,
    pub cookies: cookies::CookieSettings,
    pub out: outbound::Outbound,
    pub clock: Clock,
    pub ttl: u64,
    pub used_tx: StdMutex<ExpiringSet>,
    pub refused_tx: StdMutex<FifoSet>,
    pub ended_sessions: StdMutex<FifoSet>,
    pub revocation_retries: Arc<tokio::sync::Semaphore>,
    pub sessions: StdMutex<HashMap<String, SessionSlot>>,
    pub warnings: Vec<String>,
}

/// Shared state of the router (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field(
                "providers",
                &self.inner.providers.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub(crate) fn now(&self) -> u64 {
        (self.inner.clock)()
    }

    pub(crate) fn provider(&self, id: &str) -> Result<Arc<provider::Provider>, ApiError> {
        self.inner
            .providers
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownProvider, "unknown provider"))
    }

    /// Whether a transaction id was redeemed (or is being redeemed, or was refused by the
    /// provider and is still remembered).
    pub(crate) fn is_used(&self, id: &str) -> bool {
        let key = set_key(id);
        let used = self
            .inner
            .used_tx
            .lock()
            .map(|m| m.map.contains_key(&key))
            .unwrap_or(true);
        used || self
            .inner
            .refused_tx
            .lock()
            .map(|m| m.contains(key))
            .unwrap_or(true)
    }

    /// Marks a transaction id used. Bounded, and fail-closed: expired ids are pruned, but an id
    /// whose cookie is still valid is never evicted (evicting it would let that cookie be
    /// redeemed a second time), so a set full of live ids answers [`Insert::Full`] and the
    /// caller refuses the exchange without sending it.
    pub(crate) fn mark_used(&self, id: &str, expires_at: u64) -> Insert {
        let cap = self.inner.server.max_used_transactions;
        insert_bounded(&self.inner.used_tx, id, expires_at, self.now(), cap)
    }

    /// Forgets a used mark (the attempt provably never reached the provider).
    pub(crate) fn unmark_used(&self, id: &str) {
        if let Ok(mut m) = self.inner.used_tx.lock() {
            m.map.remove(&set_key(id));
        }
    }

    /// Moves a used mark to the refused set: the provider answered the exchange with an error
    /// response, so it issued no token for this code. The id stays refused (a replay gets
    /// `transaction_used` with nothing sent), but in a first-in-first-out set that evicts its
    /// oldest entry when full instead of refusing everybody: exchanges with made-up codes —
    /// which anyone can send after opening their own transactions — cannot fill the strict
    /// set and lock every user out. An evicted id costs at most one more token request with
    /// a code the provider has already refused.
    pub(crate) fn mark_refused(&self, id: &str, expires_at: u64) {
        let key = set_key(id);
        if let Ok(mut m) = self.inner.refused_tx.lock() {
            m.insert(
                key,
                expires_at,
                self.now(),
                self.inner.server.max_used_transactions,
            );
        }
        if let Ok(mut m) = self.inner.used_tx.lock() {
            m.map.remove(&key);
        }
    }

    /// Records that a session was logged out (its cookie may still be replayed until it expires).
    pub(crate) fn end_session(&self, sid: &str) {
        let exp = self
            .now()
            .saturating_add(self.inner.server.session_ttl_secs);
        let cap = self.inner.server.max_used_transactions;
        // Defence in depth only (the session's refresh token is revoked at the provider too),
        // and a logout must never be refused: the oldest entry (the closest to expiry — every
        // entry lives session_ttl_secs) is evicted when full.
        if let Ok(mut m) = self.inner.ended_sessions.lock() {
            m.insert(set_key(sid), exp, self.now(), cap);
        }
    }

    /// Whether a session was logged out.
    pub(crate) fn session_ended(&self, sid: &str) -> bool {
        self.inner
            .ended_sessions
            .lock()
            .map(|m| m.contains(set_key(sid)))
            .unwrap_or(true)
    }

    /// The per-session refresh slot (one refresh in flight per session).
    pub(crate) fn session_slot(&self, sid: &str) -> SessionSlot {
        let Ok(mut m) = self.inner.sessions.lock() else {
            return Arc::new(tokio::sync::Mutex::new(None));
        };
        if m.len() > 10_000 {
            m.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .map(|g| {
                            g.as_ref()
                                .is_some_and(|c| c.at.elapsed() < handlers::REFRESH_SHARE_WINDOW)
                        })
                        .unwrap_or(true)
            });
        }
        m.entry(sid.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone()
    }
}

/// The outcome of [`insert_bounded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Newly inserted.
    Inserted,
    /// Already present (or the lock is poisoned: fail closed).
    Present,
    /// Full of unexpired entries and eviction is not allowed.
    Full,
}

/// A bounded first-in-first-out set of hashed ids with expiry times, for marks whose loss is
/// harmless: inserting always succeeds, evicting the oldest entry when full, in O(1).
#[derive(Debug, Default)]
pub(crate) struct FifoSet {
    keys: HashMap<u128, u64>,
    order: std::collections::VecDeque<u128>,
}

impl FifoSet {
    fn contains(&self, key: u128) -> bool {
        self.keys.contains_key(&key)
    }

    fn insert(&mut self, key: u128, expires_at: u64, now: u64, cap: usize) {
        // Expired entries at the front go first (entries are inserted roughly in expiry order).
        while let Some(front) = self.order.front().copied() {
            match self.keys.get(&front) {
                Some(exp) if *exp > now => break,
                _ => {
                    self.order.pop_front();
                    self.keys.remove(&front);
                }
            }
        }
        if self.keys.contains_key(&key) {
            return;
        }
        while self.keys.len() >= cap.max(1) {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.keys.remove(&oldest);
                }
                None => break,
            }
        }
        self.keys.insert(key, expires_at);
        self.order.push_back(key);
    }
}

/// A bounded set of ids with expiry times. Ids are stored as 128-bit hashes (≈30 bytes an
/// entry), so the default bound of a million ids costs at most ≈30 MiB.
#[derive(Debug, Default)]
pub(crate) struct ExpiringSet {
    map: HashMap<u128, u64>,
    /// No prune scan before this time (unix seconds): a full set of live ids is scanned at most
    /// once a second, never once per request.
    next_prune: u64,
}

/// The key of `id` in an [`ExpiringSet`]: the first 128 bits of SHA-256(id).
fn set_key(id: &str) -> u128 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_le_bytes(b)
}

/// Inserts `id` (expiring at `expires_at`) into a set bounded to `cap` entries; expired entries
/// are pruned when it is full (at most once a second). Never evicts a live id: a set full of
/// them answers [`Insert::Full`].
fn insert_bounded(
    set: &StdMutex<ExpiringSet>,
    id: &str,
    expires_at: u64,
    now: u64,
    cap: usize,
) -> Insert {
    let Ok(mut set) = set.lock() else {
        return Insert::Present;
    };
    let key = set_key(id);
    if set.map.contains_key(&key) {
        return Insert::Present;
    }
    let cap = cap.max(1);
    if set.map.len() >= cap && now >= set.next_prune {
        set.map.retain(|_, exp| *exp > now);
        set.next_prune = now.saturating_add(1);
    }
    if set.map.len() >= cap {
        return Insert::Full;
    }
    set.map.insert(key, expires_at);
    Insert::Inserted
}

/// The configured service: build it once, then take its [`Authsplit::router`].
#[derive(Clone, Debug)]
pub struct Authsplit {
    state: AppState,
}

/// Builds an [`Authsplit`] with options that are not configuration (the clock).
pub struct AuthsplitBuilder {
    config: Config,
    clock: Option<Clock>,
}

impl std::fmt::Debug for AuthsplitBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthsplitBuilder").finish_non_exhaustive()
    }
}

impl AuthsplitBuilder {
    /// Replaces the clock (unix seconds) — for tests of expiry.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Validates the configuration and builds the service. No network I/O happens here;
    /// discovery runs on first use (or in [`Authsplit::warm_up`]).
    pub fn build(self) -> Result<Authsplit, ConfigError> {
        let Config { server, providers } = self.config;
        let mut warnings = Vec::new();
        if server.transaction_ttl_secs == 0
            || server.transaction_ttl_secs > authsplit_core::wire::TRANSACTION_TTL_SECS
        {
            return Err(ConfigError(format!(
                "server.transaction_ttl_secs must be 1..={}",
                authsplit_core::wire::TRANSACTION_TTL_SECS
            )));
        }
        if server.header_read_timeout_secs == 0
            || server.request_body_timeout_secs == 0
            || server.idle_timeout_secs == 0
        {
            return Err(ConfigError(
                "server.header_read_timeout_secs, request_body_timeout_secs and \
                 idle_timeout_secs must be positive"
                    .to_owned(),
            ));
        }
        if server.max_body_bytes == 0 || server.max_response_bytes == 0 {
            return Err(ConfigError("body limits must be positive".to_owned()));
        }
        let key = match &server.cookie_key {
            Some(k) => {
                let bytes = config::decode_cookie_key(k.secret())?;
                Key::try_from(&bytes[..])
                    .map_err(|_| ConfigError("server.cookie_key is too short".to_owned()))?
            }
            None if server.dev_generate_cookie_key => {
                warnings.push(
                    "DEV ONLY: server.dev_generate_cookie_key is on: a random cookie key was \
                     generated; sessions end when the process stops"
                        .to_owned(),
                );
                Key::try_generate()
                    .ok_or_else(|| ConfigError("the OS random generator failed".to_owned()))?
            }
            None => {
                return Err(ConfigError(
                    "server.cookie_key is required (≥64 random bytes, base64 or hex; e.g. \
                     AUTHSPLIT__SERVER__COOKIE_KEY=$(head -c 64 /dev/urandom | base64 -w0)); \
                     for local development only, set server.dev_generate_cookie_key = true"
                        .to_owned(),
                ));
            }
        };
        if server.insecure_dev_cookies {
            warnings.push(
                "DEV ONLY: server.insecure_dev_cookies is on: cookies lack `Secure` and the \
                 `__Host-` prefix; never use this outside plain-http loopback"
                    .to_owned(),
            );
        }
        let allowed_origins = server
            .allowed_origins
            .iter()
            .map(|o| config::normalise_origin(o))
            .collect::<Result<Vec<_>, _>>()?;
        for o in &allowed_origins {
            if o.starts_with("http://")
                && let Ok(u) = url::Url::parse(o)
                && !config::is_loopback(&u)
            {
                warnings.push(format!("allowed origin {o} is plain http (not loopback)"));
            }
        }
        let mut map = BTreeMap::new();
        for (id, p) in providers {
            let prov = provider::Provider::new(
                &id,
                p,
                server.redirect_uri.as_deref(),
                server.max_concurrent_requests,
                &mut warnings,
            )?;
            map.insert(id, Arc::new(prov));
        }
        if map.is_empty() {
            warnings.push("no providers configured".to_owned());
        }
        let out = outbound::Outbound::new(&server)?;
        let inner = Inner {
            cookies: cookies::CookieSettings::new(server.insecure_dev_cookies),
            ttl: server.transaction_ttl_secs,
            allowed_origins,
            providers: map,
            key,
            out,
            clock: self.clock.unwrap_or_else(|| Arc::new(system_clock)),
            used_tx: StdMutex::new(ExpiringSet::default()),
            refused_tx: StdMutex::new(FifoSet::default()),
            ended_sessions: StdMutex::new(FifoSet::default()),
            revocation_retries: Arc::new(tokio::sync::Semaphore::new(256)),
            sessions: StdMutex::new(HashMap::new()),
            warnings,
            server,
        };
        Ok(Authsplit {
            state: AppState {
                inner: Arc::new(inner),
            },
        })
    }
}

/// One line per provider for the start-up log (no secrets).
#[derive(Clone, Debug)]
pub struct ProviderSummary {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The preset (`github`, …), or `None` for a generic OIDC / OAuth 2.0 provider.
    pub preset: Option<String>,
    /// Issuer, when configured.
    pub issuer: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client authentication method at the token endpoint (`basic`, `post`, `id_only`, `none`;
    /// for OIDC providers discovery may still switch between `basic` and `post`).
    pub client_auth: String,
    /// Redirect URI.
    pub redirect_uri: String,
}

impl Authsplit {
    /// Validates `config` and builds the service with the system clock.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::builder(config).build()
    }

    /// A builder (to inject a clock).
    pub fn builder(config: Config) -> AuthsplitBuilder {
        AuthsplitBuilder {
            config,
            clock: None,
        }
    }

    /// The server section in force.
    pub fn server_config(&self) -> &ServerConfig {
        &self.state.inner.server
    }

    /// Warnings about dev-only or risky settings (log them loudly).
    pub fn warnings(&self) -> &[String] {
        &self.state.inner.warnings
    }

    /// The configured providers.
    pub fn providers(&self) -> Vec<ProviderSummary> {
        self.state
            .inner
            .providers
            .values()
            .map(|p| ProviderSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                preset: p.preset().map(str::to_owned),
                issuer: p.issuer().map(str::to_owned),
                client_id: p.creds.client_id.clone(),
                client_auth: serde_json::to_value(p.base_profile().token.client_auth)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                redirect_uri: p.redirect_uri.clone(),
            })
            .collect()
    }

    /// Runs discovery for every provider configured by issuer; returns the failures
    /// (a `discovery_failed` error means a wrong issuer or a broken document).
    pub async fn warm_up(&self) -> Vec<(String, Error)> {
        let mut failures = Vec::new();
        for p in self.state.inner.providers.values() {
            if let Err(e) = p.profile(&self.state.inner.out).await {
                failures.push((p.id.clone(), e));
            }
        }
        failures
    }

    /// The auth router, to be nested (e.g. at `/auth`).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let state = self.state.clone();
        let r = Router::new()
            .route("/transactions", post(handlers::create_transaction))
            .route("/token", post(handlers::token))
            .route("/refresh", post(handlers::refresh))
            .route("/logout", post(handlers::logout))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                extract::csrf_guard,
            ))
            .route("/config", get(handlers::config))
            .route("/healthz", get(handlers::healthz))
            .fallback(handlers::not_found)
            .method_not_allowed_fallback(handlers::method_not_allowed)
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                header::PRAGMA,
                HeaderValue::from_static("no-cache"),
            ))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                handlers::panic_response,
            ))
            // Slow-drip bodies (REFERENCE §3.15): the whole body within the deadline.
            .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(
                std::time::Duration::from_secs(self.state.inner.server.request_body_timeout_secs),
            ));
        let r = match self.cors(&[
            HeaderName::from_static(authsplit_core::wire::CSRF_HEADER),
            header::CONTENT_TYPE,
        ]) {
            Some(c) => r.layer(c),
            None => r,
        };
        r.with_state(state)
    }

    /// The example "protected API": `GET /hello` (mount it at `/api`) requires
    /// `Authorization: Bearer <access token>` and validates it at the provider's userinfo
    /// endpoint. The provider is `?provider=<id>` (or the only one with userinfo).
    pub fn demo_api_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let r = Router::new().route("/hello", get(demo::hello)).layer(
            tower_http::catch_panic::CatchPanicLayer::custom(handlers::panic_response),
        );
        let r = match self.cors(&[header::AUTHORIZATION]) {
            Some(c) => r.layer(c),
            None => r,
        };
        r.with_state(self.state.clone())
    }

    fn cors(&self, headers: &[HeaderName]) -> Option<tower_http::cors::CorsLayer> {
        let origins: Vec<HeaderValue> = self
            .state
            .inner
            .allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        if origins.is_empty() {
            return None;
        }
        // Allow-Credentials only for an allow-listed Origin: a foreign preflight gets no CORS
        // header at all (it was harmless without Allow-Origin, but said more than needed).
        let allowed = origins.clone();
        Some(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::AllowOrigin::list(origins))
                .allow_credentials(tower_http::cors::AllowCredentials::predicate(
                    move |origin, _| allowed.iter().any(|o| o == origin),
                ))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(headers.to_vec())
                .max_age(std::time::Duration::from_secs(600)),
        )
    }
}

/// Builds the service from `config` and returns its router (see [`Authsplit::router`]).
pub fn router<S: Clone + Send + Sync + 'static>(config: Config) -> Result<Router<S>, ConfigError> {
    Ok(Authsplit::new(config)?.router())
}
