//! `state` (RFC 6749 §10.12) and `nonce` (OIDC Core §3.1.2.1): ≥128 random bits, base64url,
//! `Debug` prints `[redacted]`, equality only in constant time (`subtle`). No `PartialEq`.
//!
//! Randomness comes from [`getrandom`] (the OS CSPRNG on the host, `crypto.getRandomValues`
//! in the browser). This crate does **not** enable getrandom's `wasm_js` feature: on
//! `wasm32-unknown-unknown` the final artefact (`authsplit-wasm`) enables it, and Cargo's
//! feature unification applies it to this crate's getrandom too. See the crate docs,
//! "Building for wasm32".
//!
//! ```
//! use authsplit_core::random::State;
//! let sent = State::generate().unwrap();
//! let received = State::parse(sent.secret()).unwrap();
//! assert!(sent.ct_eq(&received));
//! assert!(!sent.ct_eq_str("something-else"));
//! ```

use subtle::ConstantTimeEq as _;

use crate::Error;
use crate::error::ErrorCode;

/// Longest `state`/`nonce` accepted by `parse`.
pub const MAX_RANDOM_TOKEN_LEN: usize = 512;

/// Constant-time byte-string equality. Lengths are compared openly (they are not secret:
/// every value we generate has 43 chars); contents in constant time.
pub fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Defines a random token newtype.
macro_rules! random_token {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// 32 CSPRNG bytes (256 bits), base64url without padding (43 chars).
            pub fn generate() -> Result<Self, Error> {
                crate::pkce::random_base64url_32().map(Self)
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

/// Fills `buf` from the platform CSPRNG (getrandom). A failure is `ErrorCode::RandomUnavailable`.
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

    #[test]
    fn rfc6749_s10_12_state_has_at_least_128_bits() {
        let s = State::generate().expect("csprng");
        // 43 base64url chars = 258 bits of encoding, 256 bits of entropy (32 bytes).
        assert_eq!(s.secret().len(), 43);
        assert!(s.secret().bytes().all(crate::pkce::is_unreserved));
        let t = State::generate().expect("csprng");
        assert!(!s.ct_eq(&t));
    }

    #[test]
    fn oidc_core_3_1_2_1_nonce_is_random() {
        let a = Nonce::generate().expect("csprng");
        let b = Nonce::generate().expect("csprng");
        assert_eq!(a.secret().len(), 43);
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
