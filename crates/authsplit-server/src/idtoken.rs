//! ID token validation (OIDC Core §3.1.3.7): signature with a key from the provider's JWKS and
//! an algorithm from the allow-list (never `none`, never HMAC), `iss` exact, `aud` contains the
//! client id, `azp` equals it when present and is present when there are several audiences,
//! `exp` in the future, `iat` sane, `nonce` equal to the stored one (a sign-in that stored none
//! accepts no ID token). `jsonwebtoken` checks the signature; the claims are checked here against the
//! injectable clock.

use authsplit_core::{Error, ErrorCode};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use authsplit_core::provider::ProviderProfile;

use crate::outbound::Outbound;
use crate::provider::Provider;

const LEEWAY_SECS: u64 = 120;
const MAX_IAT_AGE_SECS: u64 = 24 * 3600;

fn bad(msg: &'static str) -> Error {
    Error::new(ErrorCode::InvalidIdToken, msg)
}

/// What the ID token must match.
pub(crate) struct Expect<'a> {
    /// Accepted `iss` values (the issuer, then documented alternatives such as Google's
    /// `accounts.google.com`). Empty: the Microsoft multi-tenant check runs instead
    /// ([`authsplit_core::provider::entra::check_issuer`] with the token's `tid`).
    pub issuers: Vec<&'a str>,
    /// The profile (for the Microsoft `{tenantid}` issuer check).
    pub profile: &'a ProviderProfile,
    pub client_id: &'a str,
    /// At sign-in: the transaction's nonce (the token must carry exactly it). On refresh: the
    /// sign-in's ID token nonce (a refreshed token may omit it, never change it).
    pub nonce: Option<&'a str>,
    /// An ID token from a refresh (OIDC Core §12.2) rather than a sign-in.
    pub refreshed: bool,
    pub now: u64,
}

/// Validates `token`; returns its claims.
pub(crate) async fn validate(
    provider: &Provider,
    out: &Outbound,
    token: &str,
    expect: &Expect<'_>,
) -> Result<serde_json::Map<String, Value>, Error> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| bad("the ID token is not a well-formed signed JWT"))?;
    if !provider.algs.contains(&header.alg) {
        return Err(bad("the ID token's signature algorithm is not allowed"));
    }
    // Only called once the code went out: a JWKS call that was not sent ends the sign-in too.
    let set = provider
        .jwks(out, expect.profile, header.kid.as_deref())
        .await
        .map_err(crate::outbound::CallError::after_code_sent)?;
    let jwk = select_key(&set.keys, header.kid.as_deref(), header.alg)
        .ok_or_else(|| bad("no matching key for the ID token in the provider's JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| bad("the provider's JWK is unusable"))?;
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &v)
        .map_err(|_| bad("the ID token signature is invalid"))?;
    check_claims(&data.claims, expect)?;
    Ok(data.claims)
}

fn select_key<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let family_ok = |k: &Jwk| {
        matches!(
            (&k.algorithm, alg),
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) | (
                AlgorithmParameters::EllipticCurve(_),
                Algorithm::ES256 | Algorithm::ES384
            ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
        )
    };
    let usable = |k: &&Jwk| {
        let use_ok =
            !matches!(k.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature);
        let alg_ok = k
            .common
            .key_algorithm
            .is_none_or(|ka| ka == jsonwebtoken::jwk::KeyAlgorithm::from(alg));
        use_ok && alg_ok && family_ok(k)
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(usable),
        None => {
            let mut it = keys.iter().filter(usable);
            let first = it.next();
            // Without a kid, only an unambiguous key is acceptable.
            if it.next().is_some() { None } else { first }
        }
    }
}

