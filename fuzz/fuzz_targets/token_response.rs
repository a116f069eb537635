//! Fuzz target: token endpoint responses (core `token::parse_token_response` strict and
//! lenient, `parse_error_body`, `redact_snippet`, and the per-provider parsers in core
//! `provider` for every preset that resolves without variables).
//!
//! Input: line 1 = `<status> <flags> <content-type>` (`-` = no content type; missing or
//! unparsable parts take defaults: 200, 0, `application/json`); the rest = the body.
//! `flags` bits 0–1 pick the body format, bits 2–3 the error style (RFC 6749, `error` in a 200,
//! `errcode`, either), bit 4 the string `expires_in` and bit 5 the missing `token_type`
//! tolerance (`ResponseRules`); bits 6–7 pick where the planted token goes.
//!
//! Invariants beyond "no panic":
//! - a token planted anywhere in the body (a 32-char base64url run with digits and capitals)
//!   never appears in `redact_snippet`, nor in any error's message, snippet or provider
//!   description (docs/SECURITY.md S14);
//! - snippets are at most `SNIPPET_MAX_CHARS` characters and free of control characters;
//! - success only for status 200, with a lower-case `token_type` that is `bearer` unless the
//!   options tolerate more, and `expires_at = now + expires_in` (RFC 6749 §5.1);
//! - strict options never accept a body lenient options refuse.

#![no_main]

use std::sync::LazyLock;

use authsplit_core::Error;
use authsplit_core::secret::{AccessToken, IdToken, RefreshToken};
use authsplit_core::provider::{PRESET_NAMES, ProviderProfile, preset};
use authsplit_core::token::{
    BodyFormat, ErrorStyle, ResponseRules, SNIPPET_MAX_CHARS, parse_error_body, parse_token_response,
    redact_snippet,
};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000;
const PLANT: &str = "PlAnT3dT0k3n_q8Zr7Yx6Wv5Ut4Ss3R";

static PROFILES: LazyLock<Vec<ProviderProfile>> = LazyLock::new(|| {
    PRESET_NAMES
        .iter()
        .filter_map(|n| preset(n))
        .filter_map(|p| p.resolve().ok())
        .collect()
});

fn options(flags: u8) -> ResponseRules {
    const STYLES: [ErrorStyle; 4] = [
        ErrorStyle::Rfc6749,
        ErrorStyle::ErrorIn200,
        ErrorStyle::Errcode,
        ErrorStyle::ErrorOrErrcode,
    ];
    let mut o = ResponseRules::strict();
    o.format = BodyFormat::ALL[usize::from(flags & 3)];
    o.errors = STYLES[usize::from((flags >> 2) & 3)];
    o.expires_in_as_string = flags & 16 != 0;
    o.missing_token_type_is_bearer = flags & 32 != 0;
    o
}

fn check_snippet(s: &str, what: &str) {
    assert!(
        s.chars().count() <= SNIPPET_MAX_CHARS,
        "{what}: snippet too long"
    );
    assert!(
        !s.chars().any(|c| c.is_control()),
        "{what}: control char in snippet {s:?}"
    );
    assert!(!s.contains(PLANT), "{what}: planted token in snippet {s:?}");
}

