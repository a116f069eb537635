//! The encrypted cookies — one transaction cookie per pending sign-in (`<base>-<16 hex of
//! SHA-256(state)>`) and the session cookie (SECURITY.md A4; RFC 10017 §6.1.3.2): `Secure;
//! HttpOnly; SameSite=Strict; Path=/`, no `Domain`, `__Host-` prefix, AES-256-GCM through the
//! `cookie` crate's private jar (the cookie name is authenticated, so one cannot be swapped for
//! another). `insecure_dev_cookies` drops `Secure` and the prefix for plain-http loopback only.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, CookieJar, Key};
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
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut name = String::with_capacity(self.tx_prefix.len() + 17);
        name.push_str(self.tx_prefix);
        name.push('-');
        for b in d.iter().take(8) {
            name.push(char::from(HEX[usize::from(b >> 4)]));
            name.push(char::from(HEX[usize::from(b & 0xf)]));
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
            if is_tx && !out.iter().any(|o| o == n) {
                out.push(n.to_owned());
            }
        }
        out
    }

    /// Whether the request carries a cookie called `name`.
    pub fn has(headers: &HeaderMap, name: &str) -> bool {
        raw_cookie(headers, name).is_some()
    }

    /// The attributes of every cookie set here, in the order the `cookie` crate writes them
    /// (RFC 6265 §4.1.1; checked against it in the tests).
    fn attributes(&self) -> &'static str {
        if self.secure {
            "; HttpOnly; SameSite=Strict; Secure; Path=/"
        } else {
            "; HttpOnly; SameSite=Strict; Path=/"
        }
    }

    /// Appends `Set-Cookie: name=value` with [`Self::attributes`] and `Max-Age` (RFC 6265
    /// §5.2.2), plus, for a deletion, an `Expires` in the past (§5.2.1) for clients that ignore
    /// `Max-Age`. `name` and `value` are cookie tokens this module made (a configured prefix,
    /// hex, the private jar's base64).
    fn append(&self, headers: &mut HeaderMap, name: &str, value: &str, max_age_secs: u64) {
        let attrs = self.attributes();
        let mut s = String::with_capacity(name.len() + value.len() + attrs.len() + 72);
        s.push_str(name);
        s.push('=');
        s.push_str(value);
        s.push_str(attrs);
        s.push_str("; Max-Age=");
        push_decimal(&mut s, max_age_secs.min(i64::MAX as u64));
        if max_age_secs == 0 {
            s.push_str(REMOVAL_EXPIRES);
        }
        if let Ok(v) = HeaderValue::from_str(&s) {
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
        self.append(headers, name, &sealed, max_age_secs);
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
                self.clear_one(headers, &chunk);
            }
        }
    }

    fn clear_one(&self, headers: &mut HeaderMap, name: &str) {
        self.append(headers, name, "", 0);
    }

    /// Appends `Set-Cookie`s that delete `name` (same attributes, `Max-Age=0`) and any of its
    /// legacy chunk cookies the request carried.
    pub fn clear(&self, headers: &mut HeaderMap, request: Option<&HeaderMap>, name: &str) {
        self.clear_one(headers, name);
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
        let jar = CookieJar::new();
        keys.iter().enumerate().find_map(|(i, key)| {
            let c = jar
                .private(key)
                .decrypt(Cookie::new(name.to_owned(), sealed.to_owned()))?;
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

/// `Expires` of a deletion: a fixed date in the past (RFC 6265 §5.2.1, the `cookie` crate's
/// date format).
const REMOVAL_EXPIRES: &str = "; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

/// Appends `n` in decimal.
fn push_decimal(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

/// The names of all cookies in the request's `Cookie` headers, in order.
fn cookie_names(headers: &HeaderMap) -> Vec<&str> {
    let mut out = Vec::new();
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some((n, _)) = part.trim().split_once('=') {
                out.push(n);
            }
        }
    }
    out
}

/// The raw value of the first cookie called `name` in the request's `Cookie` headers.
fn raw_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some((n, val)) = part.trim().split_once('=')
                && n == name
            {
                return Some(val.trim_matches('"'));
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

#[cfg(test)]
mod tests {
    use super::*;
    use cookie::SameSite;

    fn set_cookies(h: &HeaderMap) -> Vec<String> {
        h.get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    /// The `cookie` crate's rendering of the same cookie (what this module wrote before it
    /// built the header itself).
    fn crate_form(secure: bool, name: &str, value: &str, max_age: i64) -> String {
        Cookie::build((name.to_owned(), value.to_owned()))
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(time::Duration::seconds(max_age))
            .build()
            .to_string()
    }

    #[test]
    fn set_cookie_is_the_cookie_crates_form() {
        for secure in [true, false] {
            let c = CookieSettings::new(!secure);
            for age in [1u64, 9, 10, 600, 86_400, 1_234_567_890] {
                let mut h = HeaderMap::new();
                c.append(&mut h, "__Host-a-0f", "v4lue+/=", age);
                assert_eq!(
                    set_cookies(&h),
                    vec![crate_form(secure, "__Host-a-0f", "v4lue+/=", age as i64)]
                );
            }
            let mut h = HeaderMap::new();
            c.append(&mut h, "n", "v", u64::MAX);
            assert_eq!(
                set_cookies(&h),
                vec![crate_form(secure, "n", "v", i64::MAX)]
            );
        }
    }

    /// A deletion: the crate's removal form (empty value, `Max-Age=0`) with a fixed `Expires`
    /// in the past instead of "a year ago".
    #[test]
    fn removal_has_max_age_0_and_a_past_expires() {
        let c = CookieSettings::new(false);
        let mut h = HeaderMap::new();
        c.clear(&mut h, None, "__Host-authsplit-session");
        let got = set_cookies(&h);
        assert_eq!(got.len(), 1);
        let mut expected = crate_form(true, "__Host-authsplit-session", "", 0);
        expected.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(got[0], expected);
        let parsed = Cookie::parse(got[0].clone()).expect("parses");
        assert_eq!(parsed.max_age(), Some(time::Duration::ZERO));
        let exp = parsed.expires_datetime().expect("expires");
        assert!(exp < time::OffsetDateTime::now_utc());
    }

    #[test]
    fn tx_name_is_16_hex_of_sha256_state() {
        use sha2::Digest as _;
        let c = CookieSettings::new(false);
        for state in ["", "s", "st-0123456789abcdefghijklmnopqrstuvwxyzABCDE"] {
            let d = sha2::Sha256::digest(state.as_bytes());
            let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
            assert_eq!(c.tx_name(state), format!("__Host-authsplit-tx-{hex}"));
        }
    }

    #[test]
    fn raw_cookie_and_names_borrow_the_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=\"2\""));
        h.append(header::COOKIE, HeaderValue::from_static("c=3;a=4"));
        assert_eq!(raw_cookie(&h, "a"), Some("1"));
        assert_eq!(raw_cookie(&h, "b"), Some("2"));
        assert_eq!(raw_cookie(&h, "c"), Some("3"));
        assert_eq!(raw_cookie(&h, "d"), None);
        assert_eq!(cookie_names(&h), vec!["a", "b", "c", "a"]);
    }
}
