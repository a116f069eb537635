//! The authorization response (callback) checks of the browser half (RFC 6749 §4.1.2,
//! §4.1.2.1, §10.12; RFC 9207 §2.4; RFC 9700 §2.1.2, §4.7.1; REFERENCE §2.3–§2.6, §2.9).
//!
//! The same rules as authsplit-core's `callback` module (the backend's), written without
//! `std` and `core::fmt` for the module's size; the wasm tests check both against each other
//! on the REFERENCE §4 inputs. Decoding is strict `application/x-www-form-urlencoded` (`+` is
//! a space; a percent-escape decoding to invalid UTF-8 is `malformed_callback`). Messages are
//! constants naming parameters, never their values.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;

/// Longest callback input (URL or query) accepted, in bytes.
pub const MAX_CALLBACK_LEN: usize = 16 * 1024;
/// Most parameters accepted in one callback.
pub const MAX_CALLBACK_PARAMS: usize = 100;
/// Longest `returnTo` accepted by [`is_safe_return_to`], in bytes.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// A syntactically valid callback (RFC 6749 §4.1.2 / §4.1.2.1), borrowing the decoded
/// parameters of [`parse_params`].
#[derive(Default)]
pub struct Callback<'a> {
    /// The authorization code (non-empty), if sent.
    pub code: Option<&'a str>,
    /// The provider's `error`, if sent (never together with `code`).
    pub error: Option<&'a str>,
    /// `error_description` (plain text).
    pub error_description: Option<&'a str>,
    /// `state`, if sent.
    pub state: Option<&'a str>,
    /// `iss` (RFC 9207), if sent.
    pub iss: Option<&'a str>,
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

const fn malformed(message: &'static str) -> Error {
    Error::new("malformed_callback", message)
}

/// The query of a full URL, a path, `?query` or a bare query; the fragment is dropped.
/// (Byte scans: the module stays free of `str` pattern searchers.)
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
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_encoding::percent_decode(&plus).collect())
        .map_err(|_| malformed("a callback parameter is not valid UTF-8 after percent-decoding"))
}

/// The decoded parameters of a callback, refusing what is wrong whatever the provider:
/// too long, too many, undecodable, tokens in the front channel (RFC 9700 §2.1.2), a
/// parameter given twice (RFC 6749 §3.1).
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
    if pairs
        .iter()
        .any(|(n, _)| matches!(n.as_str(), "access_token" | "id_token" | "token"))
    {
        return Err(Error::new(
            "token_in_callback",
            "the callback carries access_token, id_token or token (RFC 9700 §2.1.2)",
        ));
    }
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs.iter().take(i).any(|(n, _)| n == name) {
            return Err(Error::new(
                "duplicate_parameter",
                "a callback parameter appears more than once (RFC 6749 §3.1)",
            ));
        }
    }
    Ok(pairs)
}

/// Classifies decoded parameters (RFC 6749 §4.1.2 / §4.1.2.1) with `code_param` as the code's
/// name: `code` and `error` together are ambiguous; an empty `code`, or neither `code`,
/// `error` nor `state`, is `code_missing`.
pub fn classify<'a>(
    pairs: &'a [(String, String)],
    code_param: &str,
) -> Result<Callback<'a>, Error> {
    let mut cb = Callback::default();
    for (name, value) in pairs {
        let slot = match name.as_str() {
            n if n == code_param => &mut cb.code,
            "error" => &mut cb.error,
            "error_description" => &mut cb.error_description,
            "state" => &mut cb.state,
            "iss" => &mut cb.iss,
            _ => continue,
        };
        *slot = Some(value.as_str());
    }
    match (&cb.code, &cb.error) {
        (Some(_), Some(_)) => Err(malformed("the callback carries both `code` and `error`")),
        (Some(""), None) => Err(Error::new(
            "code_missing",
            "the callback's `code` is empty (RFC 6749 §4.1.2)",
        )),
        (None, None) if cb.state.is_none() => Err(Error::new(
            "code_missing",
            "the callback has neither `code`, `error` nor `state` (RFC 6749 §4.1.2)",
        )),
        _ => Ok(cb),
    }
}

