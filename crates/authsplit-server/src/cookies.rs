//! The two encrypted cookies (REFERENCE §1; RFC 10017 §6.1.3.2): `Secure; HttpOnly;
//! SameSite=Strict; Path=/`, no `Domain`, `__Host-` prefix, AES-256-GCM through the `cookie`
//! crate's private jar (the cookie name is authenticated, so one cannot be swapped for the other).
//! `insecure_dev_cookies` drops `Secure` and the prefix for plain-http loopback only.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Cookie names and attributes.
#[derive(Clone, Debug)]
pub(crate) struct CookieSettings {
    pub tx_name: &'static str,
    pub session_name: &'static str,
    pub secure: bool,
}

impl CookieSettings {
    pub fn new(insecure_dev: bool) -> Self {
        if insecure_dev {
            Self {
                tx_name: "authsplit-tx",
                session_name: "authsplit-session",
                secure: false,
            }
        } else {
            Self {
                tx_name: "__Host-authsplit-tx",
                session_name: "__Host-authsplit-session",
                secure: true,
            }
        }
    }

    fn build(&self, name: &'static str, value: String, max_age_secs: u64) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(time::Duration::seconds(
                max_age_secs.min(i64::MAX as u64) as i64
            ))
            .build()
    }

    /// Appends an encrypted `Set-Cookie` carrying `payload` as JSON.
    pub fn set<T: Serialize>(
        &self,
        headers: &mut HeaderMap,
        key: &Key,
        name: &'static str,
        payload: &T,
        max_age_secs: u64,
    ) {
        let Ok(json) = serde_json::to_string(payload) else {
            return;
        };
        let mut jar = CookieJar::new();
        jar.private_mut(key)
            .add(self.build(name, json, max_age_secs));
        for c in jar.delta() {
            if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
                headers.append(header::SET_COOKIE, v);
            }
        }
    }

    /// Appends a `Set-Cookie` that deletes `name` (same attributes, `Max-Age=0`).
    pub fn clear(&self, headers: &mut HeaderMap, name: &'static str) {
        let mut c = self.build(name, String::new(), 0);
        c.make_removal();
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }

    /// Reads and decrypts `name`, then parses the JSON payload. Anything that fails (absent,
    /// tampered, old key, bad JSON) is `None`.
    pub fn get<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        key: &Key,
        name: &str,
    ) -> Option<T> {
        let mut jar = CookieJar::new();
        for v in headers.get_all(header::COOKIE) {
            let Ok(s) = v.to_str() else { continue };
            for part in s.split(';') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                if let Ok(c) = Cookie::parse(part.to_owned())
                    && c.name() == name
                {
                    jar.add_original(c);
                }
            }
        }
        let c = jar.private(key).get(name)?;
        serde_json::from_str(c.value()).ok()
    }
}

/// The transaction cookie payload (REFERENCE §1: state + challenge + provider, never the verifier).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TxCookie {
    /// Random transaction id (single-use bookkeeping).
    pub id: String,
    pub provider: String,
    pub state: String,
    pub code_challenge: String,
    #[serde(default)]
    pub nonce: Option<String>,
    /// Expected issuer (RFC 9207), if known.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

impl std::fmt::Debug for TxCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxCookie")
            .field("provider", &self.provider)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The session cookie payload: the refresh token lives only here (encrypted).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SessionCookie {
    /// Random session id (keys the per-session refresh lock).
    pub sid: String,
    pub provider: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    pub created_at: u64,
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookie")
            .field("provider", &self.provider)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}
