//! PKCE — Proof Key for Code Exchange (RFC 7636). Part of the base: the browser half makes the
//! verifier and challenge with this code, the backend checks them with it.
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
//! - [`PkceCodeVerifier::from_random_bytes`] — 32 CSPRNG bytes → 43-char base64url, no padding
//!   (§4.1, §7.1); `PkceCodeVerifier::generate` (`std`) takes the bytes from the OS.
//! - [`PkceCodeVerifier::parse`] — validates a received verifier: 43–128 chars of
//!   `[A-Za-z0-9-._~]` (§4.1); error [`crate::ErrorCode::InvalidVerifier`].
//! - [`PkceCodeChallenge::from_verifier_s256`] — `BASE64URL(SHA256(ASCII(verifier)))` (§4.2).
//! - [`PkceCodeChallenge::matches`] — constant-time check that a verifier hashes to this challenge.
//! - `S256` only: there is no `plain`.
//!
//! Base64url is RustCrypto's constant-time `base64ct` (no table indexed by the verifier's
//! bytes).

use alloc::borrow::ToOwned as _;
use alloc::string::String;
use base64ct::{Base64UrlUnpadded, Encoding as _};
use sha2::block_api::Sha256VarCore;
use sha2::digest::Output;
use sha2::digest::block_api::{Buffer, UpdateCore as _, VariableOutputCore as _};
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

/// Base64url without padding (RFC 4648 §5) of 32 bytes: 43 chars.
fn base64url_32(bytes: &[u8; 32]) -> String {
    let mut buf = [0u8; CHALLENGE_LEN];
    // 32 bytes always fit in 43 characters; the empty fallback is unreachable.
    Base64UrlUnpadded::encode(bytes, &mut buf)
        .map(String::from)
        .unwrap_or_default()
}

/// SHA-256 of `data` (FIPS 180-4), the hash of the S256 method. Not inlined so every SHA-256
/// use of the browser half (the challenge, the storage key) shares one copy of the digest code.
/// sha2's block-level API (the same compression and padding as `Sha256::digest`, without its
/// output wrapper: a smaller browser module; checked against `Sha256::digest` in the tests).
#[inline(never)]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut core = Sha256VarCore::new(32).expect("32 bytes is SHA-256's output size");
    let mut buffer = Buffer::<Sha256VarCore>::default();
    buffer.digest_blocks(data, |blocks| core.update_blocks(blocks));
    let mut out = Output::<Sha256VarCore>::default();
    core.finalize_variable_core(&mut buffer, &mut out);
    out.into()
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
    /// The verifier for 32 bytes from a CSPRNG: base64url without padding, 43 chars of the
    /// unreserved set (RFC 7636 §4.1, §7.1: 256 bits of entropy).
    pub fn from_random_bytes(bytes: &[u8; 32]) -> Self {
        Self(base64url_32(bytes))
    }
    /// 32 bytes from the OS CSPRNG (getrandom), base64url without padding: 43 chars
    /// (RFC 7636 §4.1, §7.1).
    #[cfg(feature = "std")]
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        crate::random::fill_random(&mut bytes)?;
        Ok(Self::from_random_bytes(&bytes))
    }
    /// Validates a verifier received from elsewhere against the RFC 7636 §4.1 grammar:
    /// `code-verifier = 43*128unreserved`. The error message never contains the value.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if !(VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&value.len())
            || !value.bytes().all(is_unreserved)
        {
            return Err(Error::new(
                ErrorCode::InvalidVerifier,
                "code_verifier must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    /// The verifier string. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
    /// Consumes the wrapper and returns the verifier string. Never log it.
    pub fn into_secret(self) -> String {
        self.0
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
    /// Validates a challenge received from the browser: exactly 43 base64url chars (S256
    /// output) in canonical form — 43 chars encode 258 bits, so the last one must leave its 2
    /// low bits zero. Error: [`ErrorCode::InvalidRequest`].
    pub fn parse(value: &str) -> Result<Self, Error> {
        let mut digest = [0u8; 32];
        if value.len() != CHALLENGE_LEN
            || Base64UrlUnpadded::decode(value, &mut digest).map(<[u8]>::len) != Ok(32)
        {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "code_challenge is not 43 canonical base64url characters (RFC 7636 §4.2, S256)",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    /// The challenge string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Consumes the wrapper and returns the challenge string.
    pub fn into_string(self) -> String {
        self.0
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
    use sha2::{Digest as _, Sha256};

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
    fn sha256_block_api_matches_sha2_digest() {
        // Every padding case (FIPS 180-4 §5.1.1): empty, one block, the 55/56/63/64-byte edges,
        // several blocks.
        let data: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for len in 0..=data.len() {
            let want: [u8; 32] = Sha256::digest(&data[..len]).into();
            assert_eq!(sha256(&data[..len]), want, "length {len}");
        }
    }

    #[test]
    fn base64url_32_matches_the_base64_crate() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
    fn rfc7636_s4_1_challenge_refuses_a_verifier_outside_the_grammar() {
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            String::new(),
            "a".repeat(42) + "+",
            "a".repeat(42) + "/",
            "a".repeat(42) + "=",
            // 43 bytes, but one character is not unreserved.
            "a".repeat(41) + "\u{e9}",
        ] {
            let e = PkceCodeVerifier::parse(&bad).expect_err("outside the grammar");
            assert_eq!(e.code(), ErrorCode::InvalidVerifier, "{bad}");
            assert!(
                bad.is_empty() || !e.to_string().contains(&bad),
                "never echoed"
            );
        }
    }

    #[test]
    fn rfc7636_s4_2_challenge_is_base64url_of_sha256() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for v in [
            "a".repeat(43),
            "Z~._-".repeat(25) + "abc",
            PkceCodeVerifier::from_random_bytes(&[0x5a; 32]).into_secret(),
        ] {
            let want = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            let verifier = PkceCodeVerifier::parse(&v).expect("valid");
            assert_eq!(verifier.challenge().as_str(), want, "{v}");
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
