//! Authorization response (callback) parsing and validation
//! (RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207; RFC 9700 §4.7; REFERENCE §2.3–§2.6).
//!
//! Two steps:
//! 1. [`parse_callback`] — syntax only: a full URL (`https://app/cb?code=…&state=…`, fragment
//!    ignored) or a bare query string (with or without a leading `?`). Rejects duplicated
//!    parameters (`DuplicateParameter`), any `access_token` / `id_token` / `token`
//!    (`TokenInCallback`), and classifies into [`CallbackResponse`]. A callback with neither
//!    `code`, `error` nor `state` is `CodeMissing`.
//! 2. [`validate_callback`] — against the stored transaction: `state` present
//!    (`StateMissing`) and equal in constant time (`StateMismatch`); `iss` equal to the expected
//!    issuer (`IssMismatch`) or missing where the server promised it (`IssMissing`) — checked on
//!    error responses too; then an error response becomes `AccessDenied` / `AuthorizationError`
//!    carrying the provider's error, and `Denied` becomes `AccessDenied`.
//!
//! Decoding follows `application/x-www-form-urlencoded` (`+` is a space), but strictly: a
//! percent-escape that decodes to invalid UTF-8 is `MalformedCallback` rather than being
//! silently replaced, and inputs longer than [`MAX_CALLBACK_LEN`] or with more than
//! [`MAX_CALLBACK_PARAMS`] parameters are refused. A callback
//! carrying both `code` and `error` is `MalformedCallback` (never redeem an ambiguous answer).
//! `error_description` is kept verbatim as *plain text*: callers must never render it as HTML.
//!
//! Error messages are constants: they name parameters, never their values.
//!
//! ```
//! use authsplit_core::callback::*;
//! use authsplit_core::random::State;
//! let state = State::parse("s1").unwrap();
//! let parsed = parse_callback(
//!     "https://app.example/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example",
//!     &ParseOptions::default(),
//! )
//! .unwrap();
//! let ok = validate_callback(
//!     parsed,
//!     &CallbackExpectations { state: &state, issuer: Some("https://as.example"), require_iss: true },
//! )
//! .unwrap();
//! assert_eq!(ok.code.secret(), "abc");
//! ```
//!
//! [`is_safe_return_to`] is the open-redirect guard for the `returnTo` path the app goes back
//! to after sign-in (REFERENCE §2.9).

use std::borrow::Cow;

use crate::Error;
use crate::error::{ErrorCode, OAuthErrorCode, ProviderError};
use crate::random::State;
use crate::secret::AuthorizationCode;

/// A syntactically valid authorization response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CallbackResponse {
    /// `code` (and usually `state`, `iss`).
    Success {
        /// The authorization code.
        code: AuthorizationCode,
        /// `state`, if present.
        state: Option<String>,
        /// `iss` (RFC 9207), if present.
        iss: Option<String>,
    },
    /// `error` (RFC 6749 §4.1.2.1).
    Error {
        /// The provider's error.
        error: ProviderError,
        /// `state`, if present.
        state: Option<String>,
        /// `iss`, if present.
        iss: Option<String>,
    },
    /// `state` present, no `code`, no `error`: WeChat's "user refused".
    Denied {
        /// `state`.
        state: String,
        /// `iss`, if present.
        iss: Option<String>,
    },
}

/// Parser options.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ParseOptions {
    /// The name of the code parameter (`code`; DingTalk sends `authCode`).
    pub code_param: String,
}

impl ParseOptions {
    /// Options with a provider-specific code parameter name (DingTalk: `authCode`).
    pub fn with_code_param(code_param: impl Into<String>) -> Self {
        Self {
            code_param: code_param.into(),
        }
    }
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            code_param: "code".to_owned(),
        }
    }
}

/// What the stored transaction expects.
#[derive(Clone, Debug)]
pub struct CallbackExpectations<'a> {
    /// The `state` sent in the authorization request.
    pub state: &'a State,
    /// The expected issuer, when known (RFC 9207 §2.4).
    pub issuer: Option<&'a str>,
    /// Whether the server advertises `authorization_response_iss_parameter_supported`.
    pub require_iss: bool,
}

