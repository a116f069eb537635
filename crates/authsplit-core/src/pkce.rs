//! PKCE — Proof Key for Code Exchange (RFC 7636).
//!
//! The browser makes a fresh *code verifier* per sign-in, sends only its S256 hash (the
//! *code challenge*) in the authorization request, and proves possession of the verifier when
//! the code is redeemed. A stolen authorization code is useless without the verifier.
//!
//! ```
//! use authsplit_core::pkce::{PkceCodeChallenge, PkceCodeVerifier};
//! // RFC 7636 Appendix B
//! let v = PkceCodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
//! assert_eq!(v.challenge().as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
//! assert!(v.challenge().matches(&v));
//! ```
//!
//! API:
//! - [`PkceCodeVerifier::generate`] — 32 CSPRNG bytes (getrandom) → 43-char base64url, no padding (§4.1).
//! - [`PkceCodeVerifier::parse`] — validates a received verifier: 43–128 chars of
//!   `[A-Za-z0-9-._~]` (§4.1); error [`crate::ErrorCode::InvalidVerifier`].
//! - [`PkceCodeChallenge::from_verifier_s256`] — `BASE64URL(SHA256(ASCII(verifier)))` (§4.2).
//! - [`PkceCodeChallenge::matches`] — constant-time check that a verifier hashes to this challenge.
//! - `S256` only: there is no `plain`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::Error;
use crate::error::ErrorCode;

/// Minimum verifier length (RFC 7636 §4.1).
pub const VERIFIER_MIN_LEN: usize = 43;
/// Maximum verifier length (RFC 7636 §4.1).
pub const VERIFIER_MAX_LEN: usize = 128;
/// Length of an S256 challenge: 32 bytes in base64url without padding.
pub const CHALLENGE_LEN: usize = 43;

/// Whether `b` is an RFC 3986 `unreserved` character: `ALPHA / DIGIT / "-" / "." / "_" / "~"`
/// (RFC 7636 §4.1).
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `b` belongs to the base64url alphabet (RFC 4648 §5), without padding.
const fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// `BASE64URL(32 random bytes)`: 43 chars. Shared by the verifier, `state` and `nonce`.
pub(crate) fn random_base64url_32() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    crate::random::fill_random(&mut bytes)?;
    Ok(base64url_32(&bytes))
}

/// Base64url without padding (RFC 4648 §5) of 32 bytes: 43 chars. Hand-written for this one
/// fixed size because the `base64` crate's general-purpose engine was ~2.9 KB of the wasm
/// module (web/README.md "Size"); `base64url_32_matches_the_base64_crate` checks it against
/// the crate, which the backend still uses.
fn base64url_32(bytes: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let sextet = |v: u32| char::from(ALPHABET[(v & 63) as usize]);
    let mut out = String::with_capacity(CHALLENGE_LEN);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(sextet(acc >> bits));
        }
    }
    if bits > 0 {
        out.push(sextet(acc << (6 - bits)));
    }
    out
}

/// SHA-256 of `data` (FIPS 180-4), the hash of the S256 method. Public and not inlined so the
/// browser half's other SHA-256 use (its storage key) shares this one copy of the digest code.
#[inline(never)]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A PKCE code verifier (RFC 7636 §4.1). Secret: `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct PkceCodeVerifier(String);

/// A PKCE S256 code challenge (RFC 7636 §4.2). Not secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkceCodeChallenge(String);

/// The only challenge method authsplit sends (RFC 7636 §4.2; RFC 9700 §2.1.1).
pub const CODE_CHALLENGE_METHOD_S256: &str = "S256";

