//! Configuration: a [`Config`] deserialised from TOML plus `AUTHSPLIT__…` environment overrides
//! (figment), or built in code with [`Config::builder`] / [`ProviderConfig::oidc`] /
//! [`ProviderConfig::oauth2`].
//!
//! Environment overrides use `__` as the path separator and are lower-cased, so
//! `AUTHSPLIT__PROVIDERS__LOCAL__CLIENT_SECRET=…` sets `providers.local.client_secret` and
//! `AUTHSPLIT__SERVER__COOKIE_KEY=…` sets `server.cookie_key`. Keep secrets in the environment,
//! not in the file.
//!
//! [`Authsplit::new`](crate::Authsplit::new) (or its builder) checks a `Config` and turns it
//! into the form the router runs on, each provider table through the translation in
//! `profile.rs`; every problem is a [`ConfigError`] with a clear message (never containing a
//! secret).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use authsplit_core::authorize::AuthorizeQuirks;
/// How the client authenticates (RFC 6749 §2.3.1): the profile's type, read from the config
/// as `client_secret_basic` or `client_secret_post` (the RFC 7591 §2 names).
pub use authsplit_core::provider::ClientAuth;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

/// A configuration problem, by kind. `Display` gives the message (never a secret);
/// match on the variant to react to a kind. New kinds may be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// [`Config::load`] got no file and no `AUTHSPLIT__…` environment variable.
    NoConfiguration,
    /// The configuration file does not exist.
    FileNotFound {
        /// The path given.
        file: PathBuf,
    },
    /// The configuration file is not valid TOML.
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message (it never quotes the file's text).
        message: String,
    },
    /// Keys that no section has, all of them in one error.
    UnknownKeys(Vec<UnknownKey>),
    /// No provider is configured.
    NoProviders,
    /// A provider's settings are invalid.
    Provider {
        /// The provider id (`providers.<id>`).
        provider: String,
        /// What is wrong.
        message: String,
    },
    /// Any other invalid value (the message names the key).
    Invalid(String),
}