/// A validated successful callback.
#[derive(Clone, Debug)]
pub struct ValidatedCallback {
    /// The code to redeem.
    pub code: AuthorizationCode,
    /// `iss`, if the server sent it.
    pub iss: Option<String>,
}

/// Longest callback input (URL or query) accepted, in bytes.
pub const MAX_CALLBACK_LEN: usize = 16 * 1024;

/// Most parameters accepted in one callback (real ones carry fewer than 15).
pub const MAX_CALLBACK_PARAMS: usize = 100;

/// Longest `returnTo` accepted by [`is_safe_return_to`], in bytes.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// Parameters that must never arrive in a code-flow callback (RFC 9700 §2.1.2; REFERENCE §2.6).
const TOKEN_PARAMS: &[&str] = &["access_token", "id_token", "token"];

fn err(code: ErrorCode, message: &'static str) -> Error {
    Error::new(code, message)
}

/// Extracts the query from a full URL (`scheme://host/path?query#fragment`), a path
/// (`/cb?query`), `?query`, or a bare query. The fragment is always dropped.
fn query_part(input: &str) -> &str {
    let no_fragment = input.split('#').next().unwrap_or("");
    if let Some(q) = no_fragment.strip_prefix('?') {
        return q;
    }
    // A URL or path has ':' or '/' before its first '?'; a bare query reaches '=' or '&' first.
    let head_end = no_fragment
        .find(['?', '&', '='])
        .unwrap_or(no_fragment.len());
    let head = no_fragment.get(..head_end).unwrap_or("");
    if head.contains([':', '/']) {
        match no_fragment.split_once('?') {
            Some((_, q)) => q,
            None => "",
        }
    } else {
        no_fragment
    }
}

/// Strict `application/x-www-form-urlencoded` decoding of one name or value.
fn form_decode(raw: &str) -> Result<Cow<'_, str>, Error> {
    let bytes: Cow<'_, [u8]> = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " ").into_bytes())
    } else {
        Cow::Borrowed(raw.as_bytes())
    };
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode(&bytes).into();
    match String::from_utf8(decoded.into_owned()) {
        Ok(s) if s.as_str() == raw => Ok(Cow::Borrowed(raw)),
        Ok(s) => Ok(Cow::Owned(s)),
        Err(_) => Err(err(
            ErrorCode::MalformedCallback,
            "a callback parameter is not valid UTF-8 after percent-decoding",
        )),
    }
}

/// The name to use in a duplicate-parameter message (constant strings only).
fn duplicate_message(name: &str) -> &'static str {
    match name {
        "state" => "parameter `state` appears more than once (RFC 6749 §3.1)",
        "code" => "parameter `code` appears more than once (RFC 6749 §3.1)",
        "iss" => "parameter `iss` appears more than once (RFC 6749 §3.1)",
        "error" => "parameter `error` appears more than once (RFC 6749 §3.1)",
        _ => "a callback parameter appears more than once (RFC 6749 §3.1)",
    }
}