/// Validation against the stored transaction: `state` present and equal in constant time
/// (RFC 6749 §10.12, RFC 9700 §4.7.1); `iss` exact or required (RFC 9207 §2.4, on error
/// responses too); then `error` → `access_denied` / `authorization_error` with the provider's
/// words, `state` alone (WeChat's refusal) → `access_denied`. Returns the code.
pub fn validate(cb: &Callback<'_>, expected: &Expected<'_>) -> Result<String, Error> {
    let Some(state) = cb.state else {
        return Err(Error::new(
            "state_missing",
            "the callback has no `state` (RFC 6749 §10.12)",
        ));
    };
    let equal: bool =
        subtle::ConstantTimeEq::ct_eq(state.as_bytes(), expected.state.as_bytes()).into();
    if !equal {
        return Err(Error::new(
            "state_mismatch",
            "the callback's `state` differs from the one sent (RFC 6749 §10.12)",
        ));
    }
    match (expected.issuer, cb.iss) {
        (Some(want), Some(got)) if want != got => {
            return Err(Error::new(
                "iss_mismatch",
                "the callback's `iss` differs from the expected issuer (RFC 9207 §2.4)",
            ));
        }
        (_, None) if expected.require_iss => {
            return Err(Error::new(
                "iss_missing",
                "the callback has no `iss` though the server advertises it (RFC 9207 §2.4)",
            ));
        }
        (None, _) if expected.require_iss => {
            return Err(Error::new(
                "configuration",
                "require_iss is set but no expected issuer is configured (RFC 9207 §2.4)",
            ));
        }
        _ => {}
    }
    match (cb.code, cb.error) {
        (Some(code), _) => Ok(code.into()),
        (None, Some(error)) => {
            let mut e = if error == "access_denied" {
                Error::new(
                    "access_denied",
                    "the user or the server denied the request (RFC 6749 §4.1.2.1)",
                )
            } else {
                Error::new(
                    "authorization_error",
                    "the authorization server returned an error (RFC 6749 §4.1.2.1)",
                )
            };
            e.error = Some(error.into());
            e.error_description = cb.error_description.map(String::from);
            Err(e)
        }
        (None, None) => Err(Error::new(
            "access_denied",
            "the user declined: the callback has `state` but no `code` and no `error`",
        )),
    }
}

/// The whole browser-side check of a callback `url` after the transaction for its `state` was
/// taken out of storage (single use: gone whatever this returns). A syntax error outranks the
/// storage outcome; then a missing transaction is `state_missing` (no `state`),
/// `state_mismatch` (this tab was waiting for another state, RFC 6749 §10.12) or
/// `transaction_missing` (replayed, other tab, never started); an unreadable one
/// `transaction_missing`, an old one `transaction_expired`; then [`validate`].
pub fn verify(url: &str, stored: Stored, expected: &Expected<'_>) -> Result<String, Error> {
    let pairs = parse_params(url)?;
    let parsed = classify(&pairs, "code")?;
    match stored {
        // A stored `state` is never empty (64 hex characters); an empty one is a broken entry.
        Stored::Found if !expected.state.is_empty() => {}
        Stored::Found => {
            return Err(Error::new(
                "transaction_missing",
                "the stored sign-in transaction is unreadable; start a new sign-in",
            ));
        }
        Stored::Missing { .. } if parsed.state.is_none() => {
            return Err(Error::new(
                "state_missing",
                "the callback has no `state` (RFC 6749 §10.12)",
            ));
        }
        Stored::Missing { others: true } => {
            return Err(Error::new(
                "state_mismatch",
                "the callback's `state` differs from the one sent (RFC 6749 §10.12)",
            ));
        }
        Stored::Missing { others: false } => {
            return Err(Error::new(
                "transaction_missing",
                "no sign-in is pending for this callback (already used, expired, or started in another tab)",
            ));
        }
        Stored::Unreadable => {
            return Err(Error::new(
                "transaction_missing",
                "the stored sign-in transaction is unreadable; start a new sign-in",
            ));
        }
        Stored::Expired => {
            return Err(Error::new(
                "transaction_expired",
                "the sign-in took longer than 10 minutes; start a new sign-in",
            ));
        }
    }
    let parsed = if expected.code_param == "code" {
        parsed
    } else {
        classify(&pairs, expected.code_param)?
    };
    validate(&parsed, expected)
}

/// Whether `return_to` is a safe same-origin path (REFERENCE §2.9): starts with exactly one
/// `/`, no `//`, no `\`, no control characters or whitespace — also after up to three rounds
/// of percent-decoding (`%2F%2F`, `%09`, `%252F…`); invalid UTF-8 or more nesting is refused.
/// At most [`MAX_RETURN_TO_LEN`] bytes.
pub fn is_safe_return_to(return_to: &str) -> bool {
    if return_to.len() > MAX_RETURN_TO_LEN {
        return false;
    }
    let mut current = String::from(return_to);
    for _ in 0..4 {
        if !is_safe_path_form(&current) {
            return false;
        }
        let Ok(decoded) =
            String::from_utf8(percent_encoding::percent_decode(current.as_bytes()).collect())
        else {
            return false;
        };
        if decoded == current {
            return true;
        }
        current = decoded;
    }
    // Still changing after four rounds: absurdly nested encoding, refuse.
    false
}

fn is_safe_path_form(s: &str) -> bool {
    s.starts_with('/')
        && !s.as_bytes().windows(2).any(|w| w == b"//")
        && !s.as_bytes().contains(&b'\\')
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}
