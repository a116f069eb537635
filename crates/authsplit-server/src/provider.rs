//! A configured provider at run time. Every provider — a preset, an OIDC provider by issuer, a
//! plain OAuth 2.0 provider by endpoints — is an [`authsplit_core::provider::ProviderProfile`]
//! translated once at start-up from its config table ([`crate::profile::translate`],
//! [`Provider::new`]); discovery (cached, single-flight) completes the profile of OIDC
//! providers. This module executes the profile's
//! [`HttpRequestSpec`]s (never following redirects, never retrying), and caches the JWKS and
//! WeCom's app token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use authsplit_core::authorize::PreparedAuthorize;
use authsplit_core::provider::{
    self as core_provider, ClientCredentials, HttpMethod, HttpRequestSpec, ProviderProfile,
};
use authsplit_core::secret::AccessToken;
use authsplit_core::token::TokenSet;
use authsplit_core::{Error, ErrorCode};
use tokio::sync::{Mutex, Semaphore};

use crate::error::ApiError;
use crate::outbound::{CallError, EndpointKind, Fetched, Outbound};
use crate::profile::{Kind, Rules, Translated};

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const DISCOVERY_FAILURE_BACKOFF: Duration = Duration::from_secs(5);
const JWKS_TTL: Duration = Duration::from_secs(3600);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);
/// A cached WeCom app token is renewed this long before it expires.
const APP_TOKEN_MARGIN_SECS: u64 = 120;

#[derive(Debug)]
enum Cached<T> {
    Empty,
    Ok(Arc<T>, Instant),
    Failed(Error, Instant),
}

/// A provider at run time.
#[derive(Debug)]
pub(crate) struct Provider {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub creds: ClientCredentials,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: Option<String>,
    /// The provider API behind `/proxy/<id>/`, if configured.
    pub api: Option<crate::proxy::ApiBase>,
    /// How the code exchange reads this provider's answers.
    pub rules: Rules,
    pub algs: Vec<jsonwebtoken::Algorithm>,
    pub permits: Arc<Semaphore>,
    /// Config `require_iss`, applied after discovery too.
    require_iss: Option<bool>,
    /// `client_auth` was set in the configuration: it wins over discovery's
    /// `token_endpoint_auth_methods_supported` (a disagreement is only logged).
    client_auth_explicit: bool,
    /// The resolved profile (before discovery for OIDC-by-issuer providers).
    base: Arc<ProviderProfile>,
    discovery: Mutex<Cached<ProviderProfile>>,
    jwks: Mutex<Cached<jsonwebtoken::jwk::JwkSet>>,
    /// WeCom: the app (corp) token and its expiry (unix seconds).
    app_token: Mutex<Option<(AccessToken, u64)>>,
    /// The token and refresh request URLs as first parsed (`url` string, parsed URL), so that
    /// an exchange does not parse the same URL again.
    endpoint_urls: [std::sync::OnceLock<Option<(String, reqwest::Url)>>; 2],
    /// The authorization URL template of the profile it was prepared from, for sign-ins that
    /// ask for no scope and no extra parameters of their own.
    default_authorize: std::sync::Mutex<Option<(Arc<ProviderProfile>, Arc<PreparedAuthorize>)>>,
}

impl Provider {
    /// The run-time provider for a translated config table.
    pub fn new(t: Translated, max_concurrent: usize) -> Self {
        let base = Arc::new(t.profile);
        let discovery = if base.oidc.discovery {
            Cached::Empty
        } else {
            Cached::Ok(base.clone(), Instant::now())
        };
        Self {
            id: t.id,
            name: base.display_name.clone(),
            kind: t.kind,
            creds: t.creds,
            redirect_uri: t.redirect_uri,
            post_logout_redirect_uri: t.post_logout_redirect_uri,
            api: t.api,
            rules: t.rules,
            algs: t.algs,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            require_iss: t.require_iss,
            client_auth_explicit: t.client_auth_explicit,
            base,
            discovery: Mutex::new(discovery),
            jwks: Mutex::new(Cached::Empty),
            app_token: Mutex::new(None),
            endpoint_urls: Default::default(),
            default_authorize: std::sync::Mutex::new(None),
        }
    }

