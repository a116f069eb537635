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
//! `POST /transactions` (201), `POST /token`, `POST /refresh`, `POST /logout`, `GET /session`,
//! `GET /config`, `GET /healthz`. Every `POST` needs `x-authsplit: 1` and an allow-listed `Origin`; errors are
//! [`error::ApiError`] (JSON [`authsplit_core::wire::ErrorBody`], status table in [`error`]).
//!
//! Rules enforced (docs/SECURITY.md A2, A3, S1–S15; RFC 10017 §6.2): transaction bound by an
//! encrypted `__Host-` cookie and single use; state (constant time), verifier grammar and S256
//! challenge checked before any outbound call; one token request, never retried; refresh token
//! only in an encrypted HttpOnly cookie; `Cache-Control: no-store`; no secret in a body or log
//! line.
//!
//! Modules in the order of one sign-in: [`config`] (what the operator writes) → `profile`
//! (config → provider profile and rules) → `provider` (a provider at run time: discovery,
//! JWKS, request execution) → `routes` (one module per endpoint) → `exchange` (the code
//! exchange as plain async code) → [`store`] (single use, single flight) → `revoke`; below
//! them `outbound` (the HTTP client and its typed `CallError`),
//! `cookies`, `extract`, `idtoken`, [`error`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post};
use cookie::Key;

pub mod config;
mod cookies;
mod demo;
pub mod error;
mod exchange;
mod extract;
mod idtoken;
mod outbound;
mod profile;
mod provider;
mod revoke;
mod routes;
pub mod serve;
mod state;
pub mod store;

/// The shared protocol crate: its types appear in this crate's API ([`ErrorCode`],
/// [`User`], [`wire`]), so a host needs no separate dependency on it.
pub use authsplit_core as core;
pub use authsplit_core::wire::{self, User};
pub use authsplit_core::{Error, ErrorCode};
pub use config::{
    ClientAuth, Config, ConfigError, ProviderConfig, Secret, ServerConfig, StoreConfig, UnknownKey,
};
pub use error::ApiError;
pub use extract::StrictJson;
/// rustls' crypto provider type, for [`AuthsplitBuilder::crypto_provider`].
pub use rustls::crypto::CryptoProvider;
pub use serve::{ConnectionTimeouts, serve};
pub use store::{MemoryStore, Store};

pub use state::AppState;
use state::Inner;

