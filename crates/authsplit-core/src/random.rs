//! `state` (RFC 6749 §10.12) and `nonce` (OIDC Core §3.1.2.1), constant-time comparison, and
//! the browser's storage key of a pending sign-in. Part of the base.
//!
//! One format for every `state` and `nonce` authsplit makes: 32 CSPRNG bytes (256 bits) as 64
//! lowercase hex characters ([`hex_token`]). Only `[0-9a-f]`, so every provider accepts it —
//! WeChat and WeCom take `state` as `[A-Za-z0-9]{1,128}` only — and far above the 128 bits
//! RFC 6749 §10.12 asks for. The browser half passes bytes from `crypto.getRandomValues`;
//! `State::generate` / `Nonce::generate` (`std`) take them from the OS through `getrandom`.
//!
//! [`State`] and [`Nonce`] wrap values received from elsewhere: `Debug` prints `[redacted]`,
//! equality only in constant time (`subtle`), no `PartialEq`.
//!
//! ```
//! use authsplit_core::random::{State, hex_token};
//! let sent = State::parse(&hex_token(&[7; 32])).unwrap();
//! let received = State::parse(sent.secret()).unwrap();
//! assert!(sent.ct_eq(&received));
//! assert!(!sent.ct_eq_str("something-else"));
//! ```

use alloc::borrow::ToOwned as _;
use alloc::string::String;
use subtle::ConstantTimeEq as _;

use crate::Error;
use crate::error::ErrorCode;

/// Longest `state`/`nonce` accepted by `parse`.
pub const MAX_RANDOM_TOKEN_LEN: usize = 512;
/// Length of a `state` / `nonce` made by [`hex_token`]: 32 bytes as hex.
pub const TOKEN_LEN: usize = 64;
/// Prefix of every `sessionStorage` key of a pending sign-in ([`storage_key`]).
pub const STORAGE_KEY_PREFIX: &str = "authsplit.tx.";

/// Constant-time byte-string equality. Lengths are compared openly (they are not secret:
/// every value we generate has 64 chars); contents in constant time.
pub fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Lowercase hex of `bytes` (at most 32), with RustCrypto's constant-time encoder.
fn hex(bytes: &[u8]) -> String {
    let mut buf = [0u8; 64];
    // At most 32 bytes always fit in 64 characters; the empty fallback is unreachable.
    base16ct::lower::encode_str(bytes, &mut buf)
        .map(String::from)
        .unwrap_or_default()
}

/// A new `state` or `nonce` from 32 CSPRNG bytes: 64 lowercase hex characters (256 bits).
pub fn hex_token(bytes: &[u8; 32]) -> String {
    hex(bytes)
}

/// The browser's `sessionStorage` key of the pending sign-in for `state`: `authsplit.tx.` +
/// the first 16 bytes of SHA-256(`state`) in lowercase hex — a callback finds its own
/// transaction, and the key does not reveal `state`.
pub fn storage_key(state: &str) -> String {
    let digest = crate::pkce::sha256(state.as_bytes());
    let mut key = String::from(STORAGE_KEY_PREFIX);
    key.push_str(&hex(digest.get(..16).unwrap_or_default()));
    key
}

