//! Secret newtypes, all made by [`new_secret_type!`](crate::new_secret_type). `Debug` prints
//! `[redacted]`; there is no `Display`; the value is reachable only through an explicit
//! `secret()` call so every use is greppable. Part of the base.

use alloc::string::String;

/// The string type the secret newtypes wrap (named through this path so
/// [`new_secret_type!`](crate::new_secret_type) works in any crate).
#[doc(hidden)]
pub type __String = String;

/// Defines a secret string newtype — the one way to make one in authsplit (core and server):
/// `Debug` prints `Name([redacted])`, there is no `Display`, and the value is reachable only
/// through a greppable `secret()` (or `into_secret()`).
///
/// ```
/// authsplit_core::new_secret_type!(
///     /// A webhook signing key.
///     WebhookKey
/// );
/// let k = WebhookKey::new("k3y");
/// assert_eq!(format!("{k:?}"), "WebhookKey([redacted])");
/// assert_eq!(k.secret(), "k3y");
/// ```
#[macro_export]
macro_rules! new_secret_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name($crate::secret::__String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<$crate::secret::__String>) -> Self {
                Self(value.into())
            }
            /// The secret value. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Consumes the wrapper and returns the secret value.
            pub fn into_secret(self) -> $crate::secret::__String {
                self.0
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

crate::new_secret_type!(
    /// An OAuth 2.0 access token (RFC 6749 §1.4).
    AccessToken
);
crate::new_secret_type!(
    /// An OAuth 2.0 refresh token (RFC 6749 §1.5). Never leaves the backend.
    RefreshToken
);
crate::new_secret_type!(
    /// An authorization code (RFC 6749 §4.1.2). Single use.
    AuthorizationCode
);
crate::new_secret_type!(
    /// A client secret (RFC 6749 §2.3.1). Backend only.
    ClientSecret
);
crate::new_secret_type!(
    /// A raw, unvalidated ID token (OIDC Core §2).
    IdToken
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::PkceCodeVerifier;
    use crate::random::{Nonce, State};

    const KNOWN: &str = "KNOWN-secret-value-1234567890abcdef-0123456789";

    /// docs/SECURITY.md S14: `Debug` of every secret type prints `[redacted]`, never the value.
    #[test]
    fn debug_of_every_secret_type_is_redacted() {
        let verifier = PkceCodeVerifier::parse(KNOWN).expect("43+ unreserved chars");
        let debugs = [
            format!("{:?}", AccessToken::new(KNOWN)),
            format!("{:?}", RefreshToken::new(KNOWN)),
            format!("{:?}", AuthorizationCode::new(KNOWN)),
            format!("{:?}", ClientSecret::new(KNOWN)),
            format!("{:?}", IdToken::new(KNOWN)),
            format!("{verifier:?}"),
            format!("{:?}", State::parse(KNOWN).expect("valid")),
            format!("{:?}", Nonce::parse(KNOWN).expect("valid")),
            format!("{:#?}", Some(AccessToken::new(KNOWN))),
        ];
        for d in &debugs {
            assert!(d.contains("[redacted]"), "{d}");
            assert!(!d.contains(KNOWN), "{d}");
            assert!(!d.contains("KNOWN"), "{d}");
        }
    }

    #[test]
    fn token_set_and_wire_debug_are_redacted() {
        let body = format!(
            r#"{{"access_token":"{KNOWN}","token_type":"bearer","refresh_token":"{KNOWN}","id_token":"{KNOWN}"}}"#
        );
        let t = crate::token::parse_token_response(
            200,
            Some("application/json"),
            body.as_bytes(),
            &crate::token::ResponseRules::strict(),
            0,
        )
        .expect("valid");
        assert!(!format!("{t:?}").contains(KNOWN));

        let req = crate::wire::TokenRequest {
            provider: "p".into(),
            code: KNOWN.into(),
            state: KNOWN.into(),
            code_verifier: KNOWN.into(),
            iss: None,
        };
        assert!(!format!("{req:?}").contains(KNOWN));
        let reply = crate::wire::TokenReply {
            access_token: KNOWN.into(),
            token_type: "bearer".into(),
            expires_at: None,
            scope: None,
            id_token_claims: None,
            user: None,
        };
        assert!(!format!("{reply:?}").contains(KNOWN));
    }

    #[test]
    fn secret_accessors() {
        let s = ClientSecret::new("a+b:c%d/e f");
        assert_eq!(s.secret(), "a+b:c%d/e f");
        assert_eq!(s.clone().into_secret(), "a+b:c%d/e f");
        assert_eq!(s, ClientSecret::new("a+b:c%d/e f"));
    }
}