/// rustls' `ring` crypto provider: the default of [`AuthsplitBuilder::crypto_provider`].
pub fn default_crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The clock: current time in unix seconds. Injectable for tests ([`AuthsplitBuilder::clock`]).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Opens the store `[store] url` names (memory without one: the server's clock, bounded by
/// `server.max_used_transactions`).
fn open_store(
    config: &StoreConfig,
    server: &ServerConfig,
    clock: &Clock,
    warnings: &mut Vec<String>,
) -> Result<Arc<dyn Store>, ConfigError> {
    let memory = || -> Arc<dyn Store> {
        let clock = clock.clone();
        Arc::new(MemoryStore::with_clock(
            server.max_used_transactions,
            Arc::new(move || clock().saturating_mul(1000)),
        ))
    };
    let Some(url) = &config.url else {
        warnings.push(
            "no [store] url: single-use, refresh and logout state is kept in this process only \
             (lost on restart, not shared between instances); set [store] url = \"sqlite:\" or \
             a redis:// URL (docs/DEPLOYMENT.md)"
                .to_owned(),
        );
        return Ok(memory());
    };
    if matches!(url.secret().trim(), "memory:" | "memory://") {
        return Ok(memory());
    }
    let options = authsplit_store::StoreOptions {
        data_dir: config
            .data_dir
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("data")),
        memory_max_claims: server.max_used_transactions,
        ..authsplit_store::StoreOptions::default()
    };
    authsplit_store::open(url.secret(), &options)
        .map_err(|e| crate::config::cfg_err(format!("[store] url: {e}")))
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
    store: Option<Arc<dyn Store>>,
    crypto: Option<Arc<CryptoProvider>>,
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

    /// Replaces the store (default: the one `[store] url` names; without one a [`MemoryStore`]
    /// bounded by `server.max_used_transactions`, for one instance).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The TLS crypto provider of the outbound HTTP client (default: rustls' `ring`
    /// provider). It is used for this client only: nothing process-wide is installed, so a
    /// host keeps its own `CryptoProvider::install_default` choice.
    pub fn crypto_provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.crypto = Some(provider);
        self
    }

    /// Validates the configuration and builds the service. No network I/O happens here;
    /// discovery runs on first use (or in [`Authsplit::warm_up`]).
    pub fn build(self) -> Result<Authsplit, ConfigError> {
        let Config {
            server,
            store: store_config,
            providers,
        } = self.config;
        let mut warnings = Vec::new();
        if server.transaction_ttl_secs == 0
            || server.transaction_ttl_secs > authsplit_core::wire::TRANSACTION_TTL_SECS
        {
            return Err(crate::config::cfg_err(format!(
                "server.transaction_ttl_secs must be 1..={}",
                authsplit_core::wire::TRANSACTION_TTL_SECS
            )));
        }
        if server.header_read_timeout_secs == 0
            || server.request_body_timeout_secs == 0
            || server.idle_timeout_secs == 0
        {
            return Err(crate::config::cfg_err(
                "server.header_read_timeout_secs, request_body_timeout_secs and \
                 idle_timeout_secs must be positive"
                    .to_owned(),
            ));
        }
        if server.max_body_bytes == 0 || server.max_response_bytes == 0 {
            return Err(crate::config::cfg_err(
                "body limits must be positive".to_owned(),
            ));
        }
        let configured: Vec<&Secret> = match (&server.cookie_key, &server.cookie_keys[..]) {
            (Some(_), [_, ..]) => {
                return Err(crate::config::cfg_err(
                    "server.cookie_key and server.cookie_keys are both set: use cookie_keys = \
                     [current, previous…] alone (cookie_key is the same as a one-element list)"
                        .to_owned(),
                ));
            }
            (Some(k), []) => vec![k],
            (None, list) => list.iter().collect(),
        };
        let mut keys = Vec::with_capacity(configured.len());
        for k in configured {
            let bytes = config::decode_cookie_key(k.secret())?;
            keys.push(Key::try_from(&bytes[..]).map_err(|_| {
                crate::config::cfg_err("server.cookie_key is too short".to_owned())
            })?);
        }
        let key = match keys.first() {
            Some(k) => k.clone(),
            None if server.dev_generate_cookie_key => {
                warnings.push(
                    "DEV ONLY: server.dev_generate_cookie_key is on: a random cookie key was \
                     generated; sessions end when the process stops"
                        .to_owned(),
                );
                let k = Key::try_generate().ok_or_else(|| {
                    crate::config::cfg_err("the OS random generator failed".to_owned())
                })?;
                keys.push(k.clone());
                k
            }
            None => {
                return Err(crate::config::cfg_err(
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
            let translated =
                profile::translate(&id, &p, server.redirect_uri.as_deref(), &mut warnings)
                    .map_err(|e| match e {
                        ConfigError::Invalid(message) => ConfigError::Provider {
                            provider: id.clone(),
                            message,
                        },
                        other => other,
                    })?;
            let prov = provider::Provider::new(translated, server.max_concurrent_requests);
            map.insert(id, Arc::new(prov));
        }
        if map.is_empty() {
            return Err(ConfigError::NoProviders);
        }
        let mut same_origins: Vec<String> = Vec::new();
        if server.allow_same_origin {
            let redirects = server
                .redirect_uri
                .iter()
                .chain(map.values().map(|p| &p.redirect_uri));
            for r in redirects {
                if let Ok(u) = url::Url::parse(r) {
                    let o = u.origin().ascii_serialization();
                    if o != "null" && !same_origins.contains(&o) && !allowed_origins.contains(&o) {
                        same_origins.push(o);
                    }
                }
            }
        }
        let crypto = self.crypto.unwrap_or_else(default_crypto_provider);
        let out = outbound::Outbound::new(&server, crypto)?;
        let clock: Clock = self.clock.unwrap_or_else(|| Arc::new(system_clock));
        let store = match self.store {
            Some(s) => s,
            None => open_store(&store_config, &server, &clock, &mut warnings)?,
        };
        let inner = Inner {
            cookies: cookies::CookieSettings::new(server.insecure_dev_cookies),
            ttl: server.transaction_ttl_secs,
            allowed_origins,
            same_origins,
            providers: map,
            key,
            keys,
            out,
            clock,
            store,
            revocation_retries: Arc::new(tokio::sync::Semaphore::new(256)),
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
            store: None,
            crypto: None,
        }
    }

    /// The server section in force.
    pub fn server_config(&self) -> &ServerConfig {
        &self.state.inner.server
    }

    /// Which store keeps the single-use, refresh and logout state (`memory`, `sqlite`, `redis`).
    pub fn store_backend(&self) -> &'static str {
        self.state.inner.store.backend().as_str()
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
            .route("/transactions", post(routes::transactions::create))
            .route("/token", post(routes::token::token))
            .route("/refresh", post(routes::refresh::refresh))
            .route("/logout", post(routes::logout::logout))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                extract::csrf_guard,
            ))
            .route("/session", get(routes::session::session))
            .route("/config", get(routes::config::config))
            .route("/healthz", get(routes::health::healthz))
            .fallback(routes::not_found)
            .method_not_allowed_fallback(routes::method_not_allowed)
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                header::PRAGMA,
                HeaderValue::from_static("no-cache"),
            ))
            // RFC 9700 §4.2: a page never hands its URL (a callback's code) on in `Referer`.
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                routes::panic_response,
            ))
            // Slow-drip bodies (docs/SECURITY.md S15): the whole body within the deadline.
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
            tower_http::catch_panic::CatchPanicLayer::custom(routes::panic_response),
        );
        let r = match self.cors(&[header::AUTHORIZATION]) {
            Some(c) => r.layer(c),
            None => r,
        };
        r.with_state(self.state.clone())
    }

    /// Applies authsplit's browser rules to the host's own routes (e.g. an `/api` router):
    /// every request other than `GET`, `HEAD` and `OPTIONS` must carry `x-authsplit: 1` and
    /// an allow-listed `Origin` (401 `csrf_header_missing` / `origin_rejected`, the same
    /// [`ApiError`] bodies as the auth routes; docs/SECURITY.md), and CORS answers only the
    /// configured origins, with credentials, for `GET`/`POST` and the headers `x-authsplit`,
    /// `content-type` and `authorization`.
    pub fn protect<S: Clone + Send + Sync + 'static>(&self, routes: Router<S>) -> Router<S> {
        let r = routes.layer(axum::middleware::from_fn_with_state(
            self.state.clone(),
            extract::csrf_guard_unsafe_methods,
        ));
        match self.cors(&[
            HeaderName::from_static(authsplit_core::wire::CSRF_HEADER),
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
        ]) {
            Some(c) => r.layer(c),
            None => r,
        }
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
