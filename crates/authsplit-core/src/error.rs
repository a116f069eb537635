//! The one error type of authsplit.
//!
//! Every error carries a stable machine-readable [`ErrorCode`] (the string the browser sees in
//! `AuthsplitError.code` and the backend puts in `{"error": …}`), an [`ErrorClass`] (retry?
//! new sign-in? fix the configuration?), and — when the provider said something — the RFC 6749
//! error code and description. No secret ever appears in `Display` or `Debug`: descriptions
//! are built from constants and provider-supplied text only, and response snippets go through
//! the token parser's redaction (`token::redact_snippet`, `std`).
//!
//! Part of the base (`no_std` + `alloc`): the browser half hands these codes to JS.

use alloc::borrow::Cow;
use alloc::borrow::ToOwned as _;
use alloc::boxed::Box;
use alloc::string::String;

/// What the caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "std",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Transient: the same request may succeed later (timeouts, 429/503, network).
    Retryable,
    /// The sign-in cannot continue: start a new authorization request.
    Reauthenticate,
    /// A configuration problem an operator must fix (bad client secret, redirect URI, …).
    Configuration,
    /// The request itself was bad (client bug or attack); do not retry as is.
    BadRequest,
}

/// RFC 6749 error codes (§4.1.2.1 authorization errors and §5.2 token errors), plus RFC 6750 /
/// OIDC codes that appear in practice, with an `Other` arm for anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client` (§5.2)
    InvalidClient,
    /// `invalid_grant` (§5.2)
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type` (§5.2)
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied` (§4.1.2.1)
    AccessDenied,
    /// `unsupported_response_type` (§4.1.2.1)
    UnsupportedResponseType,
    /// `server_error` (§4.1.2.1)
    ServerError,
    /// `temporarily_unavailable` (§4.1.2.1)
    TemporarilyUnavailable,
    /// OIDC `login_required`, `consent_required`, `interaction_required`, …
    InteractionRequired(String),
    /// Any other code, verbatim (GitHub's `bad_verification_code`, WeChat `40029`, …).
    Other(String),
}

/// The RFC 6749 codes with a variant of their own, with their wire names: one table for
/// [`OAuthErrorCode::parse`] and [`OAuthErrorCode::as_str`].
static OAUTH_CODES: [(&str, OAuthErrorCode); 10] = [
    ("invalid_request", OAuthErrorCode::InvalidRequest),
    ("invalid_client", OAuthErrorCode::InvalidClient),
    ("invalid_grant", OAuthErrorCode::InvalidGrant),
    ("unauthorized_client", OAuthErrorCode::UnauthorizedClient),
    (
        "unsupported_grant_type",
        OAuthErrorCode::UnsupportedGrantType,
    ),
    ("invalid_scope", OAuthErrorCode::InvalidScope),
    ("access_denied", OAuthErrorCode::AccessDenied),
    (
        "unsupported_response_type",
        OAuthErrorCode::UnsupportedResponseType,
    ),
    ("server_error", OAuthErrorCode::ServerError),
    (
        "temporarily_unavailable",
        OAuthErrorCode::TemporarilyUnavailable,
    ),
];

/// The OIDC codes that mean "the user must interact" ([`OAuthErrorCode::InteractionRequired`]).
const INTERACTION_CODES: [&str; 4] = [
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
];

impl OAuthErrorCode {
    /// Parses a wire value.
    pub fn parse(value: &str) -> Self {
        if let Some((_, code)) = OAUTH_CODES.iter().find(|(name, _)| *name == value) {
            return code.clone();
        }
        if INTERACTION_CODES.contains(&value) {
            Self::InteractionRequired(value.to_owned())
        } else {
            Self::Other(value.to_owned())
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InteractionRequired(s) | Self::Other(s) => s,
            known => OAUTH_CODES
                .iter()
                .find(|(_, code)| core::mem::discriminant(code) == core::mem::discriminant(known))
                .map_or("", |(name, _)| name),
        }
    }
}

