//! The authorization response (callback) check (RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207
//! §2.4; RFC 9700 §2.1.2, §4.7.1). Part of the base: this is the code the browser half runs on
//! every callback.
//!
//! Three steps, and [`verify`], which runs them in the browser's order:
//! 1. [`parse_params`] — decoding and the rules that hold whatever the provider: a full URL
//!    (`https://app/cb?code=…&state=…`, fragment ignored), a path, or a bare query (with or
//!    without a leading `?`); at most [`MAX_CALLBACK_LEN`] bytes and [`MAX_CALLBACK_PARAMS`]
//!    parameters; no `access_token` / `id_token` / `token` (`TokenInCallback`); no parameter
//!    twice (`DuplicateParameter`).
//! 2. [`classify`] — the [`Callback`]: `code` and `error` together are `MalformedCallback`
//!    (never redeem an ambiguous answer); an empty `code`, or neither `code`, `error` nor
//!    `state`, is `CodeMissing`. ([`parse_callback`] is steps 1 and 2.)
//! 3. [`validate`] — against the stored transaction: `state` present (`StateMissing`) and equal
//!    in constant time (`StateMismatch`); `iss` equal to the expected issuer (`IssMismatch`) or
//!    missing where the server promised it (`IssMissing`) — on error responses too; then an
//!    error response becomes `AccessDenied` / `AuthorizationError` carrying the provider's
//!    error, and `state` alone (WeChat's refusal) `AccessDenied`.
//!
//! Decoding follows `application/x-www-form-urlencoded` (`+` is a space), but strictly: a
//! percent-escape that decodes to invalid UTF-8 is `MalformedCallback` rather than being
//! silently replaced. `error_description` is kept verbatim as *plain text*: callers must never
//! render it as HTML. Error messages are constants: they name parameters, never their values.
//! The code is an [`AuthorizationCode`], whose `Debug` is redacted.
//!
//! ```
//! use authsplit_core::callback::{Expected, Stored, verify};
//! let expected = Expected {
//!     state: "s1",
//!     issuer: Some("https://as.example"),
//!     require_iss: true,
//!     code_param: "code",
//! };
//! let code = verify(
//!     "https://app.example/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example",
//!     Stored::Found,
//!     &expected,
//! )
//! .unwrap();
//! assert_eq!(code.secret(), "abc");
//! ```

use alloc::borrow::ToOwned as _;
use alloc::string::String;
use alloc::vec::Vec;

use crate::Error;
use crate::error::{ErrorCode, OAuthErrorCode, ProviderError};
use crate::random::ct_eq_bytes;
use crate::secret::AuthorizationCode;

/// Longest callback input (URL or query) accepted, in bytes.
pub const MAX_CALLBACK_LEN: usize = 16 * 1024;

/// Most parameters accepted in one callback (real ones carry fewer than 15).
pub const MAX_CALLBACK_PARAMS: usize = 100;

/// A syntactically valid authorization response (RFC 6749 §4.1.2 / §4.1.2.1). Never both
/// `code` and `error`; at least one of `code`, `error`, `state`.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Callback {
    /// The authorization code (non-empty), if sent.
    pub code: Option<AuthorizationCode>,
    /// The provider's `error`, if sent.
    pub error: Option<String>,
    /// `error_description` (plain text).
    pub error_description: Option<String>,
    /// `error_uri`.
    pub error_uri: Option<String>,
    /// `state`, if sent.
    pub state: Option<String>,
    /// `iss` (RFC 9207), if sent.
    pub iss: Option<String>,
}

/// What the browser found in `sessionStorage` for the callback's `state`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stored {
    /// No transaction; `others` is whether this tab had other pending ones.
    Missing {
        /// This tab was waiting for another sign-in.
        others: bool,
    },
    /// An entry that is not a transaction.
    Unreadable,
    /// Older than the TTL (or dated in the future).
    Expired,
    /// A live transaction.
    Found,
}

/// What the stored transaction expects of the callback.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The `state` sent in the authorization request.
    pub state: &'a str,
    /// The expected issuer, when known (RFC 9207 §2.4).
    pub issuer: Option<&'a str>,
    /// Whether the server promised `iss` (`authorization_response_iss_parameter_supported`).
    pub require_iss: bool,
    /// The name of the code parameter (`code`; DingTalk `authCode`).
    pub code_param: &'a str,
}