    /// The authorization URL template for `profile` (the one [`Provider::profile`] returned)
    /// with the configured scopes and parameters, prepared once per profile
    /// ([`authsplit_core::authorize::AuthorizeTemplate::prepare`]).
    pub fn default_authorize(
        &self,
        profile: &Arc<ProviderProfile>,
    ) -> Result<Arc<PreparedAuthorize>, Error> {
        let lock = || {
            self.default_authorize
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some((p, prepared)) = &*lock()
            && Arc::ptr_eq(p, profile)
        {
            return Ok(prepared.clone());
        }
        let prepared = Arc::new(
            core_provider::authorize_template(
                profile,
                &self.creds.client_id,
                &self.redirect_uri,
                None,
            )?
            .prepare()?,
        );
        *lock() = Some((profile.clone(), prepared.clone()));
        Ok(prepared)
    }

    /// `url` parsed, from the per-provider slot of `kind` when it holds the same URL (token and
    /// refresh requests go to one fixed URL; other calls, or a URL that changed with
    /// re-discovery, are not kept). A URL with a query is never kept: query-style token
    /// requests carry the code or the secret there (and `Provider`'s `Debug` shows the slots).
    fn parsed_endpoint(&self, kind: EndpointKind, url: &str) -> Option<reqwest::Url> {
        let slot = match kind {
            _ if url.contains('?') => return None,
            EndpointKind::Token => &self.endpoint_urls[0],
            EndpointKind::Refresh => &self.endpoint_urls[1],
            _ => return None,
        };
        let kept = slot.get_or_init(|| {
            reqwest::Url::parse(url)
                .ok()
                .map(|parsed| (url.to_owned(), parsed))
        });
        match kept {
            Some((s, parsed)) if s == url => Some(parsed.clone()),
            _ => None,
        }
    }

    /// The preset name, if the provider runs on one.
    pub fn preset(&self) -> Option<&str> {
        match &self.kind {
            Kind::Preset(p) => Some(p),
            _ => None,
        }
    }

    /// The configured issuer, if any (before discovery).
    pub fn issuer(&self) -> Option<&str> {
        self.base.oidc.issuer.as_deref()
    }

    /// The resolved profile before discovery (for listings; use [`Provider::profile`] to run).
    pub fn base_profile(&self) -> &ProviderProfile {
        &self.base
    }

    /// The profile to run on: the resolved one, or — for OIDC by issuer — completed by verified
    /// discovery (cached for an hour, single-flight, failures retried after 5 s, a stale
    /// document kept when re-discovery fails).
    pub async fn profile(&self, out: &Outbound) -> Result<Arc<ProviderProfile>, Error> {
        if !self.base.oidc.discovery {
            return Ok(self.base.clone());
        }
        let mut slot = self.discovery.lock().await;
        match &*slot {
            Cached::Ok(e, at) if at.elapsed() < DISCOVERY_TTL => return Ok(e.clone()),
            Cached::Failed(e, at) if at.elapsed() < DISCOVERY_FAILURE_BACKOFF => {
                return Err(e.clone());
            }
            _ => {}
        }
        match self.discover(out).await {
            Ok(e) => {
                let e = Arc::new(e);
                *slot = Cached::Ok(e.clone(), Instant::now());
                Ok(e)
            }
            Err(err) => {
                if let Cached::Ok(e, _) = &*slot {
                    tracing::warn!(provider = %self.id, code = err.code().as_str(),
                        "re-discovery failed; keeping the previous document");
                    return Ok(e.clone());
                }
                *slot = Cached::Failed(err.clone(), Instant::now());
                Err(err)
            }
        }
    }

    async fn discover(&self, out: &Outbound) -> Result<ProviderProfile, Error> {
        let url = core_provider::discovery::discovery_url(&self.base)?;
        let req = out
            .client()
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json");
        // Transport errors keep their code (timeout / unreachable stay retryable).
        let f = out
            .send(&self.id, EndpointKind::Discovery, &self.permits, req)
            .await?;
        // OIDC Discovery §4.3: the issuer must be identical to the configured one.
        let found = core_provider::discovery::apply_discovery_with(
            &self.base,
            f.status,
            &f.body,
            self.client_auth_explicit,
        )
        .map_err(|e| {
            if f.status != 200 {
                e.with_response(f.info())
            } else {
                e
            }
        })?;
        for w in &found.warnings {
            tracing::warn!(provider = %self.id, "!!! {w}");
        }
        let mut p = found.profile;
        if let Some(r) = self.require_iss {
            p.oidc.iss_in_callback = r;
        }
        p.check()
            .map_err(|e| Error::new(ErrorCode::DiscoveryFailed, e.message))?;
        Ok(p)
    }

    /// The JWKS (cached; refetched when `kid` is unknown, at most every 30 s).
    pub async fn jwks(
        &self,
        out: &Outbound,
        profile: &ProviderProfile,
        want_kid: Option<&str>,
    ) -> Result<Arc<jsonwebtoken::jwk::JwkSet>, CallError> {
        let Some(uri) = &profile.endpoints.jwks else {
            return Err(CallError::NotSent(Error::new(
                ErrorCode::InvalidIdToken,
                "no jwks_uri for this provider",
            )));
        };
        let mut slot = self.jwks.lock().await;
        if let Cached::Ok(set, at) = &*slot {
            let has_kid = want_kid.is_none_or(|k| set.find(k).is_some());
            if at.elapsed() < JWKS_TTL && (has_kid || at.elapsed() < JWKS_MIN_REFETCH) {
                return Ok(set.clone());
            }
        }
        let req = out
            .client()
            .get(uri)
            .header(reqwest::header::ACCEPT, "application/json");
        let f = out
            .send(&self.id, EndpointKind::Jwks, &self.permits, req)
            .await?;
        if f.status != 200 {
            return Err(CallError::Failed(crate::outbound::unexpected(
                "JWKS request failed",
                &f,
            )));
        }
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&f.body).map_err(|_| {
            CallError::Failed(
                Error::new(
                    ErrorCode::ProviderBadResponse,
                    "JWKS is not a valid JWK set",
                )
                .with_response(f.info()),
            )
        })?;
        let set = Arc::new(set);
        *slot = Cached::Ok(set.clone(), Instant::now());
        Ok(set)
    }