/// Stable machine-readable error codes: the `code` of `AuthsplitError` in JS and the `error`
/// member of the backend's JSON error bodies. Never renamed once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    // --- callback (browser) ---
    /// `state` in the callback differs from the stored one (RFC 6749 §10.12).
    StateMismatch,
    /// `state` missing from the callback.
    StateMissing,
    /// `iss` differs from the expected issuer (RFC 9207 §2.4).
    IssMismatch,
    /// `iss` missing though the server advertises it (RFC 9207 §2.4).
    IssMissing,
    /// The user refused (error=access_denied, or WeChat's state-only callback).
    AccessDenied,
    /// The provider returned another RFC 6749 §4.1.2.1 error in the callback.
    AuthorizationError,
    /// A parameter appears twice (RFC 6749 §3.1).
    DuplicateParameter,
    /// `access_token`, `id_token` or `token` in the callback URL (RFC 9700 §2.1.2).
    TokenInCallback,
    /// Neither `code` nor `error` in the callback.
    CodeMissing,
    /// The URL or query could not be parsed.
    MalformedCallback,
    /// No pending transaction matches this callback (never started here, other tab, consumed).
    TransactionMissing,
    /// The pending transaction is older than its TTL.
    TransactionExpired,
    /// The pending transaction was already used once.
    TransactionUsed,
    /// `returnTo` is not a same-origin path.
    InvalidReturnTo,
    // --- backend input ---
    /// A malformed request (bad JSON shape, bad field).
    InvalidRequest,
    /// The code verifier breaks the RFC 7636 §4.1 grammar.
    InvalidVerifier,
    /// `BASE64URL(SHA256(verifier))` differs from the registered challenge (RFC 7636 §4.6).
    PkceMismatch,
    /// The CSRF header is missing (RFC 10017 §6.1.3.3).
    CsrfHeaderMissing,
    /// The `Origin` is not allow-listed.
    OriginRejected,
    /// The provider id is not configured.
    UnknownProvider,
    /// The request body is too large.
    BodyTooLarge,
    /// The content type is not `application/json`.
    UnsupportedMediaType,
    /// No session: no session cookie, one that does not open, or a session that expired.
    NotAuthenticated,
    /// The session the request's cookie names was ended on the server (a logout in another
    /// tab or on another instance, OIDC Back-Channel Logout 1.0 from the provider, a second
    /// sign-in in the same browser, a refresh grant the provider refused): sign in again.
    SessionEnded,
    // --- provider (token endpoint, userinfo, discovery) ---
    /// `invalid_grant` from the token endpoint (code used/expired, refresh token revoked).
    InvalidGrant,
    /// `invalid_client` or 401 + `WWW-Authenticate` (a configuration problem).
    InvalidClient,
    /// Another RFC 6749 §5.2 error.
    ProviderError,
    /// The response broke the protocol (HTML page, bad JSON, missing `access_token`, …).
    ProviderBadResponse,
    /// The provider could not be reached (connect refused, DNS, reset).
    ProviderUnreachable,
    /// The provider did not answer within the deadline.
    ProviderTimeout,
    /// The provider asked to slow down (429/503).
    ProviderUnavailable,
    /// The ID token failed validation (OIDC Core §3.1.3.7).
    InvalidIdToken,
    /// Discovery failed or the discovered issuer differs from the configured one.
    DiscoveryFailed,
    // --- local ---
    /// The platform CSPRNG failed.
    RandomUnavailable,
    /// The backend's session store cannot answer; nothing was sent to the provider.
    StoreUnavailable,
    /// Misconfiguration.
    Configuration,
    /// Browser storage unavailable or full.
    StorageUnavailable,
    /// The network call from the browser to the backend failed.
    BackendUnreachable,
    /// The browser could not load the WebAssembly module (missing file, an HTML page instead).
    WasmLoadFailed,
    /// The page runs in an in-app browser (embedded WebView) that the provider refuses to sign
    /// in from, e.g. Google's `disallowed_useragent`: the app must open the system browser.
    EmbeddedBrowserRefused,
    /// An unexpected internal failure (a bug); details are in the server log, never the body.
    Internal,
}

