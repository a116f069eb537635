//! `state` (RFC 6749 §10.12) and `nonce` (OIDC Core §3.1.2.1): ≥128 random bits, base64url,
//! `Debug` prints `[redacted]`, equality only in constant time (`subtle`). No `PartialEq`.

use crate::Error;

/// Defines a random token newtype.
macro_rules! random_token {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// 32 CSPRNG bytes (256 bits), base64url without padding (43 chars).
            pub fn generate() -> Result<Self, Error> {
                unimplemented!("skeleton")
            }
            /// Wraps a received value after a shape check: 1–512 chars of
            /// `[A-Za-z0-9-._~]` (printable, URL-safe); otherwise `ErrorCode::InvalidRequest`.
            pub fn parse(value: &str) -> Result<Self, Error> {
                let _ = value;
                unimplemented!("skeleton")
            }
            /// The value. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Constant-time equality (`subtle::ConstantTimeEq`).
            pub fn ct_eq(&self, other: &Self) -> bool {
                let _ = other;
                unimplemented!("skeleton")
            }
            /// Constant-time equality against a raw string.
            pub fn ct_eq_str(&self, other: &str) -> bool {
                let _ = other;
                unimplemented!("skeleton")
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
    let _ = buf;
    unimplemented!("skeleton")
}