/// The claim checks of OIDC Core §3.1.3.7 (steps 2, 3, 4, 5, 9, 10, 11).
pub(crate) fn check_claims(
    c: &serde_json::Map<String, Value>,
    expect: &Expect<'_>,
) -> Result<(), Error> {
    let iss = c.get("iss").and_then(Value::as_str);
    if expect.issuers.is_empty() {
        // Microsoft multi-tenant: `{tenantid}` in the issuer template is the token's `tid`;
        // the tenant must also be allowed (PROVIDERS.md § Microsoft).
        let tid = c.get("tid").and_then(Value::as_str).unwrap_or_default();
        authsplit_core::provider::entra::check_issuer(
            expect.profile,
            iss.unwrap_or_default(),
            tid,
        )?;
    } else if !iss.is_some_and(|i| expect.issuers.contains(&i)) {
        return Err(bad("the ID token's iss is not the provider's issuer"));
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == expect.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expect.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("the ID token's aud does not contain this client"));
    }
    match c.get("azp") {
        Some(azp) if azp.as_str() != Some(expect.client_id) => {
            return Err(bad("the ID token's azp is not this client"));
        }
        Some(_) => {}
        // OIDC Core §3.1.3.7 steps 4–5: a token for several audiences must name the party it
        // was issued to.
        None if matches!(c.get("aud"), Some(Value::Array(list)) if list.len() > 1) => {
            return Err(bad("the ID token has several audiences and no azp"));
        }
        None => {}
    }
    match c.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => {}
        _ => return Err(bad("the ID token has no sub")),
    }
    let exp = c
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("the ID token has no numeric exp"))?;
    if exp + LEEWAY_SECS <= expect.now {
        return Err(bad("the ID token has expired"));
    }
    let iat = c
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("the ID token has no numeric iat"))?;
    if iat > expect.now + LEEWAY_SECS || iat + MAX_IAT_AGE_SECS < expect.now {
        return Err(bad("the ID token's iat is not plausible"));
    }
    let token_nonce = c.get("nonce").and_then(Value::as_str);
    if expect.refreshed {
        // OIDC Core §12.2: a refreshed ID token need not carry a nonce; if it does, it is the
        // one of the ID token the session started with.
        return match (expect.nonce, token_nonce) {
            (_, None) => Ok(()),
            (Some(want), Some(got)) if want == got => Ok(()),
            _ => Err(bad(
                "the refreshed ID token's nonce differs from the session's ID token",
            )),
        };
    }
    match (expect.nonce, token_nonce) {
        (Some(want), Some(got)) => {
            use subtle::ConstantTimeEq as _;
            if !bool::from(want.as_bytes().ct_eq(got.as_bytes())) {
                return Err(bad("the ID token's nonce does not match the transaction"));
            }
        }
        (Some(_), None) => return Err(bad("the ID token has no nonce")),
        // OIDC Core §3.1.3.7 step 11: with nothing stored there is nothing the token could be
        // bound to; a transaction registered without a nonce must not accept any ID token.
        (None, _) => {
            return Err(bad(
                "no nonce was registered for this sign-in, so no ID token is accepted",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }

    fn profile() -> &'static ProviderProfile {
        static P: std::sync::OnceLock<ProviderProfile> = std::sync::OnceLock::new();
        P.get_or_init(|| authsplit_core::provider::generic_oidc("op", "https://op.example"))
    }

    fn expect(now: u64) -> Expect<'static> {
        Expect {
            issuers: vec!["https://op.example"],
            profile: profile(),
            client_id: "app",
            nonce: Some("n-123"),
            refreshed: false,
            now,
        }
    }

    // OIDC Core §3.1.3.7: iss exact, aud contains client_id, azp, exp, iat, nonce.
    #[test]
    fn claim_rules() {
        let now = 1_700_000_000;
        let good = json!({"iss":"https://op.example","aud":["app","other"],"azp":"app","sub":"u1",
            "exp":now+300,"iat":now,"nonce":"n-123"});
        assert!(check_claims(&claims(good.clone()), &expect(now)).is_ok());
        let mut bad_cases = Vec::new();
        for (k, v) in [
            ("iss", json!("https://op.example/")),
            ("aud", json!("other")),
            ("azp", json!("other")),
            ("exp", json!(now - 1000)),
            ("iat", json!(now + 10_000)),
            ("nonce", json!("n-124")),
            ("sub", json!("")),
        ] {
            let mut c = claims(good.clone());
            c.insert(k.to_owned(), v);
            bad_cases.push((k, check_claims(&c, &expect(now)).map_err(|e| e.code())));
        }
        for (k, r) in bad_cases {
            assert_eq!(r, Err(ErrorCode::InvalidIdToken), "claim {k}");
        }
        let mut no_nonce = claims(good);
        no_nonce.remove("nonce");
        assert!(check_claims(&no_nonce, &expect(now)).is_err());
    }

    // OIDC Core §3.1.3.7 step 11: a transaction that stored no nonce accepts no ID token —
    // neither one with a nonce (an attacker's) nor one without.
    #[test]
    fn no_stored_nonce_accepts_no_id_token() {
        let now = 1_700_000_000;
        let good = json!({"iss":"https://op.example","aud":"app","sub":"u1",
            "exp":now+300,"iat":now,"nonce":"n-123"});
        let mut e = expect(now);
        e.nonce = None;
        let r = check_claims(&claims(good.clone()), &e).map_err(|e| e.code());
        assert_eq!(r, Err(ErrorCode::InvalidIdToken));
        let mut without = claims(good);
        without.remove("nonce");
        let r = check_claims(&without, &e).map_err(|e| e.code());
        assert_eq!(r, Err(ErrorCode::InvalidIdToken));
    }

    // OIDC Core §3.1.3.7 steps 4–5: several audiences need an azp naming this client.
    #[test]
    fn several_audiences_need_azp() {
        let now = 1_700_000_000;
        let mut c = claims(
            json!({"iss":"https://op.example","aud":["app","other"],"sub":"u1",
            "exp":now+300,"iat":now,"nonce":"n-123"}),
        );
        let r = check_claims(&c, &expect(now)).map_err(|e| e.code());
        assert_eq!(r, Err(ErrorCode::InvalidIdToken));
        c.insert("aud".to_owned(), json!(["app"]));
        assert!(check_claims(&c, &expect(now)).is_ok());
        c.insert("aud".to_owned(), json!(["app", "other"]));
        c.insert("azp".to_owned(), json!("app"));
        assert!(check_claims(&c, &expect(now)).is_ok());
    }
}