    /// Executes one request spec (no redirects, size cap, deadline; never retried).
    pub async fn execute(
        &self,
        out: &Outbound,
        kind: EndpointKind,
        spec: &HttpRequestSpec,
    ) -> Result<Fetched, CallError> {
        let method = match spec.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut req = match self.parsed_endpoint(kind, &spec.url) {
            Some(url) => out.client().request(method, url),
            None => out.client().request(method, &spec.url),
        };
        for (k, v) in &spec.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(b) = &spec.body {
            req = req.body(b.to_bytes());
        }
        out.send(&self.id, kind, &self.permits, req).await
    }

    /// Values a provider might echo back in an error text: the client secret (plain and as a
    /// Basic credential) plus `extra` (code, verifier, tokens).
    pub fn secrets(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        if let Some(sec) = &self.creds.client_secret {
            v.push(sec.secret().to_owned());
        }
        if let Some(basic) = self.creds.basic_auth() {
            v.push(basic.trim_start_matches("Basic ").to_owned());
        }
        v
    }

    /// A token request (code exchange or refresh) executed once and parsed with the profile's
    /// response rules (RFC 6749 §5.1/§5.2 plus the provider's quirks, the one parser). A
    /// 429/503 keeps its `Retry-After`. An answer that cannot be read, or an error response, is
    /// [`CallError::Failed`]: the request reached the provider.
    pub async fn token_call(
        &self,
        out: &Outbound,
        profile: &ProviderProfile,
        kind: EndpointKind,
        spec: &HttpRequestSpec,
        secrets: &[String],
        now: u64,
    ) -> Result<TokenSet, CallError<ApiError>> {
        let f = self
            .execute(out, kind, spec)
            .await
            .map_err(|e| e.map(|e| ApiError::from(crate::outbound::scrub(e, secrets))))?;
        let (status, content_type) = (f.status, f.content_type.as_deref());
        core_provider::parse_token_response(profile, status, content_type, &f.body, now).map_err(
            |e| {
                CallError::Failed(
                    ApiError::from(crate::outbound::scrub(e, secrets))
                        .with_retry_after(f.retry_after),
                )
            },
        )
    }