/// One out-of-line constructor for every error of this module (each call site is then a call
/// with two constants, not an inlined `Error` literal: smaller browser module).
#[inline(never)]
fn err(code: ErrorCode, message: &'static str) -> Error {
    Error::new(code, message)
}

fn malformed(message: &'static str) -> Error {
    err(ErrorCode::MalformedCallback, message)
}

const STATE_MISSING: &str = "the callback has no `state` (RFC 6749 §10.12)";
const STATE_MISMATCH: &str = "the callback's `state` differs from the one sent (RFC 6749 §10.12)";
const TRANSACTION_UNREADABLE: &str =
    "the stored sign-in transaction is unreadable; start a new sign-in";

/// The query of a full URL, a path, `?query` or a bare query; the fragment is dropped.
/// (Byte scans: no `str` pattern searchers in the browser module.)
fn query_part(input: &[u8]) -> &[u8] {
    let no_fragment = input.split(|&b| b == b'#').next().unwrap_or_default();
    if let Some(q) = no_fragment.strip_prefix(b"?") {
        return q;
    }
    // A URL or path has ':' or '/' before its first '?'; a bare query reaches '=' or '&' first.
    let head = no_fragment
        .split(|&b| matches!(b, b'?' | b'&' | b'='))
        .next()
        .unwrap_or_default();
    if head.iter().any(|&b| b == b':' || b == b'/') {
        no_fragment
            .splitn(2, |&b| b == b'?')
            .nth(1)
            .unwrap_or_default()
    } else {
        no_fragment
    }
}

/// Strict form decoding of one name or value: `+` is a space, then percent-decoding; invalid
/// UTF-8 is an error rather than a replacement character.
fn form_decode(raw: &[u8]) -> Result<String, Error> {
    let mut plus = raw.to_vec();
    for b in &mut plus {
        if *b == b'+' {
            *b = b' ';
        }
    }
    String::from_utf8(percent_encoding::percent_decode(&plus).collect())
        .map_err(|_| malformed("a callback parameter is not valid UTF-8 after percent-decoding"))
}

/// Step 1: the decoded parameters of a callback, refusing what is wrong whatever the
/// provider: too long, too many, undecodable, tokens in the front channel (RFC 9700 §2.1.2),
/// a parameter given twice (RFC 6749 §3.1).
pub fn parse_params(input: &str) -> Result<Vec<(String, String)>, Error> {
    if input.len() > MAX_CALLBACK_LEN {
        return Err(malformed("the callback URL is too long"));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for segment in query_part(input.as_bytes()).split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        if pairs.len() >= MAX_CALLBACK_PARAMS {
            return Err(malformed("the callback has too many parameters"));
        }
        let mut kv = segment.splitn(2, |&b| b == b'=');
        let name = form_decode(kv.next().unwrap_or_default())?;
        let value = form_decode(kv.next().unwrap_or_default())?;
        pairs.push((name, value));
    }
    // A token in the front channel is an attack or a misconfigured implicit flow: refused
    // before anything else.
    if pairs
        .iter()
        .any(|(n, _)| matches!(n.as_str(), "access_token" | "id_token" | "token"))
    {
        return Err(err(
            ErrorCode::TokenInCallback,
            "the callback carries access_token, id_token or token (RFC 9700 §2.1.2)",
        ));
    }
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs.iter().take(i).any(|(n, _)| n == name) {
            return Err(err(
                ErrorCode::DuplicateParameter,
                "a callback parameter appears more than once (RFC 6749 §3.1)",
            ));
        }
    }
    Ok(pairs)
}

/// Step 2: classifies decoded parameters (RFC 6749 §4.1.2 / §4.1.2.1) with `code_param` as
/// the code's name.
pub fn classify(pairs: &[(String, String)], code_param: &str) -> Result<Callback, Error> {
    let mut cb = Callback::default();
    let mut code = None;
    for (name, value) in pairs {
        let slot = match name.as_str() {
            n if n == code_param => &mut code,
            "error" => &mut cb.error,
            "error_description" => &mut cb.error_description,
            "error_uri" => &mut cb.error_uri,
            "state" => &mut cb.state,
            "iss" => &mut cb.iss,
            _ => continue,
        };
        *slot = Some(value.as_str().to_owned());
    }
    match (code, &cb.error) {
        (Some(_), Some(_)) => Err(malformed("the callback carries both `code` and `error`")),
        (Some(c), None) if c.is_empty() => Err(err(
            ErrorCode::CodeMissing,
            "the callback's `code` is empty (RFC 6749 §4.1.2)",
        )),
        (None, None) if cb.state.is_none() => Err(err(
            ErrorCode::CodeMissing,
            "the callback has neither `code`, `error` nor `state` (RFC 6749 §4.1.2)",
        )),
        (code, _) => {
            cb.code = code.map(AuthorizationCode::new);
            Ok(cb)
        }
    }
}