/// One unknown key, with the nearest valid name when one is close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Dotted path of the key (`providers.local.client_secrt`).
    pub key: String,
    /// The nearest valid name in the same section, when one is close.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown key `{}`", self.key)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("configuration error: ")?;
        match self {
            Self::NoConfiguration => f.write_str(
                "no configuration file given (pass --config FILE or set AUTHSPLIT_CONFIG) and \
                 no AUTHSPLIT__* environment variable set",
            ),
            Self::FileNotFound { file } => write!(f, "config file {} not found", file.display()),
            Self::Syntax {
                file,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}:{column}: TOML syntax error: {message}",
                file.display()
            ),
            Self::UnknownKeys(keys) => {
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{k}")?;
                }
                Ok(())
            }
            Self::NoProviders => f.write_str(
                "no providers configured (add a [providers.<id>] section; see \
                 authsplit.example.toml)",
            ),
            Self::Provider { message, .. } | Self::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn cfg_err(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

authsplit_core::new_secret_type!(
    /// A secret configuration value (client secret, cookie key). `Debug` prints
    /// `Secret([redacted])`; read it with [`Secret::secret`]. Deserialises from a string (or a
    /// number/bool coming from an environment variable, kept verbatim as text).
    Secret
);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole configuration: `[server]`, `[store]` and `[providers.<id>]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// `[server]`.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[store]`: where single-use, single-flight and logout state is kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[providers.<id>]`; the id is what the SPA sends as `provider`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
}

/// `[store]`: where the state that makes single use, single flight and logout hold is kept
/// (docs/DEPLOYMENT.md).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `memory:` (one process; lost on restart), `sqlite:` (a file under `data_dir`, survives
    /// restarts), `sqlite:<path>`, or `redis://[user:password@]host[:port][/db][?prefix=…]` for
    /// several instances. Unset: the binary uses `sqlite:` (the embedded store); a router built
    /// in code uses `memory:`, with a warning at start-up.
    pub url: Option<Secret>,
    /// Where `sqlite:` keeps its file (`authsplit.sqlite3`). Unset: the binary uses the
    /// directory of its configuration file (the working directory without one); a router built
    /// in code uses `data`. A relative path is relative to the working directory.
    pub data_dir: Option<PathBuf>,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Listen address of the binary (`127.0.0.1:8080`; port 0 picks a free port).
    pub listen: String,
    /// Origins allowed to call the POST endpoints (and CORS), exact `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Also accept an `Origin` equal to the origin of a configured redirect URI (`[server]
    /// redirect_uri` or a provider's): the SPA served from the same origin as its callback.
    /// Never derived from a request header. Default true.
    pub allow_same_origin: bool,
    /// Cookie encryption key: ≥64 random bytes, base64 (standard or URL-safe) or hex. The same
    /// as `cookie_keys = [cookie_key]`; setting both is a configuration error.
    pub cookie_key: Option<Secret>,
    /// Cookie keys for rotation, current first: new cookies are sealed with the first, cookies
    /// sealed with any of them still open (a session cookie is re-sealed with the current key
    /// on its next `/refresh`). Each like `cookie_key`.
    pub cookie_keys: Vec<Secret>,
    /// DEV ONLY: generate a random cookie key at start-up when none is configured (sessions
    /// do not survive a restart). Logged as a warning.
    pub dev_generate_cookie_key: bool,
    /// DEV ONLY: drop `Secure` and the `__Host-` prefix so cookies work over plain-http
    /// loopback. Logged as a warning.
    pub insecure_dev_cookies: bool,
    /// Serve this directory at `/` (SPA; unknown paths fall back to `index.html`).
    pub static_dir: Option<PathBuf>,
    /// Mount the example "protected API" `GET /api/hello` (validates the bearer token at the
    /// provider's userinfo endpoint).
    pub demo_api: bool,
    /// Outbound connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Outbound total timeout per request (including the body), milliseconds. Keep it below
    /// the browser's fetch deadline.
    pub request_timeout_ms: u64,
    /// Largest response body read from a provider, bytes.
    pub max_response_bytes: usize,
    /// Most concurrent outbound requests per provider.
    pub max_concurrent_requests: usize,
    /// Largest accepted request body, bytes (larger → 413).
    pub max_body_bytes: usize,
    /// Transaction lifetime, seconds (at most 600).
    pub transaction_ttl_secs: u64,
    /// Session cookie lifetime, seconds (≈ the refresh-token lifetime).
    pub session_ttl_secs: u64,
    /// How many used-transaction ids are remembered (bounded replay protection). Ids are kept
    /// until their transaction expires, never evicted early: when full of live ids, `/token`
    /// answers 503 `provider_unavailable` without sending anything.
    pub max_used_transactions: usize,
    /// Binary only: a request's complete header block must arrive within this many seconds of
    /// the server starting to wait for it (a new connection, or the previous response on a
    /// keep-alive connection); otherwise the connection is closed (slowloris). Default 10.
    pub header_read_timeout_secs: u64,
    /// The whole request body must arrive within this many seconds of the request reaching
    /// the router (else 400 `invalid_request` and the connection is closed). Default 30.
    pub request_body_timeout_secs: u64,
    /// Binary only: a connection on which no byte was read or written for this many seconds is
    /// closed (a client that stops reading a response, a stuck peer). Default 60.
    pub idle_timeout_secs: u64,
    /// Binary only: most incoming connections served at once; past it new connections wait
    /// (in the listen backlog) until one ends. Default 1024.
    pub max_connections: usize,
    /// Default redirect URI for providers that set no `redirect_uri` of their own (absolute,
    /// byte for byte as registered at each provider), so a preset needs only id and secret.
    pub redirect_uri: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            allowed_origins: Vec::new(),
            allow_same_origin: true,
            cookie_key: None,
            cookie_keys: Vec::new(),
            dev_generate_cookie_key: false,
            insecure_dev_cookies: false,
            static_dir: None,
            demo_api: false,
            connect_timeout_ms: 3_000,
            request_timeout_ms: 10_000,
            max_response_bytes: 256 * 1024,
            max_concurrent_requests: 64,
            max_body_bytes: 8 * 1024,
            transaction_ttl_secs: authsplit_core::wire::TRANSACTION_TTL_SECS,
            session_ttl_secs: 14 * 24 * 3600,
            max_used_transactions: 1_000_000,
            header_read_timeout_secs: 10,
            request_body_timeout_secs: 30,
            idle_timeout_secs: 60,
            max_connections: 1024,
            redirect_uri: None,
        }
    }
}

