//! Secret newtypes. `Debug` prints `[redacted]`; there is no `Display`; the value is reachable
//! only through an explicit `secret()` call so every use is greppable.

/// Defines a secret string newtype.
macro_rules! secret_string {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret value. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Consumes the wrapper and returns the secret value.
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}
#[allow(unused_imports)] // kept for crate-internal secret types added later
pub(crate) use secret_string;

secret_string!(
    /// An OAuth 2.0 access token (RFC 6749 §1.4).
    AccessToken
);
secret_string!(
    /// An OAuth 2.0 refresh token (RFC 6749 §1.5). Never leaves the backend.
    RefreshToken
);
secret_string!(
    /// An authorization code (RFC 6749 §4.1.2). Single use.
    AuthorizationCode
);
secret_string!(
    /// A client secret (RFC 6749 §2.3.1). Backend only.
    ClientSecret
);
secret_string!(
    /// A raw, unvalidated ID token (OIDC Core §2).
    IdToken
);
