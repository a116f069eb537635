//! PKCE (RFC 7636).
//!
//! API (implemented in this module):
//! - [`PkceCodeVerifier::generate`] — 32 CSPRNG bytes (getrandom) → 43-char base64url, no padding (§4.1).
//! - [`PkceCodeVerifier::parse`] — validates a received verifier: 43–128 chars of
//!   `[A-Za-z0-9-._~]` (§4.1); error [`crate::ErrorCode::InvalidVerifier`].
//! - [`PkceCodeChallenge::from_verifier_s256`] — `BASE64URL(SHA256(ASCII(verifier)))` (§4.2).
//! - [`PkceCodeChallenge::matches`] — constant-time check that a verifier hashes to this challenge.
//! - `S256` only: there is no `plain`.

use crate::Error;

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
        unimplemented!("skeleton")
    }
    /// Validates a verifier received from elsewhere against the RFC 7636 §4.1 grammar.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let _ = value;
        unimplemented!("skeleton")
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
        let _ = verifier;
        unimplemented!("skeleton")
    }
    /// Validates a challenge received from the browser: exactly 43 base64url chars (S256 output).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let _ = value;
        unimplemented!("skeleton")
    }
    /// The challenge string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether `verifier` hashes to this challenge, compared in constant time (RFC 7636 §4.6).
    pub fn matches(&self, verifier: &PkceCodeVerifier) -> bool {
        let _ = verifier;
        unimplemented!("skeleton")
    }
}
