//! Fuzz target: callback parsing and validation, and the `returnTo` open-redirect guard
//! (core `callback::{parse_callback, validate_callback, is_safe_return_to}`).
//!
//! Input (text, invalid UTF-8 replaced): line 1 = the callback (URL or query); line 2 = the
//! expected `state` (default `s1`); line 3 = the expected issuer (empty = none; a leading `!`
//! also sets `require_iss`); line 4 = a `returnTo`. A leading `@` on line 1 selects DingTalk's
//! `authCode` parameter name.
//!
//! Invariants beyond "no panic":
//! - `validate_callback` succeeds only for a `Success` whose `state` equals the expected one and
//!   whose `iss` equals the expected issuer when one is set (RFC 6749 §10.12, RFC 9207 §2.4);
//! - the code never shows in `Debug` of a parse result nor in any error (REFERENCE §3.14);
//! - round trip: `code`/`state`/`iss` form-encoded into a callback parse back exactly;
//! - `is_safe_return_to(s)` ⇒ `s` starts with exactly one `/`, has no `\`, no `//`, no
//!   control or whitespace character, also after percent-decoding (REFERENCE §2.9).

#![no_main]

use authsplit_core::callback::{
    CallbackExpectations, CallbackResponse, MAX_CALLBACK_LEN, MAX_RETURN_TO_LEN, ParseOptions,
    is_safe_return_to, parse_callback, validate_callback,
};
use authsplit_core::random::State;
use libfuzzer_sys::fuzz_target;

fn check_return_to(s: &str) {
    if !is_safe_return_to(s) {
        return;
    }
    assert!(
        s.len() <= MAX_RETURN_TO_LEN,
        "accepted an overlong returnTo"
    );
    assert!(s.starts_with('/'), "accepted {s:?}: not a path");
    assert!(!s.starts_with("//"), "accepted {s:?}: protocol-relative");
    let mut forms = vec![s.to_owned()];
    // Every decoding round must be as clean as the raw form (REFERENCE §2.9: `/%09/evil`,
    // `/%2F%2Fevil`, `/%5Cevil`, double encodings).
    for _ in 0..3 {
        let last = forms.last().cloned().unwrap_or_default();
        let next = percent_decode_lossy(&last);
        if next == last {
            break;
        }
        forms.push(next);
    }
    for f in &forms {
        assert!(
            f.starts_with('/'),
            "accepted {s:?}: a decoded form {f:?} is not a path"
        );
        assert!(!f.contains("//"), "accepted {s:?}: `//` in {f:?}");
        assert!(!f.contains('\\'), "accepted {s:?}: backslash in {f:?}");
        assert!(
            !f.chars().any(|c| c.is_control() || c.is_whitespace()),
            "accepted {s:?}: control/whitespace in {f:?}"
        );
    }
}

/// Percent-decoding written independently of the code under test.
fn percent_decode_lossy(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `name=value` raw values of the code parameter in the input (for the leak check).
fn raw_codes<'a>(input: &'a str, param: &str) -> Vec<&'a str> {
    let q = input.split('#').next().unwrap_or("");
    let q = q.split_once('?').map_or(q, |(_, after)| after);
    q.split('&')
        .filter_map(|seg| seg.split_once('='))
        .filter(|(n, v)| {
            *n == param && v.len() >= 12 && v.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .map(|(_, v)| v)
        .collect()
}

fn form(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let (opts, callback) = match first.strip_prefix('@') {
        Some(rest) => (ParseOptions::with_code_param("authCode"), rest),
        None => (ParseOptions::default(), first),
    };
    let state_line = lines.next().unwrap_or("s1");
    let issuer_line = lines.next().unwrap_or("");
    let return_to = lines.next().unwrap_or("/");
    let (require_iss, issuer) = match issuer_line.strip_prefix('!') {
        Some(i) => (true, i),
        None => (false, issuer_line),
    };
    let issuer = (!issuer.is_empty()).then_some(issuer);
    let expected = State::parse(state_line).unwrap_or_else(|_| State::parse("s1").expect("s1"));

    // 1. Parse + validate.
    let parsed = parse_callback(callback, &opts);
    let distinctive = |code: &str, others: &[Option<&str>]| {
        code.len() >= 12
            && code.bytes().all(|b| b.is_ascii_alphanumeric())
            && !others.iter().flatten().any(|o| o.contains(code))
    };
    match &parsed {
        Err(e) => {
            // Parse errors are constant messages: no parameter value at all.
            let shown = format!("{e} {e:?}");
            for c in raw_codes(callback, &opts.code_param) {
                assert!(!shown.contains(c), "a code leaked into {shown}");
            }
        }
        Ok(r @ CallbackResponse::Success { code, state, iss }) => {
            if distinctive(code.secret(), &[state.as_deref(), iss.as_deref()]) {
                assert!(
                    !format!("{r:?}").contains(code.secret()),
                    "code in Debug: {r:?}"
                );
            }
        }
        Ok(_) => {}
    }
    if let Ok(r) = parsed {
        let snapshot = r.clone();
        let exp = CallbackExpectations {
            state: &expected,
            issuer,
            require_iss,
        };
        let result = validate_callback(r, &exp);
        if let CallbackResponse::Success { code, state, iss } = &snapshot
            && distinctive(code.secret(), &[state.as_deref(), iss.as_deref()])
        {
            let shown = match &result {
                Ok(ok) => format!("{ok:?}"),
                Err(e) => format!("{e}"),
            };
            assert!(!shown.contains(code.secret()), "code leaked into {shown}");
        }
        if result.is_ok() {
            let CallbackResponse::Success { code, state, iss } = snapshot else {
                panic!("validated a non-success callback");
            };
            assert_eq!(
                state.as_deref(),
                Some(expected.secret()),
                "state not checked"
            );
            assert!(!code.secret().is_empty());
            if let (Some(want), Some(got)) = (issuer, iss.as_deref()) {
                assert_eq!(want, got, "iss not checked");
            }
            if require_iss {
                assert_eq!(iss.as_deref(), issuer, "missing iss accepted");
            }
        }
    }

    // 2. Round trip: what a real authorization server would send.
    let (code, state, iss) = (callback, state_line, issuer_line);
    let mut url = format!(
        "https://app.example/cb?code={}&state={}",
        form(code),
        form(state)
    );
    if !iss.is_empty() {
        url.push_str("&iss=");
        url.push_str(&form(iss));
    }
    if !code.is_empty() && url.len() <= MAX_CALLBACK_LEN {
        match parse_callback(&url, &ParseOptions::default()) {
            Ok(CallbackResponse::Success {
                code: c,
                state: s,
                iss: i,
            }) => {
                assert_eq!(c.secret(), code);
                assert_eq!(s.as_deref(), Some(state));
                assert_eq!(i.as_deref(), (!iss.is_empty()).then_some(iss));
            }
            other => panic!("round trip failed for {url:?}: {other:?}"),
        }
    }

    // 3. returnTo guard, on the dedicated line and on the whole callback line.
    check_return_to(return_to);
    check_return_to(callback);
});
