//! Fuzz target: callback parsing and validation, and the `returnTo` open-redirect guard — the
//! code the browser half ships (core's no_std base: `callback::{parse_callback, validate,
//! verify}`, `return_to::is_safe_return_to`).
//!
//! Input (text, invalid UTF-8 replaced): line 1 = the callback (URL or query); line 2 = the
//! expected `state` (default `s1`); line 3 = the expected issuer (empty = none; a leading `!`
//! also sets `require_iss`); line 4 = a `returnTo`. A leading `@` on line 1 selects DingTalk's
//! `authCode` parameter name.
//!
//! Invariants beyond "no panic":
//! - `validate` succeeds only for a callback with a code whose `state` equals the expected one
//!   and whose `iss` equals the expected issuer when one is set (RFC 6749 §10.12, RFC 9207
//!   §2.4); `verify` with a found transaction agrees with parse + `validate`, and with any
//!   other storage outcome never yields a code;
//! - the code never shows in `Debug` of a parse result nor in any error (docs/SECURITY.md S14, RFC 6749 §10.5);
//! - round trip: `code`/`state`/`iss` form-encoded into a callback parse back exactly;
//! - `is_safe_return_to(s)` ⇒ `s` starts with exactly one `/`, has no `\`, no `//`, no
//!   control or whitespace character, also after percent-decoding (docs/SECURITY.md B9, RFC 9700 §4.11).

#![no_main]

use authsplit_core::callback::{
    Expected, MAX_CALLBACK_LEN, Stored, parse_callback, validate, verify,
};
use authsplit_core::random::State;
use authsplit_core::return_to::{MAX_RETURN_TO_LEN, is_safe_return_to};
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
    // Every decoding round must be as clean as the raw form (docs/SECURITY.md B9: `/%09/evil`,
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
    let (code_param, callback) = match first.strip_prefix('@') {
        Some(rest) => ("authCode", rest),
        None => ("code", first),
    };
    let state_line = lines.next().unwrap_or("s1");
    let issuer_line = lines.next().unwrap_or("");
    let return_to = lines.next().unwrap_or("/");
    let (require_iss, issuer) = match issuer_line.strip_prefix('!') {
        Some(i) => (true, i),
        None => (false, issuer_line),
    };
    let issuer = (!issuer.is_empty()).then_some(issuer);
    let expected_state = if State::parse(state_line).is_ok() {
        state_line
    } else {
        "s1"
    };
    let exp = Expected {
        state: expected_state,
        issuer,
        require_iss,
        code_param,
    };

    // 1. Parse + validate.
    let parsed = parse_callback(callback, code_param);
    let distinctive = |code: &str, others: &[Option<&str>]| {
        code.len() >= 12
            && code.bytes().all(|b| b.is_ascii_alphanumeric())
            && !others.iter().flatten().any(|o| o.contains(code))
    };
    match &parsed {
        Err(e) => {
            // Parse errors are constant messages: no parameter value at all.
            let shown = format!("{e} {e:?}");
            for c in raw_codes(callback, code_param) {
                assert!(!shown.contains(c), "a code leaked into {shown}");
            }
        }
        Ok(r) => {
            assert!(r.code.is_none() || r.error.is_none(), "code and error");
            if let Some(code) = &r.code
                && distinctive(code.secret(), &[r.state.as_deref(), r.iss.as_deref()])
            {
                assert!(
                    !format!("{r:?}").contains(code.secret()),
                    "code in Debug: {r:?}"
                );
            }
        }
    }
    let validated = match parsed {
        Ok(r) => {
            let snapshot = r.clone();
            let result = validate(r, &exp);
            if let Some(code) = &snapshot.code
                && distinctive(
                    code.secret(),
                    &[snapshot.state.as_deref(), snapshot.iss.as_deref()],
                )
            {
                let shown = match &result {
                    Ok(ok) => format!("{ok:?}"),
                    Err(e) => format!("{e} {e:?}"),
                };
                assert!(!shown.contains(code.secret()), "code leaked into {shown}");
            }
            if let Ok(code) = &result {
                let Some(sent) = &snapshot.code else {
                    panic!("validated a callback without a code");
                };
                assert_eq!(code.secret(), sent.secret());
                assert_eq!(
                    snapshot.state.as_deref(),
                    Some(expected_state),
                    "state not checked"
                );
                assert!(!code.secret().is_empty());
                if let (Some(want), Some(got)) = (issuer, snapshot.iss.as_deref()) {
                    assert_eq!(want, got, "iss not checked");
                }
                if require_iss {
                    assert_eq!(snapshot.iss.as_deref(), issuer, "missing iss accepted");
                }
            }
            result.map(|c| c.into_secret()).map_err(|e| e.code())
        }
        Err(e) => Err(e.code()),
    };

    // 2. `verify`, as the browser calls it: with a found transaction it agrees with parse +
    //    validate; a callback that fails to parse under the standard name fails there first.
    let found = verify(callback, Stored::Found, &exp)
        .map(|c| c.into_secret())
        .map_err(|e| e.code());
    if parse_callback(callback, "code").is_ok() {
        assert_eq!(found, validated, "verify disagrees with parse + validate");
    } else {
        assert!(found.is_err());
    }
    for stored in [
        Stored::Missing { others: false },
        Stored::Missing { others: true },
        Stored::Unreadable,
        Stored::Expired,
    ] {
        assert!(
            verify(callback, stored, &exp).is_err(),
            "a code without a live transaction"
        );
    }

    // 3. Round trip: what a real authorization server would send.
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
        match parse_callback(&url, "code") {
            Ok(r) if r.error.is_none() => {
                assert_eq!(r.code.as_ref().map(|c| c.secret()), Some(code));
                assert_eq!(r.state.as_deref(), Some(state));
                assert_eq!(r.iss.as_deref(), (!iss.is_empty()).then_some(iss));
            }
            other => panic!("round trip failed for {url:?}: {other:?}"),
        }
    }

    // 4. returnTo guard, on the dedicated line and on the whole callback line.
    check_return_to(return_to);
    check_return_to(callback);
});