impl ErrorCode {
    /// The stable string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StateMismatch => "state_mismatch",
            Self::StateMissing => "state_missing",
            Self::IssMismatch => "iss_mismatch",
            Self::IssMissing => "iss_missing",
            Self::AccessDenied => "access_denied",
            Self::AuthorizationError => "authorization_error",
            Self::DuplicateParameter => "duplicate_parameter",
            Self::TokenInCallback => "token_in_callback",
            Self::CodeMissing => "code_missing",
            Self::MalformedCallback => "malformed_callback",
            Self::TransactionMissing => "transaction_missing",
            Self::TransactionExpired => "transaction_expired",
            Self::TransactionUsed => "transaction_used",
            Self::InvalidReturnTo => "invalid_return_to",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidVerifier => "invalid_verifier",
            Self::PkceMismatch => "pkce_mismatch",
            Self::CsrfHeaderMissing => "csrf_header_missing",
            Self::OriginRejected => "origin_rejected",
            Self::UnknownProvider => "unknown_provider",
            Self::BodyTooLarge => "body_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotAuthenticated => "not_authenticated",
            Self::SessionEnded => "session_ended",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::ProviderError => "provider_error",
            Self::ProviderBadResponse => "provider_bad_response",
            Self::ProviderUnreachable => "provider_unreachable",
            Self::ProviderTimeout => "provider_timeout",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::InvalidIdToken => "invalid_id_token",
            Self::DiscoveryFailed => "discovery_failed",
            Self::RandomUnavailable => "random_unavailable",
            Self::StoreUnavailable => "store_unavailable",
            Self::Configuration => "configuration",
            Self::StorageUnavailable => "storage_unavailable",
            Self::BackendUnreachable => "backend_unreachable",
            Self::WasmLoadFailed => "wasm_load_failed",
            Self::EmbeddedBrowserRefused => "embedded_browser_refused",
            Self::Internal => "internal",
        }
    }

    /// Parses a stable string back (for the browser reading backend error bodies).
    pub fn parse(value: &str) -> Option<Self> {
        ALL_CODES.iter().copied().find(|c| c.as_str() == value)
    }

    /// The default class of this code.
    pub const fn class(self) -> ErrorClass {
        match self {
            Self::ProviderUnreachable
            | Self::ProviderTimeout
            | Self::ProviderUnavailable
            | Self::BackendUnreachable
            | Self::StorageUnavailable
            | Self::RandomUnavailable
            | Self::StoreUnavailable => ErrorClass::Retryable,
            Self::StateMismatch
            | Self::StateMissing
            | Self::IssMismatch
            | Self::IssMissing
            | Self::AccessDenied
            | Self::AuthorizationError
            | Self::TransactionMissing
            | Self::TransactionExpired
            | Self::TransactionUsed
            | Self::PkceMismatch
            | Self::InvalidGrant
            | Self::NotAuthenticated
            | Self::SessionEnded
            | Self::InvalidIdToken => ErrorClass::Reauthenticate,
            Self::InvalidClient
            | Self::Configuration
            | Self::DiscoveryFailed
            | Self::WasmLoadFailed
            | Self::EmbeddedBrowserRefused
            | Self::UnknownProvider
            | Self::ProviderBadResponse
            | Self::ProviderError
            | Self::Internal => ErrorClass::Configuration,
            Self::DuplicateParameter
            | Self::TokenInCallback
            | Self::CodeMissing
            | Self::MalformedCallback
            | Self::InvalidReturnTo
            | Self::InvalidRequest
            | Self::InvalidVerifier
            | Self::CsrfHeaderMissing
            | Self::OriginRejected
            | Self::BodyTooLarge
            | Self::UnsupportedMediaType => ErrorClass::BadRequest,
        }
    }
}

/// Every code, for `parse` and for tests.
pub const ALL_CODES: &[ErrorCode] = &[
    ErrorCode::StateMismatch,
    ErrorCode::StateMissing,
    ErrorCode::IssMismatch,
    ErrorCode::IssMissing,
    ErrorCode::AccessDenied,
    ErrorCode::AuthorizationError,
    ErrorCode::DuplicateParameter,
    ErrorCode::TokenInCallback,
    ErrorCode::CodeMissing,
    ErrorCode::MalformedCallback,
    ErrorCode::TransactionMissing,
    ErrorCode::TransactionExpired,
    ErrorCode::TransactionUsed,
    ErrorCode::InvalidReturnTo,
    ErrorCode::InvalidRequest,
    ErrorCode::InvalidVerifier,
    ErrorCode::PkceMismatch,
    ErrorCode::CsrfHeaderMissing,
    ErrorCode::OriginRejected,
    ErrorCode::UnknownProvider,
    ErrorCode::BodyTooLarge,
    ErrorCode::UnsupportedMediaType,
    ErrorCode::NotAuthenticated,
    ErrorCode::SessionEnded,
    ErrorCode::InvalidGrant,
    ErrorCode::InvalidClient,
    ErrorCode::ProviderError,
    ErrorCode::ProviderBadResponse,
    ErrorCode::ProviderUnreachable,
    ErrorCode::ProviderTimeout,
    ErrorCode::ProviderUnavailable,
    ErrorCode::InvalidIdToken,
    ErrorCode::DiscoveryFailed,
    ErrorCode::RandomUnavailable,
    ErrorCode::StoreUnavailable,
    ErrorCode::Configuration,
    ErrorCode::StorageUnavailable,
    ErrorCode::BackendUnreachable,
    ErrorCode::WasmLoadFailed,
    ErrorCode::EmbeddedBrowserRefused,
    ErrorCode::Internal,
];