    /// WeCom: the app (corp) token, cached until shortly before its `expires_in` ends.
    pub async fn app_token(
        &self,
        out: &Outbound,
        profile: &ProviderProfile,
        now: u64,
    ) -> Result<AccessToken, ApiError> {
        let mut slot = self.app_token.lock().await;
        if let Some((t, exp)) = &*slot
            && now < *exp
        {
            return Ok(t.clone());
        }
        let spec = core_provider::app_token_request(profile, &self.creds)?;
        let secrets = self.secrets(&[]);
        let set = self
            .token_call(out, profile, EndpointKind::Token, &spec, &secrets, now)
            .await
            .map_err(CallError::into_inner)?;
        let lifetime = set.expires_in.unwrap_or(7200);
        let exp = now + lifetime.saturating_sub(APP_TOKEN_MARGIN_SECS).max(1);
        *slot = Some((set.access_token.clone(), exp));
        Ok(set.access_token)
    }

    /// Forgets the cached app token (after WeCom refused it).
    pub async fn drop_app_token(&self) {
        *self.app_token.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderConfig;

    fn provider() -> Provider {
        let cfg = ProviderConfig::oauth2(
            "https://as.example/authorize",
            "https://as.example/token",
            "app",
            "s3cret",
            "https://app.example/callback",
        );
        let t = crate::profile::translate("p", &cfg, None, &mut Vec::new()).expect("config");
        Provider::new(t, 1)
    }

    /// The token URL is parsed once and served from the provider while it stays the same; a
    /// different URL (re-discovery) or another kind of call is left to the caller to parse.
    #[test]
    fn token_url_parsed_once_per_provider() {
        let p = provider();
        let a = p.parsed_endpoint(EndpointKind::Token, "https://as.example/token");
        assert_eq!(
            a.as_ref().map(reqwest::Url::as_str),
            Some("https://as.example/token")
        );
        assert_eq!(
            p.parsed_endpoint(EndpointKind::Token, "https://as.example/token"),
            a
        );
        assert_eq!(
            p.parsed_endpoint(EndpointKind::Token, "https://as.example/t2"),
            None
        );
        assert_eq!(
            p.parsed_endpoint(EndpointKind::Userinfo, "https://as.example/u"),
            None
        );
        let r = p.parsed_endpoint(EndpointKind::Refresh, "https://as.example/refresh");
        assert_eq!(
            r.as_ref().map(reqwest::Url::as_str),
            Some("https://as.example/refresh")
        );
        // A query (WeChat-style GET token requests: code and secret in it) is never kept.
        let g = provider();
        assert_eq!(
            g.parsed_endpoint(
                EndpointKind::Token,
                "https://as.example/token?secret=S&code=C"
            ),
            None
        );
        assert_eq!(
            g.parsed_endpoint(EndpointKind::Token, "https://as.example/token")
                .as_ref()
                .map(reqwest::Url::as_str),
            Some("https://as.example/token")
        );
        assert!(!format!("{g:?}").contains("secret=S"));
        // Not a URL: nothing kept, the caller's own parse reports it.
        let q = provider();
        assert_eq!(q.parsed_endpoint(EndpointKind::Token, "not a url"), None);
        assert_eq!(
            q.parsed_endpoint(EndpointKind::Token, "https://as.example/token"),
            None
        );
    }

    /// The default authorization template is prepared once per profile and equals the one
    /// built from the profile directly; a new profile (re-discovery) gets its own.
    #[test]
    fn default_authorize_prepared_once_per_profile() {
        let p = provider();
        let profile = p.base.clone();
        let a = p.default_authorize(&profile).expect("prepares");
        let b = p.default_authorize(&profile).expect("prepares");
        assert!(Arc::ptr_eq(&a, &b));
        let direct = core_provider::authorize_template(&profile, "app", &p.redirect_uri, None)
            .expect("template")
            .prepare()
            .expect("prepares");
        assert_eq!(*a, direct);
        let changed = Arc::new((*profile).clone());
        let c = p.default_authorize(&changed).expect("prepares");
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(
            &c,
            &p.default_authorize(&changed).expect("prepares")
        ));
    }

    /// The secrets scrubbed from provider texts include the Basic credential of the token
    /// requests (RFC 6749 §2.3.1).
    #[test]
    fn secrets_include_the_basic_credential() {
        let p = provider();
        let s = p.secrets(&["code"]);
        let basic = core_provider::basic_auth_value("app", "s3cret");
        assert_eq!(
            s,
            vec![
                "code".to_owned(),
                "s3cret".to_owned(),
                basic.trim_start_matches("Basic ").to_owned()
            ]
        );
    }
}