/// Defines a random token newtype.
macro_rules! random_token {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// 32 bytes from the OS CSPRNG as 64 hex characters ([`hex_token`]).
            #[cfg(feature = "std")]
            pub fn generate() -> Result<Self, Error> {
                let mut bytes = [0u8; 32];
                fill_random(&mut bytes)?;
                Ok(Self(hex_token(&bytes)))
            }
            /// Wraps a received value after a shape check: 1–512 chars of
            /// `[A-Za-z0-9-._~]` (printable, URL-safe); otherwise `ErrorCode::InvalidRequest`.
            pub fn parse(value: &str) -> Result<Self, Error> {
                if value.is_empty()
                    || value.len() > MAX_RANDOM_TOKEN_LEN
                    || !value.bytes().all(crate::pkce::is_unreserved)
                {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        concat!(
                            stringify!($name),
                            " must be 1-512 characters of [A-Za-z0-9-._~]"
                        ),
                    ));
                }
                Ok(Self(value.to_owned()))
            }
            /// The value. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Constant-time equality (`subtle::ConstantTimeEq`).
            pub fn ct_eq(&self, other: &Self) -> bool {
                ct_eq_bytes(self.0.as_bytes(), other.0.as_bytes())
            }
            /// Constant-time equality against a raw string.
            pub fn ct_eq_str(&self, other: &str) -> bool {
                ct_eq_bytes(self.0.as_bytes(), other.as_bytes())
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

random_token!(
    /// The `state` parameter (RFC 6749 §4.1.1, §10.12).
    State
);
random_token!(
    /// The OIDC `nonce` (OIDC Core §3.1.2.1, §15.5.2).
    Nonce
);

/// Fills `buf` from the OS CSPRNG (getrandom). A failure is `ErrorCode::RandomUnavailable`.
#[cfg(feature = "std")]
pub fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| {
        Error::new(
            ErrorCode::RandomUnavailable,
            "the platform random number generator failed",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_lower_hex(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    #[test]
    fn rfc6749_s10_12_state_has_at_least_128_bits() {
        let s = State::generate().expect("csprng");
        // 64 hex chars = 32 bytes = 256 bits; only [0-9a-f], so alphanumeric-only providers
        // (WeChat, WeCom: `[A-Za-z0-9]{1,128}`) accept it.
        assert_eq!(s.secret().len(), TOKEN_LEN);
        assert!(is_lower_hex(s.secret()));
        assert!(s.secret().bytes().all(crate::pkce::is_unreserved));
        let t = State::generate().expect("csprng");
        assert!(!s.ct_eq(&t));
    }

    #[test]
    fn hex_token_is_the_lowercase_hex_of_its_bytes() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0xa5;
        }
        let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_token(&bytes), want);
        assert_eq!(hex_token(&[0; 32]), "0".repeat(64));
        assert_eq!(hex_token(&[0xff; 32]), "f".repeat(64));
        assert!(State::parse(&hex_token(&bytes)).is_ok() && Nonce::parse(&want).is_ok());
    }

    #[test]
    fn storage_key_is_a_sha256_prefix_of_state() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        // (FIPS 180-2 Appendix B.1).
        assert_eq!(
            storage_key("abc"),
            "authsplit.tx.ba7816bf8f01cfea414140de5dae2223"
        );
        let (a, b) = (hex_token(&[1; 32]), hex_token(&[2; 32]));
        assert_ne!(storage_key(&a), storage_key(&b));
        assert!(
            !storage_key(&a).contains(&a),
            "the key must not reveal state"
        );
    }

    #[test]
    fn oidc_core_3_1_2_1_nonce_is_random() {
        let a = Nonce::generate().expect("csprng");
        let b = Nonce::generate().expect("csprng");
        assert_eq!(a.secret().len(), TOKEN_LEN);
        assert!(is_lower_hex(a.secret()));
        assert!(!a.ct_eq(&b));
        assert!(a.ct_eq(&a.clone()));
    }

    #[test]
    fn rfc6749_s10_12_constant_time_compare_semantics() {
        let s = State::parse("abc-DEF_123.~").expect("valid");
        assert!(s.ct_eq_str("abc-DEF_123.~"));
        assert!(!s.ct_eq_str("abc-DEF_123.x"));
        assert!(!s.ct_eq_str("abc-DEF_123."));
        assert!(!s.ct_eq_str("abc-DEF_123.~~"));
        assert!(!s.ct_eq_str(""));
        assert!(ct_eq_bytes(b"", b""));
        assert!(!ct_eq_bytes(b"a", b"b"));
    }

    #[test]
    fn state_parse_shape() {
        assert!(State::parse("a").is_ok());
        assert!(State::parse(&"a".repeat(512)).is_ok());
        for bad in ["", "a b", "a+b", "a/b", "a=b", "\u{e9}", "<script>"] {
            let e = State::parse(bad).expect_err("must be rejected");
            assert_eq!(e.code(), ErrorCode::InvalidRequest);
        }
        assert!(State::parse(&"a".repeat(513)).is_err());
        assert!(Nonce::parse("").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let s = State::parse("KNOWN_STATE_VALUE").expect("valid");
        let n = Nonce::parse("KNOWN_NONCE_VALUE").expect("valid");
        assert_eq!(format!("{s:?}"), "State([redacted])");
        assert_eq!(format!("{n:?}"), "Nonce([redacted])");
        let e = State::parse("KNOWN STATE").expect_err("space");
        assert!(!format!("{e} {e:?}").contains("KNOWN"));
    }

    #[test]
    fn fill_random_fills() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        fill_random(&mut a).expect("csprng");
        fill_random(&mut b).expect("csprng");
        assert_ne!(a, b);
        fill_random(&mut []).expect("empty buffer is fine");
    }
}
