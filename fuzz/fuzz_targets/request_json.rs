//! Fuzz target: the backend's JSON request bodies.
//!
//! `authsplit-server` keeps its strict-JSON extractor's parser and its validation private, so
//! this target drives the *real* router in-process (`Authsplit::router`, see
//! `common/server.rs`): `POST /auth/transactions` and `POST /auth/token` with the fuzzed body,
//! the CSRF header, the allowed Origin and `Content-Type: application/json`. Alongside, it
//! deserializes the core wire types (`wire::TransactionRequest`, `wire::TokenRequest`) with
//! `serde_json::from_slice` exactly as the server does and runs the validators the server
//! applies (`State::parse`, `Nonce::parse`, `PkceCodeChallenge::parse`,
//! `PkceCodeVerifier::parse`).
//!
//! Input: line 1 = `transactions` or `token` (anything else: both); the rest = the body.
//!
//! Invariants beyond "no panic":
//! - never a 500 (handler panics become 500 `internal`); errors always carry a stable code;
//! - `/transactions` answers 201 exactly when the body deserializes and passes our own
//!   reading of the rules (known provider, `S256`, 43-char canonical challenge, state/nonce
//!   grammar, state ≥ 32 chars) — docs/SECURITY.md B2, S3;
//! - `/token` without a transaction cookie answers exactly `invalid_request` (bad JSON),
//!   `unknown_provider`, or `transaction_missing` — never anything that implies an outbound
//!   call (docs/SECURITY.md S2);
//! - an accepted verifier matches the RFC 7636 §4.1 grammar (43–128 unreserved chars) and
//!   its S256 challenge parses back and matches; an accepted challenge is 43 base64url chars;
//! - code and verifier never appear in a response nor in `Debug` (docs/SECURITY.md S14);
//! - the wire types round-trip through serde.

#![no_main]

#[path = "common/server.rs"]
mod server;

use authsplit_core::pkce::{PkceCodeChallenge, PkceCodeVerifier};
use authsplit_core::random::{Nonce, State};
use authsplit_core::wire::{TokenRequest, TransactionRequest};
use libfuzzer_sys::fuzz_target;
use server::{check_common, contains, post, send};

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// Our own reading of the server's `/transactions` rules.
fn tx_ok(r: &TransactionRequest) -> bool {
    let known = r.provider == "stub" || r.provider == "stubpost";
    known
        && r.code_challenge_method == "S256"
        && PkceCodeChallenge::parse(&r.code_challenge).is_ok()
        && State::parse(&r.state).is_ok()
        // RFC 6749 §10.10 / RFC 9700 §2.1: at least 128 bits, 32 hex characters.
        && r.state.len() >= 32
        && r.nonce.as_deref().is_none_or(|n| Nonce::parse(n).is_ok())
        // RFC 6749 §3.3 scope tokens; extras that repeat no protocol parameter, secret or
        // each other (the stub providers add no extras of their own).
        && r.scope.as_deref().is_none_or(|s| {
            s.split_ascii_whitespace()
                .all(|t| t.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)))
        })
        && r.extra_params.iter().enumerate().all(|(i, (n, _))| {
            !n.is_empty()
                && !PROTOCOL_AND_SECRET_PARAMS.contains(&n.as_str())
                && !r.extra_params[..i].iter().any(|(m, _)| m == n)
        })
}

/// Names an extra parameter may not take (RFC 6749 §3.1: no parameter twice; no secret).
const PROTOCOL_AND_SECRET_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "client_secret",
    "code_verifier",
    "access_token",
    "id_token",
];