/// Step 1: syntax. See the module docs.
pub fn parse_callback(input: &str, options: &ParseOptions) -> Result<CallbackResponse, Error> {
    if input.len() > MAX_CALLBACK_LEN {
        return Err(err(
            ErrorCode::MalformedCallback,
            "the callback URL is too long",
        ));
    }
    let query = query_part(input);

    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for segment in query.split('&') {
        if segment.is_empty() {
            continue;
        }
        if pairs.len() >= MAX_CALLBACK_PARAMS {
            return Err(err(
                ErrorCode::MalformedCallback,
                "the callback has too many parameters",
            ));
        }
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        pairs.push((form_decode(name)?, form_decode(value)?));
    }

    // RFC 9700 §2.1.2 / REFERENCE §2.6: a token in the front channel is an attack or a
    // misconfigured implicit flow; refuse before anything else.
    if pairs
        .iter()
        .any(|(name, _)| TOKEN_PARAMS.contains(&name.as_ref()))
    {
        return Err(err(
            ErrorCode::TokenInCallback,
            "the callback carries access_token, id_token or token (RFC 9700 §2.1.2)",
        ));
    }
    // RFC 6749 §3.1: parameters MUST NOT be included more than once.
    for (i, (name, _)) in pairs.iter().enumerate() {
        let seen_before = pairs
            .get(..i)
            .is_some_and(|before| before.iter().any(|(n, _)| n == name));
        if seen_before {
            return Err(err(ErrorCode::DuplicateParameter, duplicate_message(name)));
        }
    }

    let get = |wanted: &str| -> Option<String> {
        pairs
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_ref().to_owned())
    };
    let code = get(options.code_param.as_str());
    let error = get("error");
    let state = get("state");
    let iss = get("iss");

    match (code, error) {
        (Some(_), Some(_)) => Err(err(
            ErrorCode::MalformedCallback,
            "the callback carries both `code` and `error`",
        )),
        (None, Some(error)) => Ok(CallbackResponse::Error {
            error: ProviderError {
                error: OAuthErrorCode::parse(&error),
                error_description: get("error_description"),
                error_uri: get("error_uri"),
            },
            state,
            iss,
        }),
        (Some(code), None) if code.is_empty() => Err(err(
            ErrorCode::CodeMissing,
            "the callback's `code` is empty (RFC 6749 §4.1.2)",
        )),
        (Some(code), None) => Ok(CallbackResponse::Success {
            code: AuthorizationCode::new(code),
            state,
            iss,
        }),
        (None, None) => match state {
            Some(state) => Ok(CallbackResponse::Denied { state, iss }),
            None => Err(err(
                ErrorCode::CodeMissing,
                "the callback has neither `code`, `error` nor `state` (RFC 6749 §4.1.2)",
            )),
        },
    }
}

/// Step 2: validation against the stored transaction. See the module docs.
pub fn validate_callback(
    response: CallbackResponse,
    expected: &CallbackExpectations<'_>,
) -> Result<ValidatedCallback, Error> {
    let (state, iss) = match &response {
        CallbackResponse::Success { state, iss, .. }
        | CallbackResponse::Error { state, iss, .. } => (state.as_deref(), iss.as_deref()),
        CallbackResponse::Denied { state, iss } => (Some(state.as_str()), iss.as_deref()),
    };

    // RFC 6749 §10.12, RFC 9700 §4.7.1: state binds the response to this browser.
    let Some(state) = state else {
        return Err(err(
            ErrorCode::StateMissing,
            "the callback has no `state` (RFC 6749 §10.12)",
        ));
    };
    if !expected.state.ct_eq_str(state) {
        return Err(err(
            ErrorCode::StateMismatch,
            "the callback's `state` differs from the one sent (RFC 6749 §10.12)",
        ));
    }

    // RFC 9207 §2.4: compare iss exactly, on error responses too.
    match (expected.issuer, iss) {
        (Some(want), Some(got)) if want != got => {
            return Err(err(
                ErrorCode::IssMismatch,
                "the callback's `iss` differs from the expected issuer (RFC 9207 §2.4)",
            ));
        }
        (_, None) if expected.require_iss => {
            return Err(err(
                ErrorCode::IssMissing,
                "the callback has no `iss` though the server advertises it (RFC 9207 §2.4)",
            ));
        }
        (None, _) if expected.require_iss => {
            return Err(err(
                ErrorCode::Configuration,
                "require_iss is set but no expected issuer is configured (RFC 9207 §2.4)",
            ));
        }
        _ => {}
    }

    match response {
        CallbackResponse::Success { code, iss, .. } => Ok(ValidatedCallback { code, iss }),
        CallbackResponse::Error { error, .. } => {
            let e = if error.error == OAuthErrorCode::AccessDenied {
                err(
                    ErrorCode::AccessDenied,
                    "the user or the server denied the request (RFC 6749 §4.1.2.1)",
                )
            } else {
                err(
                    ErrorCode::AuthorizationError,
                    "the authorization server returned an error (RFC 6749 §4.1.2.1)",
                )
            };
            Err(e.with_provider_error(error))
        }
        CallbackResponse::Denied { .. } => Err(err(
            ErrorCode::AccessDenied,
            "the user declined: the callback has `state` but no `code` and no `error`",
        )),
    }
}