/// Opt-in tolerances of a provider's token response parser, added to its profile's rules
/// (see `authsplit_core::token::ResponseRules`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TokenQuirks {
    /// Accept form-encoded token responses.
    pub allow_form_encoded: bool,
    /// Accept JSON served as text.
    pub allow_json_as_text: bool,
    /// An `error` member in a 200 body is an error.
    pub error_in_200: bool,
    /// A non-zero `errcode` in a 200 body is an error.
    pub errcode_in_200: bool,
    /// Accept a string `expires_in`.
    pub expires_in_as_string: bool,
    /// Accept a missing `token_type` as `bearer`.
    pub allow_missing_token_type: bool,
}

/// `client_auth`: `client_secret_basic` or `client_secret_post` (RFC 7591 §2), nothing else.
fn client_auth_method<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientAuth>, D::Error> {
    match String::deserialize(d)?.as_str() {
        "client_secret_basic" => Ok(Some(ClientAuth::Basic)),
        "client_secret_post" => Ok(Some(ClientAuth::Post)),
        other => Err(serde::de::Error::custom(format!(
            "unknown client_auth `{other}`, expected client_secret_basic or client_secret_post"
        ))),
    }
}

/// `[providers.<id>]`: a **preset** (`preset = "github"`, or an id that is itself a preset
/// name), an OIDC provider by `issuer` (discovery), or a plain OAuth 2.0 provider by explicit
/// endpoints. Every kind becomes an [`authsplit_core::provider::ProviderProfile`] at start-up;
/// the keys below adjust it, `overrides` can change any profile field.
///
/// Which profile is used:
/// 1. `client_secrets_file` → the Google preset with the file's id, secret and redirect URI;
/// 2. `preset = "<name>"` → that preset ([`authsplit_core::provider::PRESET_NAMES`]);
/// 3. no `preset`, no `issuer`, no explicit endpoint, and the id is a preset name
///    (`[providers.github]`) → that preset;
/// 4. `issuer` → any OIDC provider (discovery, exact issuer match);
/// 5. `authorization_endpoint` + `token_endpoint` → any OAuth 2.0 provider.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// A preset name (`github`, `google`, `microsoft`, `wechat_mp`, … — see
    /// [`authsplit_core::provider::PRESET_NAMES`]). Unknown names fail at start-up.
    #[serde(default)]
    pub preset: Option<String>,
    /// Display name for the SPA (default: the preset's name, else the id).
    #[serde(default)]
    pub name: Option<String>,
    /// OIDC issuer; discovery at `<issuer>/.well-known/openid-configuration`, and the
    /// discovered `issuer` must equal this string exactly. With a preset: replaces the preset's
    /// issuer.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Whether to use discovery when `issuer` is set without a preset (default true).
    #[serde(default = "yes")]
    pub discovery: bool,
    /// Authorization endpoint (replaces the preset's / discovered one).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Userinfo endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// OIDC RP-initiated logout endpoint.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// JWKS URI for ID token signatures.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Client id (WeChat AppID, WeCom CorpID, DingTalk AppKey). Required, except with
    /// `client_secrets_file`.
    #[serde(default)]
    pub client_id: String,
    /// Client secret (put it in the environment). Required wherever the provider's token
    /// call authenticates with one (every preset and generic provider).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// `client_secret_basic` or `client_secret_post` (default: the preset's method;
    /// `client_secret_basic` for generic providers).
    #[serde(default, deserialize_with = "client_auth_method")]
    pub client_auth: Option<ClientAuth>,
    /// Registered redirect URI, absolute, byte for byte (default: `[server] redirect_uri`).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Where the provider sends the browser after logout (end-session), if any.
    #[serde(default)]
    pub post_logout_redirect_uri: Option<String>,
    /// Scopes (default: the preset's; `["openid"]` with an issuer; none with endpoints).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Scope separator (default: the preset's, `" "` for generic providers).
    #[serde(default)]
    pub scope_separator: Option<String>,
    /// `prompt` (e.g. `consent` to get a refresh token from some servers).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Extra authorization parameters (added to the preset's; same name replaces).
    #[serde(default)]
    pub extra_params: BTreeMap<String, String>,
    /// Authorization URL quirks (replace the preset's when any is set).
    #[serde(default)]
    pub authorize_quirks: AuthorizeQuirks,
    /// Token response tolerances (generic providers; presets already know theirs).
    #[serde(default)]
    pub token_response: TokenQuirks,
    /// Accepted ID token signature algorithms (asymmetric only; never `none`).
    #[serde(default = "default_algs")]
    pub id_token_algs: Vec<String>,
    /// Require an ID token in the token response (default: when `openid` is in the scopes).
    #[serde(default)]
    pub require_id_token: Option<bool>,
    /// Call userinfo after the exchange when the profile has a userinfo call (default true).
    #[serde(default = "yes")]
    pub userinfo: bool,
    /// The member holding the stable subject (default: the preset's; `sub`, then `id` for
    /// generic providers). Never an email.
    #[serde(default)]
    pub subject_field: Option<String>,
    /// Name of the code parameter in the callback (default: the preset's, `code`).
    #[serde(default)]
    pub code_param: Option<String>,
    /// Override RFC 9207 `iss` expectation (default: the preset's, or the discovery
    /// document's `authorization_response_iss_parameter_supported`).
    #[serde(default)]
    pub require_iss: Option<bool>,
    /// Values for the preset's `{placeholders}`: `tenant` (Microsoft: `common` default,
    /// `organizations`, `consumers`, a tenant id), `base_url` (GitLab self-hosted, default
    /// `https://gitlab.com`), `agentid` (WeCom, required).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Microsoft: tenant ids (`tid`) allowed to sign in; empty = any tenant the `tenant`
    /// setting admits. Same as `overrides.oidc.allowed_tenants`.
    #[serde(default)]
    pub allowed_tenants: Vec<String>,
    /// Any profile field, deep-merged into the profile after the keys above
    /// ([`authsplit_core::provider::ProviderProfile::with_overrides`]); unknown fields fail at
    /// start-up. Example: `overrides = { authorize = { prompt = "consent" } }`.
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
    /// A Google `client_secrets.json` (`{"web": …}` / `{"installed": …}`): selects the Google
    /// preset and supplies client id, secret and redirect URI (keys set here win; a
    /// `redirect_uri` set here must be one of the file's `redirect_uris`).
    #[serde(default)]
    pub client_secrets_file: Option<PathBuf>,
    /// DEV/TEST ONLY: rebase every endpoint (and the issuer) of the profile onto this loopback
    /// origin, `https://host/path` → `http://127.0.0.1:PORT/host/path`
    /// ([`authsplit_core::provider::ProviderProfile::with_origin`]) so a local server can play
    /// the provider. Only `http(s)://127.0.0.1|localhost|[::1][:port]`; logged as a warning.
    #[serde(default)]
    pub dev_origin: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_algs() -> Vec<String> {
    [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

impl ProviderConfig {
    fn base(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            preset: None,
            name: None,
            issuer: None,
            discovery: true,
            authorization_endpoint: None,
            token_endpoint: None,
            userinfo_endpoint: None,
            revocation_endpoint: None,
            end_session_endpoint: None,
            jwks_uri: None,
            client_id: client_id.to_owned(),
            client_secret: Some(Secret::new(client_secret)),
            client_auth: None,
            redirect_uri: (!redirect_uri.is_empty()).then(|| redirect_uri.to_owned()),
            post_logout_redirect_uri: None,
            scopes: None,
            scope_separator: None,
            prompt: None,
            extra_params: BTreeMap::new(),
            authorize_quirks: AuthorizeQuirks::default(),
            token_response: TokenQuirks::default(),
            id_token_algs: default_algs(),
            require_id_token: None,
            userinfo: true,
            subject_field: None,
            code_param: None,
            require_iss: None,
            vars: BTreeMap::new(),
            allowed_tenants: Vec::new(),
            overrides: None,
            client_secrets_file: None,
            dev_origin: None,
        }
    }

    /// A preset ([`authsplit_core::provider::PRESET_NAMES`]) with its client registration.
    /// An empty `redirect_uri` means `[server] redirect_uri`.
    pub fn preset(preset: &str, client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        let mut p = Self::base(client_id, client_secret, redirect_uri);
        p.preset = Some(preset.to_owned());
        p
    }

    /// Sets a `{placeholder}` value (`tenant`, `base_url`, `agentid`).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets the profile overrides (a JSON object deep-merged into the profile).
    pub fn overrides(mut self, overrides: serde_json::Value) -> Self {
        self.overrides = Some(overrides);
        self
    }

    /// DEV/TEST ONLY: rebases every endpoint onto a loopback origin.
    pub fn dev_origin(mut self, origin: &str) -> Self {
        self.dev_origin = Some(origin.to_owned());
        self
    }

    /// An OpenID Connect provider configured by issuer (discovery).
    pub fn oidc(issuer: &str, client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        let mut p = Self::base(client_id, client_secret, redirect_uri);
        p.issuer = Some(issuer.to_owned());
        p
    }

    /// A plain OAuth 2.0 provider with explicit endpoints (no discovery, no ID token).
    pub fn oauth2(
        authorization_endpoint: &str,
        token_endpoint: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Self {
        let mut p = Self::base(client_id, client_secret, redirect_uri);
        p.authorization_endpoint = Some(authorization_endpoint.to_owned());
        p.token_endpoint = Some(token_endpoint.to_owned());
        p
    }

    /// Sets the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
    /// Sets the client authentication method.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
        self
    }
    /// Sets the scopes.
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
        self
    }
    /// Sets `prompt`.
    pub fn prompt(mut self, prompt: &str) -> Self {
        self.prompt = Some(prompt.to_owned());
        self
    }
    /// Sets the userinfo endpoint.
    pub fn userinfo_endpoint(mut self, url: &str) -> Self {
        self.userinfo_endpoint = Some(url.to_owned());
        self
    }
    /// Sets the revocation endpoint.
    pub fn revocation_endpoint(mut self, url: &str) -> Self {
        self.revocation_endpoint = Some(url.to_owned());
        self
    }
    /// Sets the end-session endpoint.
    pub fn end_session_endpoint(mut self, url: &str) -> Self {
        self.end_session_endpoint = Some(url.to_owned());
        self
    }
    /// Sets the JWKS URI.
    pub fn jwks_uri(mut self, url: &str) -> Self {
        self.jwks_uri = Some(url.to_owned());
        self
    }
    /// Adds an extra authorization parameter.
    pub fn extra_param(mut self, key: &str, value: &str) -> Self {
        self.extra_params.insert(key.to_owned(), value.to_owned());
        self
    }
}