/// The planted token must not appear in what an error shows. (`error` / `error_uri` codes and
/// the content type are identifiers kept verbatim by design, so a body whose *error code* is
/// the token itself is out of scope; the token is planted as a value or in free text.)
fn check_error(e: &Error, what: &str) {
    let msg = e.to_string();
    assert!(
        !msg.contains(PLANT),
        "{what}: planted token in message {msg:?}"
    );
    if let Some(info) = e.response() {
        check_snippet(&info.snippet, what);
    }
    if let Some(pe) = e.provider_error()
        && let Some(d) = &pe.error_description
    {
        assert!(
            !d.contains(PLANT),
            "{what}: planted token in error_description {d:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let head = String::from_utf8_lossy(head);
    let mut parts = head.splitn(3, ' ');
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let flags: u8 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let ct = match parts.next() {
        Some("-") => None,
        Some(c) => Some(c),
        None => Some("application/json"),
    };

    // 1. The body as given, strict and with the chosen tolerances and fully lenient.
    let strict = parse_token_response(status, ct, body, &ResponseRules::strict(), NOW);
    let chosen = parse_token_response(status, ct, body, &options(flags), NOW);
    let lenient = parse_token_response(status, ct, body, &ResponseRules::lenient(), NOW);
    for (r, opts) in [
        (&strict, ResponseRules::strict()),
        (&chosen, options(flags)),
        (&lenient, ResponseRules::lenient()),
    ] {
        if let Ok(t) = r {
            assert_eq!(status, 200, "accepted a non-200 response");
            assert_eq!(t.token_type, t.token_type.to_ascii_lowercase());
            if opts == ResponseRules::strict() {
                assert_eq!(
                    t.token_type, "bearer",
                    "strict accepted token_type {:?}",
                    t.token_type
                );
            }
            match t.expires_in {
                Some(s) => assert_eq!(t.expires_at, NOW.checked_add(s)),
                None => assert_eq!(t.expires_at, None),
            }
            // Debug redacts every token field: the TokenSet's Debug output must not depend on
            // the secret values at all (swap them for others and compare). An exact invariant —
            // a substring check gave a false positive when the token itself was a piece of the
            // redaction text ("essToken([redact"; fuzz finding of 2026-11-23).
            let mut swapped = t.clone();
            swapped.access_token = AccessToken::new(format!("{}x", t.access_token.secret()));
            swapped.refresh_token = t
                .refresh_token
                .as_ref()
                .map(|r| RefreshToken::new(format!("{}x", r.secret())));
            swapped.id_token = t
                .id_token
                .as_ref()
                .map(|i| IdToken::new(format!("{}x", i.secret())));
            assert_eq!(
                format!("{t:?}"),
                format!("{swapped:?}"),
                "TokenSet Debug depends on a secret"
            );
            assert_eq!(format!("{:?}", t.access_token), "AccessToken([redacted])");
        }
    }
    if strict.is_ok() {
        assert!(
            chosen.is_ok() && lenient.is_ok(),
            "a tolerance refused what strict accepts"
        );
    }
    let _ = parse_error_body(body);
    check_snippet(&redact_snippet(body), "body snippet (no plant)");

    // 2. The same body with a token planted as a value, after a sensitive key, or in free text.
    let at = if body.is_empty() {
        0
    } else {
        (flags as usize * 7919 + body.len()) % (body.len() + 1)
    };
    let insert: Vec<u8> = match flags >> 6 {
        0 => PLANT.as_bytes().to_vec(),
        1 => format!("\"access_token\":\"{PLANT}\"").into_bytes(),
        2 => format!("refresh_token={PLANT}&").into_bytes(),
        _ => format!("{{\"error\":\"invalid_grant\",\"error_description\":\"bad {PLANT}\"}}")
            .into_bytes(),
    };
    let mut planted = body.to_vec();
    planted.splice(at..at, insert);
    check_snippet(&redact_snippet(&planted), "planted snippet");
    for opts in [
        ResponseRules::strict(),
        options(flags),
        ResponseRules::lenient(),
    ] {
        if let Err(e) = parse_token_response(status, ct, &planted, &opts, NOW) {
            check_error(&e, "core parser");
        }
    }
    if let Some(pe) = parse_error_body(&planted)
        && let Some(d) = &pe.error_description
    {
        assert!(
            !d.contains(PLANT),
            "planted token in parse_error_body description {d:?}"
        );
    }

    // 3. The provider parsers (PROVIDERS.md shapes: JSONP, errcode, Feishu `code`, …).
    let profile = &PROFILES[flags as usize % PROFILES.len()];
    for b in [body, &planted[..]] {
        if let Err(e) = authsplit_core::provider::parse_token_response(profile, status, ct, b, NOW)
        {
            if b != body {
                check_error(&e, &profile.id);
            }
        }
        if profile.userinfo.is_some() {
            let _ = authsplit_core::provider::parse_userinfo_response(profile, status, ct, b);
        }
        let _ = authsplit_core::provider::parse_revocation_response(profile, status, ct, b);
    }
});