/// Whether `return_to` is a safe same-origin path (REFERENCE §2.9): starts with exactly one
/// `/`, no `//`, no `\`, no control characters or whitespace (also percent-encoded forms such
/// as `%09`, `%2F%2F`, `%5C`), no scheme. `/` alone is fine.
///
/// The check runs on the raw value and on up to three rounds of percent-decoding, so
/// double-encoded forms (`%252F%252F`) are caught too; a value that decodes to invalid UTF-8
/// is refused. At most [`MAX_RETURN_TO_LEN`] bytes.
pub fn is_safe_return_to(return_to: &str) -> bool {
    if return_to.len() > MAX_RETURN_TO_LEN {
        return false;
    }
    let mut current: Cow<'_, str> = Cow::Borrowed(return_to);
    for _ in 0..4 {
        if !is_safe_path_form(&current) {
            return false;
        }
        let decoded = match percent_encoding::percent_decode_str(&current).decode_utf8() {
            Ok(d) => d.into_owned(),
            Err(_) => return false,
        };
        if decoded == *current {
            return true;
        }
        current = Cow::Owned(decoded);
    }
    // Still changing after four rounds: absurdly nested encoding, refuse.
    false
}

/// One form (raw or decoded) of a `returnTo`.
fn is_safe_path_form(s: &str) -> bool {
    // Byte scans rather than `str::contains(&str)`: the substring searcher drags slicing
    // panics and `Debug` formatting into the wasm module (REFERENCE §6).
    s.starts_with('/')
        && !s.as_bytes().windows(2).any(|w| w == b"//")
        && !s.as_bytes().contains(&b'\\')
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<CallbackResponse, Error> {
        parse_callback(input, &ParseOptions::default())
    }

    fn code_of(r: Result<CallbackResponse, Error>) -> ErrorCode {
        match r {
            Ok(other) => panic!("expected an error, got {other:?}"),
            Err(e) => e.code(),
        }
    }

    fn state() -> State {
        State::parse("s1").expect("valid")
    }

    fn expect<'a>(
        state: &'a State,
        issuer: Option<&'a str>,
        require_iss: bool,
    ) -> CallbackExpectations<'a> {
        CallbackExpectations {
            state,
            issuer,
            require_iss,
        }
    }

    #[test]
    fn rfc6749_s4_1_2_success_from_full_url_and_queries() {
        for input in [
            "https://app.example/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example",
            "https://app.example/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example#frag=1&code=zzz",
            "/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example",
            "?code=abc&state=s1&iss=https%3A%2F%2Fas.example",
            "code=abc&state=s1&iss=https%3A%2F%2Fas.example",
            // An unencoded iss in a bare query is still a query, not a URL.
            "code=abc&state=s1&iss=https://as.example",
        ] {
            match parse(input) {
                Ok(CallbackResponse::Success { code, state, iss }) => {
                    assert_eq!(code.secret(), "abc", "{input}");
                    assert_eq!(state.as_deref(), Some("s1"), "{input}");
                    assert_eq!(iss.as_deref(), Some("https://as.example"), "{input}");
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn rfc6749_appendix_b_plus_and_percent_decoding() {
        match parse("?code=a%2Bb+c&state=s1") {
            Ok(CallbackResponse::Success { code, .. }) => assert_eq!(code.secret(), "a+b c"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            code_of(parse("?code=%FF%FE&state=s1")),
            ErrorCode::MalformedCallback
        );
    }

    #[test]
    fn rfc6749_s4_1_2_fragment_is_ignored() {
        // A code only in the fragment is not a code-flow response.
        assert_eq!(
            code_of(parse("https://app.example/cb#code=abc&state=s1")),
            ErrorCode::CodeMissing
        );
    }

    #[test]
    fn rfc6749_s4_1_2_missing_code() {
        assert_eq!(
            code_of(parse("https://app.example/cb")),
            ErrorCode::CodeMissing
        );
        assert_eq!(code_of(parse("")), ErrorCode::CodeMissing);
        assert_eq!(code_of(parse("?")), ErrorCode::CodeMissing);
        assert_eq!(code_of(parse("?foo=bar&&")), ErrorCode::CodeMissing);
        assert_eq!(code_of(parse("?code=&state=s1")), ErrorCode::CodeMissing);
    }

    #[test]
    fn rfc6749_s4_1_2_1_error_response_parsed() {
        match parse(
            "?error=access_denied&error_description=User+said+no&error_uri=https%3A%2F%2Fx&state=s1",
        ) {
            Ok(CallbackResponse::Error { error, state, iss }) => {
                assert_eq!(error.error, OAuthErrorCode::AccessDenied);
                assert_eq!(error.error_description.as_deref(), Some("User said no"));
                assert_eq!(error.error_uri.as_deref(), Some("https://x"));
                assert_eq!(state.as_deref(), Some("s1"));
                assert_eq!(iss, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc6749_s4_1_2_1_xss_in_error_description_kept_as_plain_text() {
        let r = parse(
            "?error=server_error&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=s1",
        )
        .expect("parses");
        let e = validate_callback(r, &expect(&state(), None, false)).expect_err("error");
        assert_eq!(e.code(), ErrorCode::AuthorizationError);
        let pe = e.provider_error().expect("provider error");
        assert_eq!(pe.error, OAuthErrorCode::ServerError);
        // Verbatim text: not escaped, not stripped — the renderer must treat it as text.
        assert_eq!(
            pe.error_description.as_deref(),
            Some("<script>alert(1)</script>")
        );
        // The error's own message is a constant.
        assert!(!e.to_string().contains("<script>"));
    }

    /// RFC 6749 §4.1.2.1 (`access_denied`) as WeChat sends it: `state` only, no `code`, no `error`.
    #[test]
    fn wechat_denied_callback_state_only() {
        let r = parse("https://app.example/cb?state=s1").expect("parses");
        assert!(matches!(r, CallbackResponse::Denied { ref state, .. } if state == "s1"));
        let e = validate_callback(r, &expect(&state(), None, false)).expect_err("denied");
        assert_eq!(e.code(), ErrorCode::AccessDenied);
        assert_eq!(e.class(), crate::ErrorClass::Reauthenticate);
        // Denied with a wrong state is a state mismatch first.
        let r = parse("?state=other").expect("parses");
        let e = validate_callback(r, &expect(&state(), None, false)).expect_err("mismatch");
        assert_eq!(e.code(), ErrorCode::StateMismatch);
    }

    #[test]
    fn rfc6749_s3_1_duplicated_parameters_rejected() {
        for input in [
            "?code=a&state=s1&state=s2",
            "?code=a&code=b&state=s1",
            "?code=a&state=s1&iss=x&iss=y",
            "?code=a&state=s1&foo=1&foo=2",
            // Duplicates are found after decoding the names.
            "?code=a&state=s1&st%61te=s1",
        ] {
            assert_eq!(
                code_of(parse(input)),
                ErrorCode::DuplicateParameter,
                "{input}"
            );
        }
    }

    #[test]
    fn rfc9700_s2_1_2_tokens_in_callback_rejected() {
        for input in [
            "?code=a&state=s1&access_token=AT",
            "?code=a&state=s1&id_token=eyJ",
            "?state=s1&token=T",
            "?error=access_denied&state=s1&token=",
        ] {
            assert_eq!(code_of(parse(input)), ErrorCode::TokenInCallback, "{input}");
        }
        // The message never echoes the token.
        let e = parse("?code=a&access_token=SECRET_AT_VALUE").expect_err("token");
        assert!(!format!("{e} {e:?}").contains("SECRET_AT_VALUE"));
    }

    /// RFC 6749 §4.1.2 vs §4.1.2.1: a response is either a success or an error, never both.
    #[test]
    fn both_code_and_error_is_malformed() {
        assert_eq!(
            code_of(parse("?code=a&error=access_denied&state=s1")),
            ErrorCode::MalformedCallback
        );
    }

    /// REFERENCE §4: oversized input is a typed error, not a crash.
    #[test]
    fn too_long_callback_is_malformed() {
        let long = format!("?code=a&state=s1&x={}", "a".repeat(MAX_CALLBACK_LEN));
        assert_eq!(code_of(parse(&long)), ErrorCode::MalformedCallback);
        let many: String = (0..=MAX_CALLBACK_PARAMS)
            .map(|i| format!("p{i}=1&"))
            .collect();
        assert_eq!(
            code_of(parse(&format!("?{many}code=a&state=s1"))),
            ErrorCode::MalformedCallback
        );
        let enough: String = (0..MAX_CALLBACK_PARAMS - 2)
            .map(|i| format!("p{i}=1&"))
            .collect();
        assert!(parse(&format!("?{enough}code=a&state=s1")).is_ok());
    }

    /// RFC 6749 §4.1.2 `code`, under DingTalk's name `authCode` (PROVIDERS.md).
    #[test]
    fn dingtalk_code_param() {
        let opts = ParseOptions::with_code_param("authCode");
        match parse_callback("?authCode=xyz&state=s1", &opts) {
            Ok(CallbackResponse::Success { code, .. }) => assert_eq!(code.secret(), "xyz"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc6749_s10_12_state_validation() {
        let st = state();
        let ok = validate_callback(
            parse("?code=c&state=s1").expect("p"),
            &expect(&st, None, false),
        )
        .expect("valid");
        assert_eq!(ok.code.secret(), "c");
        assert_eq!(ok.iss, None);
        for (input, want) in [
            ("?code=c", ErrorCode::StateMissing),
            ("?code=c&state=s2", ErrorCode::StateMismatch),
            ("?code=c&state=", ErrorCode::StateMismatch),
            ("?code=c&state=s1x", ErrorCode::StateMismatch),
            ("?error=access_denied", ErrorCode::StateMissing),
            ("?error=access_denied&state=bad", ErrorCode::StateMismatch),
        ] {
            let r = parse(input).expect("parses");
            let e = validate_callback(r, &expect(&st, None, false)).expect_err(input);
            assert_eq!(e.code(), want, "{input}");
        }
    }

    #[test]
    fn rfc9207_s2_4_iss_checks() {
        let st = state();
        let issuer = Some("https://as.example");
        let cases: &[(&str, bool, Result<(), ErrorCode>)] = &[
            (
                "?code=c&state=s1&iss=https%3A%2F%2Fas.example",
                true,
                Ok(()),
            ),
            (
                "?code=c&state=s1&iss=https%3A%2F%2Fas.example",
                false,
                Ok(()),
            ),
            ("?code=c&state=s1", false, Ok(())),
            ("?code=c&state=s1", true, Err(ErrorCode::IssMissing)),
            (
                "?code=c&state=s1&iss=https%3A%2F%2Fevil.example",
                false,
                Err(ErrorCode::IssMismatch),
            ),
            // Exact comparison: a trailing slash is a different issuer.
            (
                "?code=c&state=s1&iss=https%3A%2F%2Fas.example%2F",
                true,
                Err(ErrorCode::IssMismatch),
            ),
            // Error responses are checked too (RFC 9207 §2.4).
            (
                "?error=access_denied&state=s1&iss=https%3A%2F%2Fevil.example",
                false,
                Err(ErrorCode::IssMismatch),
            ),
            (
                "?error=access_denied&state=s1",
                true,
                Err(ErrorCode::IssMissing),
            ),
            (
                "?state=s1&iss=https%3A%2F%2Fevil.example",
                false,
                Err(ErrorCode::IssMismatch),
            ),
        ];
        for (input, require, want) in cases {
            let r = parse(input).expect("parses");
            let got = validate_callback(r, &expect(&st, issuer, *require))
                .map(|_| ())
                .map_err(|e| e.code());
            assert_eq!(&got, want, "{input} require_iss={require}");
        }
        // iss present but nothing to compare against and not required: accepted.
        let r = parse("?code=c&state=s1&iss=anything").expect("parses");
        assert!(validate_callback(r, &expect(&st, None, false)).is_ok());
        // Promised but not configured: a configuration error, not a silent pass.
        let r = parse("?code=c&state=s1&iss=x").expect("parses");
        let e = validate_callback(r, &expect(&st, None, true)).expect_err("config");
        assert_eq!(e.code(), ErrorCode::Configuration);
    }

    #[test]
    fn rfc6749_s4_1_2_1_error_codes_map() {
        let st = state();
        let r = parse("?error=access_denied&state=s1").expect("parses");
        let e = validate_callback(r, &expect(&st, None, false)).expect_err("error");
        assert_eq!(e.code(), ErrorCode::AccessDenied);
        assert_eq!(
            e.provider_error().map(|p| p.error.clone()),
            Some(OAuthErrorCode::AccessDenied)
        );
        let r = parse("?error=login_required&state=s1").expect("parses");
        let e = validate_callback(r, &expect(&st, None, false)).expect_err("error");
        assert_eq!(e.code(), ErrorCode::AuthorizationError);
        assert_eq!(
            e.provider_error().map(|p| p.error.clone()),
            Some(OAuthErrorCode::InteractionRequired("login_required".into()))
        );
    }

    /// REFERENCE §3.14 / RFC 6749 §10.5: the authorization code never appears in Debug or errors.
    #[test]
    fn code_is_redacted_in_debug_and_errors() {
        let r = parse("?code=KNOWN_CODE_VALUE&state=s1").expect("parses");
        assert!(!format!("{r:?}").contains("KNOWN_CODE_VALUE"));
        let ok = validate_callback(r, &expect(&state(), None, false)).expect("valid");
        assert!(!format!("{ok:?}").contains("KNOWN_CODE_VALUE"));
        let r = parse("?code=KNOWN_CODE_VALUE&state=WRONG_STATE").expect("parses");
        let e = validate_callback(r, &expect(&state(), None, false)).expect_err("mismatch");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("KNOWN_CODE_VALUE") && !text.contains("WRONG_STATE"));
    }

    /// RFC 9700 §4.11 (open redirection) / REFERENCE §2.9.
    #[test]
    fn rfc9700_s4_11_return_to_open_redirect_guard() {
        for good in [
            "/",
            "/app",
            "/app/page?x=1#top",
            "/%E2%9C%93",
            "/javascript:x",
        ] {
            assert!(is_safe_return_to(good), "{good}");
        }
        for bad in [
            "",
            "//evil",
            "//evil.example/path",
            "/\\evil",
            "\\/evil",
            "/%09/evil",
            "/\t/evil",
            "/ /evil",
            "/%2F%2Fevil",
            "/%2f/evil",
            "/%5Cevil",
            "/%5cevil",
            "/%252F%252Fevil",
            "/%25252F/evil",
            "https://evil",
            "HTTPS://evil",
            "javascript:alert(1)",
            " /app",
            "app",
            "/app\n",
            "/%0D%0ASet-Cookie:x",
            "/%FF",
            // Encoded whitespace is refused like raw whitespace.
            "/a%20b",
            "/a\u{3000}b",
            "/a\u{2028}b",
        ] {
            assert!(!is_safe_return_to(bad), "{bad:?}");
        }
        assert!(!is_safe_return_to(&format!(
            "/{}",
            "a".repeat(MAX_RETURN_TO_LEN)
        )));
    }
}
