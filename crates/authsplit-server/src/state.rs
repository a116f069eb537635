//! The router's shared state: configuration in force, the providers, the cookie key, the
//! outbound client, the clock and the [`Store`].

use std::collections::BTreeMap;
use std::sync::Arc;

use authsplit_core::ErrorCode;
use cookie::Key;

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::provider::Provider;
use crate::store::Store;
use crate::{Clock, cookies, outbound};

pub(crate) struct Inner {
    pub server: ServerConfig,
    pub allowed_origins: Vec<String>,
    /// With `allow_same_origin`: the origins of the configured redirect URIs (the SPA's own
    /// origin when this server serves it). Checked like `allowed_origins`, but no CORS grant.
    pub same_origins: Vec<String>,
    pub providers: BTreeMap<String, Arc<Provider>>,
    /// The current cookie key: every cookie is sealed with it.
    pub key: Key,
    /// Every configured cookie key, the current one first: a cookie sealed with any opens.
    pub keys: Vec<Key>,
    pub cookies: cookies::CookieSettings,
    pub out: outbound::Outbound,
    pub clock: Clock,
    /// Transaction lifetime in seconds.
    pub ttl: u64,
    pub store: Arc<dyn Store>,
    /// Background revocation retries pending at most.
    pub revocation_retries: Arc<tokio::sync::Semaphore>,
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
    /// Now, in unix seconds, by the (injectable) clock.
    pub(crate) fn now(&self) -> u64 {
        (self.inner.clock)()
    }

    /// The single-use / single-flight state.
    pub(crate) fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    pub(crate) fn provider(&self, id: &str) -> Result<Arc<Provider>, ApiError> {
        self.inner
            .providers
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownProvider, "unknown provider"))
    }
}