/// Builds a [`Config`] in code.
#[derive(Debug, Default)]
pub struct ConfigBuilder {
    config: Config,
}

impl Config {
    /// A builder starting from defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Loads from an optional TOML file, then `AUTHSPLIT__…` environment overrides. Every
    /// unknown key is reported at once ([`ConfigError::UnknownKeys`]); a TOML syntax error
    /// names the file ([`ConfigError::Syntax`]).
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        use figment::providers::{Env, Format, Toml};
        const PREFIX: &str = "AUTHSPLIT__";
        let mut fig = figment::Figment::new();
        match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(ConfigError::FileNotFound {
                        file: p.to_path_buf(),
                    });
                }
                let text = std::fs::read_to_string(p)
                    .map_err(|e| cfg_err(format!("could not read {}: {e}", p.display())))?;
                check_toml_syntax(p, &text)?;
                fig = fig.merge(Toml::string(&text));
            }
            None if !std::env::vars_os()
                .any(|(k, _)| k.to_str().is_some_and(|k| k.starts_with(PREFIX))) =>
            {
                return Err(ConfigError::NoConfiguration);
            }
            None => {}
        }
        extract(fig.merge(Env::prefixed(PREFIX).split("__")))
    }

    /// Parses a TOML string (no environment), for tests and embedding.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        use figment::providers::{Format, Toml};
        extract(figment::Figment::new().merge(Toml::string(text)))
    }
}