fn check_validators(s: &str) {
    if let Ok(v) = PkceCodeVerifier::parse(s) {
        assert!(
            (43..=128).contains(&s.len()),
            "verifier length {} accepted",
            s.len()
        );
        assert!(
            s.bytes().all(unreserved),
            "verifier outside [A-Za-z0-9-._~] accepted"
        );
        let c = v.challenge();
        let back = PkceCodeChallenge::parse(c.as_str()).expect("own challenge parses");
        assert!(back.matches(&v));
        assert!(!format!("{v:?}").contains(s), "verifier in Debug");
    }
    if PkceCodeChallenge::parse(s).is_ok() {
        assert!(
            s.len() == 43 && s.bytes().all(b64url),
            "challenge {s:?} accepted"
        );
    }
    for ok in [State::parse(s).is_ok(), Nonce::parse(s).is_ok()] {
        if ok {
            assert!(
                (1..=512).contains(&s.len()) && s.bytes().all(unreserved),
                "state/nonce {s:?} accepted"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (which, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) if &data[..i] == b"transactions" => (1, &data[i + 1..]),
        Some(i) if &data[..i] == b"token" => (2, &data[i + 1..]),
        _ => (3, data),
    };

    if which & 1 != 0 {
        let parsed = serde_json::from_slice::<TransactionRequest>(body);
        let r = send(post("/auth/transactions", body.to_vec(), None));
        check_common(&r, "/transactions");
        if r.status.as_u16() != 413 {
            let expect_ok = parsed.as_ref().is_ok_and(tx_ok);
            assert_eq!(
                r.status.as_u16() == 201,
                expect_ok,
                "/transactions answered {} ({}) for {:?}",
                r.status,
                String::from_utf8_lossy(&r.body),
                String::from_utf8_lossy(body)
            );
        }
        if let Ok(t) = &parsed {
            for s in [&t.state, &t.code_challenge, &t.provider] {
                check_validators(s);
            }
            let again: TransactionRequest =
                serde_json::from_str(&serde_json::to_string(t).expect("serializes"))
                    .expect("round trip");
            assert_eq!(
                (
                    &again.provider,
                    &again.state,
                    &again.code_challenge,
                    &again.nonce,
                    &again.scope,
                    &again.extra_params
                ),
                (
                    &t.provider,
                    &t.state,
                    &t.code_challenge,
                    &t.nonce,
                    &t.scope,
                    &t.extra_params
                )
            );
        }
    }

    if which & 2 != 0 {
        let parsed = serde_json::from_slice::<TokenRequest>(body);
        let r = send(post("/auth/token", body.to_vec(), None));
        check_common(&r, "/token");
        let code = r.error();
        let want = match &parsed {
            _ if r.status.as_u16() == 413 => "body_too_large",
            Err(_) => "invalid_request",
            Ok(t) if t.provider != "stub" && t.provider != "stubpost" => "unknown_provider",
            Ok(_) => "transaction_missing",
        };
        assert_eq!(
            code,
            want,
            "/token without a transaction: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        if let Ok(t) = &parsed {
            check_validators(&t.code_verifier);
            check_validators(&t.state);
            let dbg = format!("{t:?}");
            let all = r.everything();
            for secret in [&t.code, &t.code_verifier] {
                // Distinctive: long, alphanumeric, with a digit and a capital (so no constant
                // message text can contain it), and not also sent as provider or iss.
                let distinctive = secret.len() >= 12
                    && secret.bytes().all(|b| b.is_ascii_alphanumeric())
                    && secret.bytes().any(|b| b.is_ascii_digit())
                    && secret.bytes().any(|b| b.is_ascii_uppercase())
                    && !t.provider.contains(secret.as_str())
                    && !t.iss.as_deref().unwrap_or("").contains(secret.as_str());
                if distinctive {
                    assert!(
                        !dbg.contains(secret.as_str()),
                        "secret in TokenRequest Debug"
                    );
                    assert!(
                        !contains(&all, secret.as_bytes()),
                        "secret echoed by /token"
                    );
                }
            }
            let again: TokenRequest =
                serde_json::from_str(&serde_json::to_string(t).expect("serializes"))
                    .expect("round trip");
            assert_eq!(
                (&again.code, &again.code_verifier, &again.state, &again.iss),
                (&t.code, &t.code_verifier, &t.state, &t.iss)
            );
        }
    }
});