impl PkceCodeVerifier {
    /// 32 bytes from the OS/browser CSPRNG, base64url without padding: 43 chars (RFC 7636 §4.1, §7.1).
    pub fn generate() -> Result<Self, Error> {
        random_base64url_32().map(Self)
    }
    /// Validates a verifier received from elsewhere against the RFC 7636 §4.1 grammar:
    /// `code-verifier = 43*128unreserved`. The error message never contains the value.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let len = value.len();
        if len < VERIFIER_MIN_LEN {
            return Err(Error::new(
                ErrorCode::InvalidVerifier,
                "code_verifier is shorter than 43 characters (RFC 7636 §4.1)",
            ));
        }
        if len > VERIFIER_MAX_LEN {
            return Err(Error::new(
                ErrorCode::InvalidVerifier,
                "code_verifier is longer than 128 characters (RFC 7636 §4.1)",
            ));
        }
        if !value.bytes().all(is_unreserved) {
            return Err(Error::new(
                ErrorCode::InvalidVerifier,
                "code_verifier contains a character outside [A-Za-z0-9-._~] (RFC 7636 §4.1)",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    /// The verifier string. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
    /// The S256 challenge for this verifier.
    pub fn challenge(&self) -> PkceCodeChallenge {
        PkceCodeChallenge::from_verifier_s256(self)
    }
}

impl core::fmt::Debug for PkceCodeVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PkceCodeVerifier([redacted])")
    }
}

impl PkceCodeChallenge {
    /// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    pub fn from_verifier_s256(verifier: &PkceCodeVerifier) -> Self {
        Self(base64url_32(&sha256(verifier.0.as_bytes())))
    }
    /// Validates a challenge received from the browser: exactly 43 base64url chars (S256 output).
    /// Error: [`ErrorCode::InvalidRequest`].
    pub fn parse(value: &str) -> Result<Self, Error> {
        if value.len() != CHALLENGE_LEN || !value.bytes().all(is_base64url) {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "code_challenge is not 43 base64url characters (RFC 7636 §4.2, S256)",
            ));
        }
        // 43 chars encode 258 bits; the last char must carry only 4 meaningful bits + 2 zero bits.
        if URL_SAFE_NO_PAD.decode(value).is_err() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "code_challenge is not canonical base64url (RFC 7636 §4.2, S256)",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    /// The challenge string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether `verifier` hashes to this challenge, compared in constant time (RFC 7636 §4.6).
    pub fn matches(&self, verifier: &PkceCodeVerifier) -> bool {
        let computed = Self::from_verifier_s256(verifier);
        bool::from(computed.0.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_B_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const APPENDIX_B_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn sha256_fips_180_abc_vector() {
        // FIPS 180-2 Appendix B.1: SHA-256("abc").
        let d = sha256(b"abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(d[28..], [0xf2, 0x00, 0x15, 0xad]);
    }

    #[test]
    fn base64url_32_matches_the_base64_crate() {
        // RFC 4648 §5 base64url, no padding (RFC 7636 §4.1, App. B): same output as the crate.
        let mut cases = vec![[0u8; 32], [0xff; 32]];
        for seed in 0u8..64 {
            let mut b = [0u8; 32];
            for (i, x) in b.iter_mut().enumerate() {
                *x = seed
                    .wrapping_mul(31)
                    .wrapping_add((i as u8).wrapping_mul(97))
                    ^ (i as u8);
            }
            cases.push(b);
        }
        for b in cases {
            assert_eq!(base64url_32(&b), URL_SAFE_NO_PAD.encode(b));
        }
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceCodeVerifier::parse(APPENDIX_B_VERIFIER).expect("valid verifier");
        let c = v.challenge();
        assert_eq!(c.as_str(), APPENDIX_B_CHALLENGE);
        assert!(c.matches(&v));
        let parsed = PkceCodeChallenge::parse(APPENDIX_B_CHALLENGE).expect("valid challenge");
        assert_eq!(parsed, c);
        assert!(parsed.matches(&v));
    }

    #[test]
    fn rfc7636_s4_6_wrong_verifier_does_not_match() {
        let c = PkceCodeChallenge::parse(APPENDIX_B_CHALLENGE).expect("valid challenge");
        let other = PkceCodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK")
            .expect("valid verifier");
        assert!(!c.matches(&other));
    }

    #[test]
    fn rfc7636_s4_1_verifier_length_bounds() {
        let ok43 = "a".repeat(43);
        let ok128 = "Z".repeat(128);
        assert!(PkceCodeVerifier::parse(&ok43).is_ok());
        assert!(PkceCodeVerifier::parse(&ok128).is_ok());
        for bad in ["a".repeat(42), "a".repeat(129), String::new()] {
            let e = PkceCodeVerifier::parse(&bad).expect_err("length must be rejected");
            assert_eq!(e.code(), ErrorCode::InvalidVerifier);
        }
    }

    #[test]
    fn rfc7636_s4_1_verifier_charset() {
        let base = "a".repeat(42);
        for c in ['+', '/', '=', ' ', '%', '\u{e9}', '\0', '!'] {
            let v = format!("{base}{c}");
            let e = PkceCodeVerifier::parse(&v).expect_err("charset must be rejected");
            assert_eq!(e.code(), ErrorCode::InvalidVerifier);
        }
        for c in ['-', '.', '_', '~', '0', 'Z'] {
            assert!(PkceCodeVerifier::parse(&format!("{base}{c}")).is_ok());
        }
    }

    #[test]
    fn rfc7636_s4_1_error_never_echoes_verifier() {
        let secret = format!("{}+SECRETVALUE", "x".repeat(40));
        let e = PkceCodeVerifier::parse(&secret).expect_err("invalid");
        assert!(!format!("{e}").contains("SECRETVALUE"));
        assert!(!format!("{e:?}").contains("SECRETVALUE"));
    }

    #[test]
    fn rfc7636_s4_1_s7_1_generated_verifier_is_43_unreserved_and_unique() {
        let a = PkceCodeVerifier::generate().expect("csprng");
        let b = PkceCodeVerifier::generate().expect("csprng");
        assert_eq!(a.secret().len(), 43);
        assert!(a.secret().bytes().all(is_unreserved));
        assert!(PkceCodeVerifier::parse(a.secret()).is_ok());
        assert_ne!(a.secret(), b.secret());
    }

    #[test]
    fn rfc7636_s4_2_challenge_parse_rejects_bad_shapes() {
        for bad in [
            "",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c", // 42
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMM", // 44
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", // '+'
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=", // padding
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", // non-canonical tail bits
        ] {
            let e = PkceCodeChallenge::parse(bad).expect_err("bad challenge");
            assert_eq!(e.code(), ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn verifier_debug_is_redacted() {
        let v = PkceCodeVerifier::parse(APPENDIX_B_VERIFIER).expect("valid");
        let d = format!("{v:?}");
        assert!(d.contains("[redacted]"));
        assert!(!d.contains(APPENDIX_B_VERIFIER));
    }
}
