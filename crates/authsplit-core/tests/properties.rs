//! Property tests (proptest) for the parsers and generators of authsplit-core — for the base
//! (`callback`, `return_to`, `pkce`, `random`), the very code the browser half ships, and for
//! the backend's token parser.
//!
//! - Any input to `callback::verify` (and its steps), `parse_token_response`,
//!   `parse_error_body`, `redact_snippet` and `is_safe_return_to` gives `Ok`/`Err` (or a value),
//!   never a panic; a callback is accepted only with the expected `state` and `iss`.
//! - Every verifier made from random bytes matches the RFC 7636 §4.1 grammar and has 43 chars;
//!   every `state` / `nonce` is 64 lowercase hex characters.
//! - A token planted in a response body never shows up in the snippet or in the error's
//!   `Display` / `Debug`.

use authsplit_core::callback::{Expected, Stored, parse_callback, validate, verify};
use authsplit_core::pkce::{PkceCodeChallenge, PkceCodeVerifier};
use authsplit_core::random::{Nonce, State, hex_token, storage_key};
use authsplit_core::return_to::is_safe_return_to;
use authsplit_core::token::{
    BodyFormat, ErrorStyle, ResponseRules, SNIPPET_MAX_CHARS, parse_error_body,
    parse_token_response, redact_snippet,
};
use authsplit_core::{ErrorCode, authorize::AuthorizeTemplate};
use proptest::prelude::*;

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// Response rules over the whole vocabulary: every body format, every error style, each
/// tolerance on or off.
fn options() -> impl Strategy<Value = ResponseRules> {
    (
        0..BodyFormat::ALL.len(),
        0..ErrorStyle::ALL.len(),
        any::<[bool; 2]>(),
    )
        .prop_map(|(f, e, b)| {
            let mut o = ResponseRules::lenient();
            o.format = BodyFormat::ALL[f];
            o.errors = ErrorStyle::ALL[e];
            o.expires_in_as_string = b[0];
            o.missing_token_type_is_bearer = b[1];
            o
        })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("text/plain".to_owned())),
        Just(Some("text/html".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        any::<String>().prop_map(Some),
    ]
}

/// A token-like secret: ≥20 chars of base64/base64url/JWT characters.
fn planted_token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/-]{20,64}"
}

/// Keys that must be redacted, in several spellings.
fn secret_key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "client_secret",
        "Access_Token",
        "session_key",
        "x_custom_token",
    ])
}

