//! The encrypted cookies — one transaction cookie per pending sign-in (`<base>-<16 hex of
//! SHA-256(state)>`) and the session cookie (SECURITY.md A4; RFC 10017 §6.1.3.2): `Secure;
//! HttpOnly; SameSite=Strict; Path=/`, no `Domain`, `__Host-` prefix, AES-256-GCM through the
//! `cookie` crate's private jar (the cookie name is authenticated, so one cannot be swapped for
//! another). `insecure_dev_cookies` drops `Secure` and the prefix for plain-http loopback only.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Most transaction-cookie names read from one request (twice the most a browser is ever
/// given, `handlers::MAX_PENDING_TRANSACTIONS`).
pub(crate) const MAX_TX_NAMES: usize = 16;

/// Cookie names and attributes.
#[derive(Clone, Debug)]
pub(crate) struct CookieSettings {
    /// Base of the per-sign-in transaction cookie names (`<base>-<16 hex>`).
    pub tx_prefix: &'static str,
    pub session_name: &'static str,
    pub secure: bool,
}

impl CookieSettings {
    pub fn new(insecure_dev: bool) -> Self {
        if insecure_dev {
            Self {
                tx_prefix: "authsplit-tx",
                session_name: "authsplit-session",
                secure: false,
            }
        } else {
            Self {
                tx_prefix: "__Host-authsplit-tx",
                session_name: "__Host-authsplit-session",
                secure: true,
            }
        }
    }

    /// The transaction cookie of the sign-in with this `state`: `<base>-<first 16 hex digits of
    /// SHA-256(state)>`, so that sign-ins started in parallel tabs each keep their own cookie
    /// (SECURITY.md F1, callback in a different tab). The hash only names the cookie; the state
    /// itself is still compared in constant time against the encrypted payload.
    pub fn tx_name(&self, state: &str) -> String {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(state.as_bytes());
        let mut name = String::with_capacity(self.tx_prefix.len() + 17);
        name.push_str(self.tx_prefix);
        name.push('-');
        for b in d.iter().take(8) {
            name.push_str(&format!("{b:02x}"));
        }
        name
    }

    /// The names of the transaction cookies (`<base>-<16 lower-case hex>`) the request carries,
    /// at most [`MAX_TX_NAMES`] of them: the server sets at most 8, so more are junk, and each
    /// name read may become a `Set-Cookie` that clears it.
    pub fn tx_names_in(&self, headers: &HeaderMap) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in cookie_names(headers) {
            if out.len() >= MAX_TX_NAMES {
                break;
            }
            let is_tx = n
                .strip_prefix(self.tx_prefix)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|h| {
                    h.len() == 16
                        && h.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                });
            if is_tx && !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    /// Whether the request carries a cookie called `name`.
    pub fn has(headers: &HeaderMap, name: &str) -> bool {
        raw_cookie(headers, name).is_some()
    }

    fn build(&self, name: String, value: String, max_age_secs: u64) -> Cookie<'static> {
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

    fn append(headers: &mut HeaderMap, c: &Cookie<'_>) {
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }

    /// Appends the encrypted `Set-Cookie` carrying `payload` as JSON (AEAD, the name as
    /// associated data). Chunk cookies (`name-1`, …) an earlier cookie format split long
    /// sessions into are deleted when the request carries them. Fails when the sealed cookie
    /// would pass the browsers' 4096-byte limit (RFC 6265 §6.1).
    pub fn set<T: Serialize>(
        &self,
        headers: &mut HeaderMap,
        request: Option<&HeaderMap>,
        key: &Key,
        name: &str,
        payload: &T,
        max_age_secs: u64,
    ) -> Result<(), CookieTooLarge> {
        let json = serde_json::to_string(payload).map_err(|_| CookieTooLarge)?;
        let mut jar = CookieJar::new();
        jar.private_mut(key).add(Cookie::new(name.to_owned(), json));
        let sealed = jar
            .get(name)
            .map(|c| c.value().to_owned())
            .ok_or(CookieTooLarge)?;
        if sealed.len() > MAX_SEALED_CHARS {
            return Err(CookieTooLarge);
        }
        Self::append(headers, &self.build(name.to_owned(), sealed, max_age_secs));
        if let Some(req) = request {
            self.clear_chunks(headers, req, name);
        }
        Ok(())
    }