/// What the provider said, when it said something (RFC 6749 §4.1.2.1 / §5.2 members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderError {
    /// `error` (or WeChat `errcode`, Feishu `code`, …).
    pub error: OAuthErrorCode,
    /// `error_description` / `errmsg`, provider text (never rendered as HTML).
    pub error_description: Option<String>,
    /// `error_uri`.
    pub error_uri: Option<String>,
}

/// For a body that was not what the protocol promised: what came back, safe to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseInfo {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Up to 200 chars of the body with anything token-like removed (`token::redact_snippet`).
    pub snippet: String,
}

/// The authsplit error. `#[non_exhaustive]`; inspect it through [`Error::code`],
/// [`Error::class`], [`Error::provider_error`] and [`Error::response`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Error {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable message; never contains a secret.
    pub message: Cow<'static, str>,
    /// The provider's error, when it sent one. Boxed to keep `Result<_, Error>` small
    /// (clippy `result_large_err`).
    pub provider_error: Option<Box<ProviderError>>,
    /// The offending response, when a response broke the protocol. Boxed like
    /// `provider_error`.
    pub response: Option<Box<ResponseInfo>>,
    /// Overrides `code.class()` (e.g. a 503 `server_error` is retryable).
    pub class_override: Option<ErrorClass>,
}

impl Error {
    /// A new error with a constant message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            provider_error: None,
            response: None,
            class_override: None,
        }
    }
    /// Attaches the provider's error.
    pub fn with_provider_error(mut self, e: ProviderError) -> Self {
        self.provider_error = Some(Box::new(e));
        self
    }
    /// Attaches response information.
    pub fn with_response(mut self, r: ResponseInfo) -> Self {
        self.response = Some(Box::new(r));
        self
    }
    /// Overrides the class.
    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class_override = Some(class);
        self
    }
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// Retry, re-authenticate, fix configuration, or bad request.
    pub fn class(&self) -> ErrorClass {
        self.class_override.unwrap_or(self.code.class())
    }
    /// Whether retrying the same request may help.
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }
    /// The provider's error, if any.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        self.provider_error.as_deref()
    }
    /// The offending response, if any.
    pub fn response(&self) -> Option<&ResponseInfo> {
        self.response.as_deref()
    }
}

/// `<code>: <message>` — constants and provider text only, never a secret.
impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code.as_str())?;
        f.write_str(": ")?;
        f.write_str(&self.message)
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_codes_round_trip_and_are_unique() {
        for (i, c) in ALL_CODES.iter().enumerate() {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert!(
                ALL_CODES
                    .iter()
                    .skip(i + 1)
                    .all(|d| d.as_str() != c.as_str())
            );
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn rfc6749_s4_1_2_1_s5_2_oauth_codes_round_trip() {
        for s in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "access_denied",
            "unsupported_response_type",
            "server_error",
            "temporarily_unavailable",
            "login_required",
            "consent_required",
            "bad_verification_code",
            "40029",
        ] {
            assert_eq!(OAuthErrorCode::parse(s).as_str(), s);
        }
        assert_eq!(
            OAuthErrorCode::parse("x"),
            OAuthErrorCode::Other("x".into())
        );
    }

    #[test]
    fn display_class_and_override() {
        let e = Error::new(ErrorCode::StateMismatch, "state differs");
        assert_eq!(e.to_string(), "state_mismatch: state differs");
        assert_eq!(e.class(), ErrorClass::Reauthenticate);
        assert!(!e.is_retryable());
        let e = Error::new(ErrorCode::ProviderError, "x").with_class(ErrorClass::Retryable);
        assert!(e.is_retryable());
        assert_eq!(
            ErrorCode::ProviderUnavailable.class(),
            ErrorClass::Retryable
        );
        assert_eq!(ErrorCode::InvalidClient.class(), ErrorClass::Configuration);
        assert_eq!(ErrorCode::TokenInCallback.class(), ErrorClass::BadRequest);
    }

    #[test]
    fn error_stays_small() {
        // Boxed provider error / response keep `Result<_, Error>` cheap (clippy result_large_err).
        assert!(core::mem::size_of::<Error>() <= 64);
    }
}