/// JSON-ish filler members that are not secrets.
fn filler() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z]{1,10}", "[ -~]{0,12}"), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // ---------------------------------------------------------------- never panic

    #[test]
    fn parse_callback_never_panics(input in any::<String>(), stored in 0u8..6) {
        let _ = parse_callback(&input, "code");
        let stored = match stored {
            0 => Stored::Missing { others: false },
            1 => Stored::Missing { others: true },
            2 => Stored::Unreadable,
            3 => Stored::Expired,
            _ => Stored::Found,
        };
        let exp = Expected { state: "s1", issuer: Some("https://as"), require_iss: false, code_param: "code" };
        let _ = verify(&input, stored, &exp);
    }

    #[test]
    fn parse_callback_structured_never_panics(
        prefix in prop::sample::select(vec!["", "?", "https://app.example/cb?", "/cb?", "x://"]),
        pairs in prop::collection::vec(
            (
                prop::sample::select(vec!["code", "state", "iss", "error", "error_description", "token", "x", ""]),
                "[ -~]{0,16}",
            ),
            0..8,
        ),
        fragment in prop::option::of("[ -~]{0,16}"),
    ) {
        let mut input = prefix.to_owned();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 { input.push('&'); }
            input.push_str(k);
            input.push('=');
            input.push_str(v);
        }
        if let Some(f) = fragment { input.push('#'); input.push_str(&f); }
        if let Ok(r) = parse_callback(&input, "code") {
            // Never both a code and an error; a code is never empty.
            prop_assert!(r.code.is_none() || r.error.is_none());
            if let Some(code) = &r.code {
                prop_assert!(!code.secret().is_empty());
            }
            for require_iss in [false, true] {
                let exp = Expected { state: "s1", issuer: Some("https://as"), require_iss, code_param: "code" };
                // Accepted only with the expected state and, when one came or was promised,
                // the expected issuer (RFC 6749 §10.12, RFC 9207 §2.4).
                if let Ok(code) = validate(r.clone(), &exp) {
                    prop_assert_eq!(r.state.as_deref(), Some("s1"));
                    prop_assert!(r.iss.as_deref().is_none_or(|i| i == "https://as"));
                    prop_assert!(!require_iss || r.iss.is_some());
                    prop_assert_eq!(Some(code.secret()), r.code.as_ref().map(|c| c.secret()));
                }
            }
        }
    }

    #[test]
    fn parse_token_response_never_panics(
        status in any::<u16>(),
        ct in content_type(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        opts in options(),
        now in any::<u64>(),
    ) {
        match parse_token_response(status, ct.as_deref(), &body, &opts, now) {
            Ok(t) => {
                prop_assert_eq!(status, 200);
                prop_assert!(!t.access_token.secret().is_empty());
                prop_assert_eq!(t.token_type.as_str(), "bearer");
            }
            Err(e) => {
                // Every error from a response says what came back.
                let info = e.response().ok_or_else(|| TestCaseError::fail("no response info"))?;
                prop_assert_eq!(info.status, status);
                prop_assert!(info.snippet.chars().count() <= SNIPPET_MAX_CHARS);
            }
        }
        let _ = parse_error_body(&body);
    }

    #[test]
    fn parse_token_response_json_shapes_never_panic(
        at in prop_oneof![Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from), "[ -~]{0,8}".prop_map(serde_json::Value::from)],
        tt in prop_oneof![Just(serde_json::Value::Null), "[a-zA-Z]{0,8}".prop_map(serde_json::Value::from), any::<bool>().prop_map(serde_json::Value::from)],
        ei in prop_oneof![Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from), any::<f64>().prop_map(serde_json::Value::from), "[0-9 -]{0,8}".prop_map(serde_json::Value::from)],
        err in prop::option::of(prop_oneof!["[a-z_]{0,12}".prop_map(serde_json::Value::from), any::<i32>().prop_map(serde_json::Value::from)]),
        errcode in prop::option::of(any::<i32>()),
        status in prop::sample::select(vec![200u16, 400, 401, 429, 500, 503, 302]),
        opts in options(),
    ) {
        let mut m = serde_json::Map::new();
        m.insert("access_token".into(), at);
        m.insert("token_type".into(), tt);
        m.insert("expires_in".into(), ei);
        if let Some(e) = err { m.insert("error".into(), e); }
        if let Some(c) = errcode { m.insert("errcode".into(), c.into()); }
        let body = serde_json::to_vec(&serde_json::Value::Object(m)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = parse_token_response(status, Some("application/json"), &body, &opts, 0);
    }

    #[test]
    fn redact_snippet_bounded_and_clean(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let s = redact_snippet(&body);
        prop_assert!(s.chars().count() <= SNIPPET_MAX_CHARS);
        prop_assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn redact_snippet_any_string(body in any::<String>()) {
        let s = redact_snippet(body.as_bytes());
        prop_assert!(s.chars().count() <= SNIPPET_MAX_CHARS);
    }

    #[test]
    fn is_safe_return_to_never_panics_and_is_consistent(input in any::<String>()) {
        if is_safe_return_to(&input) {
            prop_assert!(input.starts_with('/'));
            prop_assert!(!input.contains("//"));
            prop_assert!(!input.contains('\\'));
            prop_assert!(!input.chars().any(|c| c.is_control() || c.is_whitespace()));
        }
    }

    #[test]
    fn is_safe_return_to_path_like(input in "/[a-zA-Z0-9/%\\\\:.?#&=@ \t-]{0,24}") {
        if is_safe_return_to(&input) {
            let decoded = percent_decode_all(&input);
            prop_assert!(!decoded.contains("//"), "{}", decoded);
            prop_assert!(!decoded.contains('\\'), "{}", decoded);
            prop_assert!(!decoded.chars().any(char::is_whitespace), "{}", decoded);
        }
    }

    #[test]
    fn build_url_never_panics_and_round_trips(
        endpoint in prop_oneof![Just("https://as.example/authorize".to_owned()), Just("http://127.0.0.1:3000/auth?x=1".to_owned()), any::<String>()],
        client_id in any::<String>(),
        redirect_uri in any::<String>(),
        scopes in prop::collection::vec(any::<String>(), 0..3),
        extra in prop::collection::vec(("[a-z_]{0,8}", any::<String>()), 0..3),
    ) {
        let mut t = AuthorizeTemplate::new(endpoint, client_id.clone(), redirect_uri.clone());
        t.scopes = scopes;
        t.extra_params = extra;
        let state = State::parse("st").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let nonce = Nonce::parse("n").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let v = PkceCodeVerifier::generate().map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Ok(url) = t.build_url(&state, Some(&v.challenge()), Some(&nonce)) {
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            prop_assert_eq!(get("client_id"), Some(client_id));
            prop_assert_eq!(get("redirect_uri"), Some(redirect_uri));
            prop_assert_eq!(get("state"), Some("st".to_owned()));
            prop_assert_eq!(get("code_challenge_method"), Some("S256".to_owned()));
            prop_assert!(!url.contains(v.secret()));
        }
    }

    // ---------------------------------------------------------------- RFC 7636 grammar

    #[test]
    fn rfc7636_s4_1_generated_verifier_matches_grammar(_i in 0u8..4) {
        let v = PkceCodeVerifier::generate().map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_verifier(&v)?;
    }

    #[test]
    fn rfc7636_s4_1_verifier_from_any_bytes_matches_grammar(bytes in any::<[u8; 32]>()) {
        check_verifier(&PkceCodeVerifier::from_random_bytes(&bytes))?;
    }

    #[test]
    fn rfc7636_s4_1_parse_accepts_exactly_the_grammar(input in "[A-Za-z0-9._~+/= %-]{0,140}") {
        let grammar = (43..=128).contains(&input.len()) && input.chars().all(is_unreserved);
        match PkceCodeVerifier::parse(&input) {
            Ok(_) => prop_assert!(grammar),
            Err(e) => {
                prop_assert!(!grammar);
                prop_assert_eq!(e.code(), ErrorCode::InvalidVerifier);
            }
        }
    }

    #[test]
    fn rfc6749_s10_12_state_from_any_bytes_is_64_hex(bytes in any::<[u8; 32]>()) {
        let s = hex_token(&bytes);
        prop_assert_eq!(s.len(), 64);
        prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        prop_assert!(State::parse(&s).is_ok() && Nonce::parse(&s).is_ok());
        // Distinct bytes, distinct tokens: the encoding loses nothing.
        let mut other = bytes;
        other[0] ^= 1;
        prop_assert_ne!(hex_token(&other), s.clone());
        let key = storage_key(&s);
        prop_assert_eq!(key.len(), "authsplit.tx.".len() + 32);
        prop_assert!(!key.contains(&s));
    }

    #[test]
    fn rfc7636_s4_1_parse_any_string(input in any::<String>()) {
        let _ = PkceCodeVerifier::parse(&input);
        let _ = PkceCodeChallenge::parse(&input);
        let _ = State::parse(&input);
    }

    // ---------------------------------------------------------------- no leaks

    #[test]
    fn snippet_never_contains_token_planted_in_json(
        token in planted_token(),
        key in secret_key(),
        before in filler(),
        after in filler(),
    ) {
        let mut m = serde_json::Map::new();
        for (k, v) in &before { m.insert(k.clone(), v.clone().into()); }
        m.insert(key.to_owned(), token.clone().into());
        for (k, v) in &after { m.insert(format!("z{k}"), v.clone().into()); }
        let body = serde_json::to_string(&serde_json::Value::Object(m)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let s = redact_snippet(body.as_bytes());
        prop_assert!(!s.contains(&token), "{} -> {}", body, s);
    }

    #[test]
    fn snippet_never_contains_short_secret_value_under_a_secret_key(
        secret in "SECRET[ -~]{2,20}",
        key in secret_key(),
        pretty in any::<bool>(),
    ) {
        let v = serde_json::json!({ "a": 1, key: secret.clone(), "token_type": "bearer" });
        let body = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let s = redact_snippet(body.as_bytes());
        prop_assert!(!s.contains(&secret), "{} -> {}", body, s);
        prop_assert!(!s.contains("SECRET"), "{} -> {}", body, s);
    }

    #[test]
    fn snippet_never_contains_token_planted_in_form_or_text(
        token in planted_token(),
        key in secret_key(),
        text in "[ -~]{0,40}",
        form in any::<bool>(),
    ) {
        let body = if form {
            let enc: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
            format!("scope=x&{key}={enc}&token_type=bearer")
        } else {
            format!("<html><body>{text} {token} {text}</body></html>")
        };
        let s = redact_snippet(body.as_bytes());
        prop_assert!(!s.contains(&token), "{} -> {}", body, s);
    }

    #[test]
    fn token_errors_never_contain_planted_token(
        token in planted_token(),
        status in prop::sample::select(vec![200u16, 400, 401, 429, 500, 503, 302]),
        tt in prop::sample::select(vec!["bearer", "mac", ""]),
        ct in content_type(),
        opts in options(),
    ) {
        let body = format!(r#"{{"access_token":"{}","refresh_token":"{}","token_type":"{tt}","error_description":"bad {}"}}"#,
            token, token, token);
        if let Err(e) = parse_token_response(status, ct.as_deref(), body.as_bytes(), &opts, 0) {
            let text = format!("{e} {e:?}");
            prop_assert!(!text.contains(&token), "{}", text);
        }
    }
}

/// RFC 7636 §4.1–§4.2: 43 unreserved characters that parse back, with a canonical S256
/// challenge that matches.
fn check_verifier(v: &PkceCodeVerifier) -> Result<(), TestCaseError> {
    prop_assert_eq!(v.secret().len(), 43);
    prop_assert!(v.secret().chars().all(is_unreserved));
    prop_assert!(PkceCodeVerifier::parse(v.secret()).is_ok());
    let c = v.challenge();
    prop_assert!(PkceCodeChallenge::parse(c.as_str()).is_ok());
    prop_assert!(c.matches(v));
    Ok(())
}

/// Percent-decodes until stable (at most 5 rounds).
fn percent_decode_all(s: &str) -> String {
    let mut cur = s.to_owned();
    for _ in 0..5 {
        let next = percent_encoding::percent_decode_str(&cur)
            .decode_utf8_lossy()
            .into_owned();
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}