/// Steps 1 and 2: [`parse_params`], then [`classify`] with `code_param`.
pub fn parse_callback(input: &str, code_param: &str) -> Result<Callback, Error> {
    classify(&parse_params(input)?, code_param)
}

/// Step 3: validation against the stored transaction — `state` present and equal in constant
/// time (RFC 6749 §10.12, RFC 9700 §4.7.1); `iss` exact or required (RFC 9207 §2.4, on error
/// responses too); then `error` → `access_denied` / `authorization_error` with the provider's
/// words, `state` alone (WeChat's refusal) → `access_denied`. Returns the code.
pub fn validate(cb: Callback, expected: &Expected<'_>) -> Result<AuthorizationCode, Error> {
    let Some(state) = &cb.state else {
        return Err(err(ErrorCode::StateMissing, STATE_MISSING));
    };
    if !ct_eq_bytes(state.as_bytes(), expected.state.as_bytes()) {
        return Err(err(ErrorCode::StateMismatch, STATE_MISMATCH));
    }
    match (expected.issuer, cb.iss.as_deref()) {
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
    match (cb.code, cb.error) {
        (Some(code), _) => Ok(code),
        (None, Some(error)) => {
            let error = OAuthErrorCode::parse(&error);
            let e = if error == OAuthErrorCode::AccessDenied {
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
            Err(e.with_provider_error(ProviderError {
                error,
                error_description: cb.error_description,
                error_uri: cb.error_uri,
            }))
        }
        (None, None) => Err(err(
            ErrorCode::AccessDenied,
            "the user declined: the callback has `state` but no `code` and no `error`",
        )),
    }
}

/// The whole browser-side check of a callback `url` after the transaction for its `state` was
/// taken out of storage (single use: gone whatever this returns). A syntax error outranks the
/// storage outcome; then a missing transaction is `state_missing` (no `state`),
/// `state_mismatch` (this tab was waiting for another state, RFC 6749 §10.12) or
/// `transaction_missing` (replayed, other tab, never started); an unreadable one (or one with
/// an empty `state`) `transaction_missing`, an old one `transaction_expired`; then
/// [`validate`] with the transaction's code parameter name.
pub fn verify(
    url: &str,
    stored: Stored,
    expected: &Expected<'_>,
) -> Result<AuthorizationCode, Error> {
    let pairs = parse_params(url)?;
    let parsed = classify(&pairs, "code")?;
    match stored {
        // A stored `state` is never empty (64 hex characters); an empty one is a broken entry.
        Stored::Found if !expected.state.is_empty() => {}
        Stored::Found | Stored::Unreadable => {
            return Err(err(ErrorCode::TransactionMissing, TRANSACTION_UNREADABLE));
        }
        Stored::Missing { .. } if parsed.state.is_none() => {
            return Err(err(ErrorCode::StateMissing, STATE_MISSING));
        }
        Stored::Missing { others: true } => {
            return Err(err(ErrorCode::StateMismatch, STATE_MISMATCH));
        }
        Stored::Missing { others: false } => {
            return Err(err(
                ErrorCode::TransactionMissing,
                "no sign-in is pending for this callback (already used, expired, or started in another tab)",
            ));
        }
        Stored::Expired => {
            return Err(err(
                ErrorCode::TransactionExpired,
                "the sign-in took longer than 10 minutes; start a new sign-in",
            ));
        }
    }
    let parsed = if expected.code_param == "code" {
        parsed
    } else {
        classify(&pairs, expected.code_param)?
    };
    validate(parsed, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<Callback, Error> {
        parse_callback(input, "code")
    }

    fn code_of<T: core::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
        match r {
            Ok(other) => panic!("expected an error, got {other:?}"),
            Err(e) => e.code(),
        }
    }

    fn expect(issuer: Option<&str>, require_iss: bool) -> Expected<'_> {
        Expected {
            state: "s1",
            issuer,
            require_iss,
            code_param: "code",
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
            let cb = parse(input).expect(input);
            assert_eq!(cb.code.as_ref().map(|c| c.secret()), Some("abc"), "{input}");
            assert_eq!(cb.error, None, "{input}");
            assert_eq!(cb.state.as_deref(), Some("s1"), "{input}");
            assert_eq!(cb.iss.as_deref(), Some("https://as.example"), "{input}");
        }
    }

    #[test]
    fn rfc6749_appendix_b_plus_and_percent_decoding() {
        let cb = parse("?code=a%2Bb+c&state=s1").expect("parses");
        assert_eq!(cb.code.as_ref().map(|c| c.secret()), Some("a+b c"));
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
        let cb = parse(
            "?error=access_denied&error_description=User+said+no&error_uri=https%3A%2F%2Fx&state=s1",
        )
        .expect("parses");
        assert!(cb.code.is_none());
        assert_eq!(cb.error.as_deref(), Some("access_denied"));
        assert_eq!(cb.error_description.as_deref(), Some("User said no"));
        assert_eq!(cb.error_uri.as_deref(), Some("https://x"));
        assert_eq!(cb.state.as_deref(), Some("s1"));
        assert_eq!(cb.iss, None);
        let e = validate(cb, &expect(None, false)).expect_err("error");
        let pe = e.provider_error().expect("provider error");
        assert_eq!(pe.error, OAuthErrorCode::AccessDenied);
        assert_eq!(pe.error_description.as_deref(), Some("User said no"));
        assert_eq!(pe.error_uri.as_deref(), Some("https://x"));
    }

    #[test]
    fn rfc6749_s4_1_2_1_xss_in_error_description_kept_as_plain_text() {
        let r = parse(
            "?error=server_error&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=s1",
        )
        .expect("parses");
        let e = validate(r, &expect(None, false)).expect_err("error");
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
        assert!(r.code.is_none() && r.error.is_none());
        assert_eq!(r.state.as_deref(), Some("s1"));
        let e = validate(r, &expect(None, false)).expect_err("denied");
        assert_eq!(e.code(), ErrorCode::AccessDenied);
        assert_eq!(e.class(), crate::ErrorClass::Reauthenticate);
        // Denied with a wrong state is a state mismatch first.
        let r = parse("?state=other").expect("parses");
        let e = validate(r, &expect(None, false)).expect_err("mismatch");
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

    /// Oversized input is a typed error, not a crash.
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

    /// RFC 6749 §4.1.2 `code`, under DingTalk's name `authCode` (docs/PROVIDERS.md).
    #[test]
    fn dingtalk_code_param() {
        let cb = parse_callback("?authCode=xyz&state=s1", "authCode").expect("parses");
        assert_eq!(cb.code.as_ref().map(|c| c.secret()), Some("xyz"));
        // Through `verify`, with the transaction's code parameter name.
        let exp = Expected {
            code_param: "authCode",
            ..expect(None, false)
        };
        let code = verify("/cb?authCode=xyz&state=s1", Stored::Found, &exp).expect("valid");
        assert_eq!(code.secret(), "xyz");
        // `code` under its standard name is not DingTalk's code.
        assert_eq!(
            code_of(verify("/cb?code=xyz&state=s1", Stored::Found, &exp)),
            ErrorCode::AccessDenied
        );
    }

    #[test]
    fn rfc6749_s10_12_state_validation() {
        let ok =
            validate(parse("?code=c&state=s1").expect("p"), &expect(None, false)).expect("valid");
        assert_eq!(ok.secret(), "c");
        for (input, want) in [
            ("?code=c", ErrorCode::StateMissing),
            ("?code=c&state=s2", ErrorCode::StateMismatch),
            ("?code=c&state=", ErrorCode::StateMismatch),
            ("?code=c&state=s1x", ErrorCode::StateMismatch),
            ("?error=access_denied", ErrorCode::StateMissing),
            ("?error=access_denied&state=bad", ErrorCode::StateMismatch),
        ] {
            let r = parse(input).expect("parses");
            let e = validate(r, &expect(None, false)).expect_err(input);
            assert_eq!(e.code(), want, "{input}");
        }
    }

    #[test]
    fn rfc9207_s2_4_iss_checks() {
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
            let got = validate(r, &expect(issuer, *require))
                .map(|_| ())
                .map_err(|e| e.code());
            assert_eq!(&got, want, "{input} require_iss={require}");
        }
        // iss present but nothing to compare against and not required: accepted.
        let r = parse("?code=c&state=s1&iss=anything").expect("parses");
        assert!(validate(r, &expect(None, false)).is_ok());
        // Promised but not configured: a configuration error, not a silent pass.
        let r = parse("?code=c&state=s1&iss=x").expect("parses");
        let e = validate(r, &expect(None, true)).expect_err("config");
        assert_eq!(e.code(), ErrorCode::Configuration);
    }

    #[test]
    fn rfc6749_s4_1_2_1_error_codes_map() {
        let r = parse("?error=access_denied&state=s1").expect("parses");
        let e = validate(r, &expect(None, false)).expect_err("error");
        assert_eq!(e.code(), ErrorCode::AccessDenied);
        assert_eq!(
            e.provider_error().map(|p| p.error.clone()),
            Some(OAuthErrorCode::AccessDenied)
        );
        let r = parse("?error=login_required&state=s1").expect("parses");
        let e = validate(r, &expect(None, false)).expect_err("error");
        assert_eq!(e.code(), ErrorCode::AuthorizationError);
        assert_eq!(
            e.provider_error().map(|p| p.error.clone()),
            Some(OAuthErrorCode::InteractionRequired("login_required".into()))
        );
        // Any other code, NULs and all, reaches the caller verbatim.
        let r = parse("?error=x%00y&error_description=a%00b%0Ac&state=s1").expect("parses");
        let e = validate(r, &expect(None, false)).expect_err("error");
        assert_eq!(e.code(), ErrorCode::AuthorizationError);
        let pe = e.provider_error().expect("provider error");
        assert_eq!(pe.error.as_str(), "x\0y");
        assert_eq!(pe.error_description.as_deref(), Some("a\0b\nc"));
    }

    /// RFC 6749 §10.5: the authorization code never appears in Debug or errors.
    #[test]
    fn code_is_redacted_in_debug_and_errors() {
        let r = parse("?code=KNOWN_CODE_VALUE&state=s1").expect("parses");
        assert!(!format!("{r:?}").contains("KNOWN_CODE_VALUE"));
        let ok = validate(r, &expect(None, false)).expect("valid");
        assert!(!format!("{ok:?}").contains("KNOWN_CODE_VALUE"));
        let r = parse("?code=KNOWN_CODE_VALUE&state=WRONG_STATE").expect("parses");
        let e = validate(r, &expect(None, false)).expect_err("mismatch");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("KNOWN_CODE_VALUE") && !text.contains("WRONG_STATE"));
    }

    /// `verify`: a syntax error outranks the storage outcome, then the storage outcome decides,
    /// then `validate` (RFC 6749 §10.12: state bound to this browser, single use).
    #[test]
    fn rfc6749_s10_12_verify_storage_outcomes() {
        let url = "/cb?code=a&state=s1";
        let exp = expect(None, false);
        let v = |url: &str, stored| verify(url, stored, &exp).map(|c| c.into_secret());
        assert_eq!(v(url, Stored::Found).ok().as_deref(), Some("a"));
        for (stored, want) in [
            (
                Stored::Missing { others: false },
                ErrorCode::TransactionMissing,
            ),
            (Stored::Missing { others: true }, ErrorCode::StateMismatch),
            (Stored::Unreadable, ErrorCode::TransactionMissing),
            (Stored::Expired, ErrorCode::TransactionExpired),
        ] {
            assert_eq!(code_of(v(url, stored)), want, "{stored:?}");
            // Syntax first, whatever storage held.
            assert_eq!(
                code_of(v("/cb?code=a&code=b&state=s1", stored)),
                ErrorCode::DuplicateParameter
            );
            assert_eq!(
                code_of(v("/cb?code=a&state=s1&token=t", stored)),
                ErrorCode::TokenInCallback
            );
        }
        // No state in the callback: `state_missing`, whatever this tab had pending.
        for others in [false, true] {
            assert_eq!(
                code_of(v("/cb?code=a", Stored::Missing { others })),
                ErrorCode::StateMissing
            );
        }
        // A stored entry with an empty `state`, met by `state=`: empty strings never match.
        let empty = Expected { state: "", ..exp };
        assert_eq!(
            code_of(verify("/cb?code=a&state=", Stored::Found, &empty)),
            ErrorCode::TransactionMissing
        );
    }

    /// Every outcome of a catalogue of callbacks, for state `s1` and three expectations:
    /// issuer `https://as.example` required, that issuer not required, no issuer.
    #[test]
    fn callback_catalogue_outcomes() {
        let long = ["code=a&state=s1&x=", &"a".repeat(MAX_CALLBACK_LEN)].concat();
        let many: String = (0..MAX_CALLBACK_PARAMS)
            .map(|i| ["p", &i.to_string(), "=1&"].concat())
            .collect();
        let too_many = [many.as_str(), "code=a&state=s1"].concat();
        let all = |s: &'static str| [s, s, s];
        let cases: Vec<(&str, [&str; 3])> = vec![
            (
                "code=abc&state=s1&iss=https%3A%2F%2Fas.example",
                all("ok:abc"),
            ),
            (
                "https://app/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example#frag",
                all("ok:abc"),
            ),
            (
                "/cb?code=a%20b+c&state=s1&iss=https://as.example",
                all("ok:a b c"),
            ),
            (
                "?code=a&state=s2&iss=https%3A%2F%2Fas.example",
                all("state_mismatch"),
            ),
            ("?code=a&iss=https%3A%2F%2Fas.example", all("state_missing")),
            ("?code=a&state=s1", ["iss_missing", "ok:a", "ok:a"]),
            (
                "?code=a&state=s1&iss=https%3A%2F%2Fevil.example",
                ["iss_mismatch", "iss_mismatch", "ok:a"],
            ),
            (
                "?error=access_denied&state=s1&iss=https%3A%2F%2Fevil.example",
                ["iss_mismatch", "iss_mismatch", "access_denied"],
            ),
            (
                "?error=access_denied&error_description=%3Cb%3Ex&state=s1&iss=https%3A%2F%2Fas.example",
                all("access_denied"),
            ),
            (
                "?error=server_error&state=s1&iss=https%3A%2F%2Fas.example",
                all("authorization_error"),
            ),
            (
                "?error=login_required&state=s1&iss=https%3A%2F%2Fas.example",
                all("authorization_error"),
            ),
            (
                "?state=s1&iss=https%3A%2F%2Fas.example",
                all("access_denied"),
            ),
            (
                "?code=&state=s1&iss=https%3A%2F%2Fas.example",
                all("code_missing"),
            ),
            ("?iss=https%3A%2F%2Fas.example", all("code_missing")),
            ("", all("code_missing")),
            ("?code=a&error=x&state=s1", all("malformed_callback")),
            ("?code=a&code=b&state=s1", all("duplicate_parameter")),
            ("?c%6Fde=a&code=b&state=s1", all("duplicate_parameter")),
            ("?code=a&state=s1&state=s1", all("duplicate_parameter")),
            ("?code=a&state=s1&access_token=x", all("token_in_callback")),
            ("?code=a&state=s1&id_token=x", all("token_in_callback")),
            ("?code=a&state=s1&token=x", all("token_in_callback")),
            ("?code=%FF&state=s1", all("malformed_callback")),
            (
                "?code=%C3%A9&state=s1&iss=https%3A%2F%2Fas.example",
                all("ok:\u{e9}"),
            ),
            // Not an escape: kept as it is.
            (
                "?code=%zz&state=s1&iss=https%3A%2F%2Fas.example",
                all("ok:%zz"),
            ),
            (
                "?code=a&&state=s1&=x&iss=https%3A%2F%2Fas.example",
                all("ok:a"),
            ),
            (
                "?code=a=b&state=s1&iss=https%3A%2F%2Fas.example",
                all("ok:a=b"),
            ),
            (&long, all("malformed_callback")),
            (&too_many, all("malformed_callback")),
            (&many, all("code_missing")),
        ];
        let configs = [
            (Some("https://as.example"), true),
            (Some("https://as.example"), false),
            (None, false),
        ];
        for (input, wants) in &cases {
            for ((issuer, require), want) in configs.iter().zip(wants) {
                let got = match verify(input, Stored::Found, &expect(*issuer, *require)) {
                    Ok(code) => ["ok:", code.secret()].concat(),
                    Err(e) => e.code().as_str().to_owned(),
                };
                let input = input.get(..80).unwrap_or(input);
                assert_eq!(&got, want, "{input} {issuer:?} {require}");
            }
        }
    }
}