    /// Deletes the legacy chunk cookies of `name` the request carries.
    pub fn clear_legacy_chunks(&self, headers: &mut HeaderMap, request: &HeaderMap, name: &str) {
        self.clear_chunks(headers, request, name);
    }

    fn clear_chunks(&self, headers: &mut HeaderMap, request: &HeaderMap, name: &str) {
        for i in 1..LEGACY_CHUNKS {
            let chunk = format!("{name}-{i}");
            if raw_cookie(request, &chunk).is_some() {
                self.clear_one(headers, chunk);
            }
        }
    }

    fn clear_one(&self, headers: &mut HeaderMap, name: String) {
        let mut c = self.build(name, String::new(), 0);
        c.make_removal();
        Self::append(headers, &c);
    }

    /// Appends `Set-Cookie`s that delete `name` (same attributes, `Max-Age=0`) and any of its
    /// legacy chunk cookies the request carried.
    pub fn clear(&self, headers: &mut HeaderMap, request: Option<&HeaderMap>, name: &str) {
        self.clear_one(headers, name.to_owned());
        if let Some(req) = request {
            self.clear_chunks(headers, req, name);
        }
    }

    /// Reads `name`, decrypts with any of `keys`, parses the JSON payload. Anything that fails
    /// (absent, tampered, a key not in `keys`, bad JSON) is `None`.
    pub fn get<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        keys: &[Key],
        name: &str,
    ) -> Option<T> {
        self.open(headers, keys, name).map(|(v, _)| v)
    }

    /// [`Self::get`], and whether the cookie was sealed with the first (current) key.
    pub fn open<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        keys: &[Key],
        name: &str,
    ) -> Option<(T, bool)> {
        let sealed = raw_cookie(headers, name)?;
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(name.to_owned(), sealed));
        keys.iter().enumerate().find_map(|(i, key)| {
            let c = jar.private(key).get(name)?;
            serde_json::from_str(c.value()).ok().map(|v| (v, i == 0))
        })
    }
}

/// A payload too large for one cookie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieTooLarge;

/// Most characters of a sealed cookie value (name, attributes and value stay < 4096 bytes).
const MAX_SEALED_CHARS: usize = 3800;
/// An earlier cookie format split long sessions over `name`, `name-1`, … `name-3`.
const LEGACY_CHUNKS: usize = 4;

/// The names of all cookies in the request's `Cookie` headers, in order.
fn cookie_names(headers: &HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some((n, _)) = part.trim().split_once('=') {
                out.push(n.to_owned());
            }
        }
    }
    out
}

/// The raw value of the first cookie called `name` in the request's `Cookie` headers.
fn raw_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some((n, val)) = part.trim().split_once('=')
                && n == name
            {
                return Some(val.trim_matches('"').to_owned());
            }
        }
    }
    None
}

/// The transaction cookie payload (SECURITY.md A2: state + challenge + provider, never the
/// verifier).
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
    /// Whether the provider advertises `iss` in the authorization response (RFC 9207 §3).
    #[serde(default)]
    pub require_iss: bool,
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

/// The session cookie payload: only the session's opaque id (144 bits from the OS generator,
/// sealed like every cookie). The session itself — user, tokens, provider — is a record in the
/// store under this id (docs/SECURITY.md S8, S10).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SessionCookie {
    /// The session id: the store key of the record, the refresh single-flight's key.
    pub id: String,
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookie").finish_non_exhaustive()
    }
}