/// A syntax error as [`ConfigError::Syntax`], from the parser's message and position only
/// (its rendered form quotes the offending line, which may hold a secret).
fn check_toml_syntax(file: &Path, text: &str) -> Result<(), ConfigError> {
    let Err(e) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Err(ConfigError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        message: e.message().to_owned(),
    })
}

/// At most this many unknown keys are collected before the rest of the error is reported.
const MAX_UNKNOWN_KEYS: usize = 64;

/// Extracts a [`Config`]. serde stops at the first unknown field, so each one found is
/// recorded and removed from the merged value, and extraction repeats (bounded) until no
/// unknown field is left; then any other error is reported as before.
fn extract(fig: figment::Figment) -> Result<Config, ConfigError> {
    use figment::value::Value;
    let first = match fig.extract::<Config>() {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    if !first
        .clone()
        .into_iter()
        .any(|e| matches!(e.kind, figment::error::Kind::UnknownField(..)))
    {
        return Err(cfg_err(figment_message(&first)));
    }
    let Ok(mut value) = fig.extract::<Value>() else {
        return Err(cfg_err(figment_message(&first)));
    };
    let mut unknown = Vec::new();
    let mut err = first;
    while unknown.len() < MAX_UNKNOWN_KEYS {
        let Some((path, field, expected)) = err.clone().into_iter().find_map(|e| match e.kind {
            figment::error::Kind::UnknownField(f, exp) => Some((e.path, f, exp)),
            _ => None,
        }) else {
            break;
        };
        let mut path = path;
        if path.last() == Some(&field) {
            path.pop();
        }
        let mut key = path.clone();
        key.push(field.clone());
        unknown.push(UnknownKey {
            key: key.join("."),
            suggestion: nearest(&field, expected).map(str::to_owned),
        });
        if !remove_key(&mut value, &path, &field) {
            break;
        }
        match figment::Figment::from(figment::providers::Serialized::defaults(&value))
            .extract::<Config>()
        {
            Ok(_) => break,
            Err(e) => err = e,
        }
    }
    Err(ConfigError::UnknownKeys(unknown))
}

fn remove_key(value: &mut figment::value::Value, path: &[String], field: &str) -> bool {
    let mut cur = value;
    for p in path {
        match cur {
            figment::value::Value::Dict(_, d) => match d.get_mut(p) {
                Some(v) => cur = v,
                None => return false,
            },
            _ => return false,
        }
    }
    match cur {
        figment::value::Value::Dict(_, d) => d.remove(field).is_some(),
        _ => false,
    }
}

/// The valid name closest to `field` by edit distance, when it is close enough to be a typo.
fn nearest(field: &str, expected: &'static [&'static str]) -> Option<&'static str> {
    expected
        .iter()
        .map(|e| (strsim::damerau_levenshtein(field, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

/// figment errors can quote offending values; keep only the kind and the path.
fn figment_message(e: &figment::Error) -> String {
    let mut out = Vec::new();
    for err in e.clone() {
        let path = err.path.join(".");
        let kind = match &err.kind {
            figment::error::Kind::UnknownField(f, _) => format!("unknown field `{f}`"),
            figment::error::Kind::MissingField(f) => format!("missing field `{f}`"),
            figment::error::Kind::InvalidType(_, exp) => format!("invalid type, expected {exp}"),
            figment::error::Kind::InvalidValue(_, exp) => format!("invalid value, expected {exp}"),
            figment::error::Kind::UnknownVariant(v, exp) => {
                format!("unknown variant `{v}`, expected one of {exp:?}")
            }
            figment::error::Kind::Message(m)
                if !path.contains("secret") && !path.contains("key") =>
            {
                m.clone()
            }
            _ => "invalid value".to_owned(),
        };
        out.push(if path.is_empty() {
            kind
        } else {
            format!("{path}: {kind}")
        });
    }
    out.join("; ")
}

impl ConfigBuilder {
    /// Sets the cookie key bytes (≥64).
    pub fn cookie_key_bytes(mut self, key: &[u8]) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        self.config.server.cookie_key = Some(Secret::new(b64));
        self
    }
    /// Allows an origin.
    pub fn allowed_origin(mut self, origin: &str) -> Self {
        self.config.server.allowed_origins.push(origin.to_owned());
        self
    }
    /// DEV ONLY: plain-http cookies (no `Secure`, no `__Host-`).
    pub fn insecure_dev_cookies(mut self, on: bool) -> Self {
        self.config.server.insecure_dev_cookies = on;
        self
    }
    /// Transaction lifetime in seconds (≤600).
    pub fn transaction_ttl_secs(mut self, secs: u64) -> Self {
        self.config.server.transaction_ttl_secs = secs;
        self
    }
    /// Adds a provider.
    pub fn provider(mut self, id: &str, provider: ProviderConfig) -> Self {
        self.config.providers.insert(id.to_owned(), provider);
        self
    }
    /// Sets `[store] url`.
    pub fn store_url(mut self, url: &str) -> Self {
        self.config.store.url = Some(Secret::new(url.to_owned()));
        self
    }
    /// Edits the server section directly.
    pub fn server(mut self, f: impl FnOnce(&mut ServerConfig)) -> Self {
        f(&mut self.config.server);
        self
    }
    /// The config.
    pub fn build(self) -> Config {
        self.config
    }
}

/// Decodes a cookie key: base64 (standard/URL-safe, padded or not) or hex; ≥64 bytes.
pub fn decode_cookie_key(text: &str) -> Result<Vec<u8>, ConfigError> {
    let t = text.trim();
    let bytes = if t.len() >= 128 && t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        decode_hex(t)
    } else {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        STANDARD
            .decode(t)
            .or_else(|_| STANDARD_NO_PAD.decode(t))
            .or_else(|_| URL_SAFE.decode(t))
            .or_else(|_| URL_SAFE_NO_PAD.decode(t))
            .ok()
    };
    let bytes = bytes.ok_or_else(|| cfg_err("server.cookie_key is neither base64 nor hex"))?;
    if bytes.len() < 64 {
        return Err(cfg_err(format!(
            "server.cookie_key must decode to at least 64 bytes (got {}); generate one with \
             `head -c 64 /dev/urandom | base64 -w0`",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn decode_hex(t: &str) -> Option<Vec<u8>> {
    let b = t.as_bytes();
    let val = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(val(p[0])? << 4 | val(*p.get(1)?)?))
        .collect()
}

/// Checks an endpoint URL: absolute `https:`, or `http:` on a loopback host; no fragment.
pub(crate) fn check_endpoint(what: &str, value: &str) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(value)
        .map_err(|_| cfg_err(format!("{what} is not an absolute URL: {value}")))?;
    if u.fragment().is_some() {
        return Err(cfg_err(format!("{what} must not have a fragment")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(cfg_err(format!("{what} must not contain credentials")));
    }
    match u.scheme() {
        "https" => Ok(u),
        "http" if is_loopback(&u) => Ok(u),
        "http" => Err(cfg_err(format!(
            "{what} must use https (plain http only on loopback): {value}"
        ))),
        _ => Err(cfg_err(format!("{what} must be an http(s) URL: {value}"))),
    }
}

pub(crate) fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses the listen address.
///
/// `ip:port` or `host:port` (`localhost:8080`); a host name resolves to its first address.
pub fn parse_listen(value: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs as _;
    if let Ok(a) = value.parse() {
        return Ok(a);
    }
    value
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            cfg_err(format!(
                "server.listen is not an ip:port or host:port address: {value}"
            ))
        })
}

/// A normalised origin string (`scheme://host[:port]`, default ports dropped).
pub(crate) fn normalise_origin(value: &str) -> Result<String, ConfigError> {
    let u = url::Url::parse(value)
        .map_err(|_| cfg_err(format!("allowed origin is not a URL: {value}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(cfg_err(format!(
            "allowed origin must be http(s)://host[:port]: {value}"
        )));
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err(cfg_err(format!(
            "allowed origin must have no path: {value}"
        )));
    }
    Ok(u.origin().ascii_serialization())
}

/// Provider ids: 1–64 chars of `[a-z0-9_-]` (they appear in user ids and env variable names).
pub(crate) fn check_provider_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(cfg_err(format!(
            "provider id `{id}` must be 1-64 chars of [a-z0-9_-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_keys() {
        let hex = "ab".repeat(64);
        assert_eq!(decode_cookie_key(&hex).map(|k| k.len()), Ok(64));
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        assert_eq!(decode_cookie_key(&b64).map(|k| k.len()), Ok(64));
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(decode_cookie_key(&short).is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("a+b:c%d/e f");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
    }
}
