//! The real authsplit backend (`authsplit_server::Authsplit::router`), built once per fuzzing
//! process and driven in-process with `tower::ServiceExt::oneshot` on a current-thread tokio
//! runtime. The provider's endpoints point at 127.0.0.1:9 (discard port, nothing listens), so
//! an exchange that gets past every local check fails fast with "connection refused".

#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use authsplit_server::{Authsplit, ClientAuth, Config, ProviderConfig};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};

/// The allowed SPA origin.
pub const ORIGIN: &str = "https://app.example";
/// The fixed cookie key (64 bytes) the fuzz server uses; the cookie target seals with it too.
pub const KEY_BYTES: [u8; 64] = [42u8; 64];
/// The fixed clock (unix seconds).
pub const NOW: u64 = 1_800_000_000;
/// Cookie names with production settings (`__Host-` prefix); a transaction cookie is
/// `<prefix>-<16 hex of SHA-256(state)>`.
pub const TX_COOKIE_PREFIX: &str = "__Host-authsplit-tx";
/// Session cookie name.
pub const SESSION_COOKIE: &str = "__Host-authsplit-session";
/// The client secret: must never appear in any response.
pub const CLIENT_SECRET: &str = "FUZZ_CLIENT_SECRET_5f1c2b9e7a";

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub app: Router,
}

pub static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let provider = |auth| {
        ProviderConfig::oauth2(
            "http://127.0.0.1:9/authorize",
            "http://127.0.0.1:9/token",
            "fuzz-client",
            CLIENT_SECRET,
            "https://app.example/callback",
        )
        .client_auth(auth)
        .scopes(&["profile"])
        .revocation_endpoint("http://127.0.0.1:9/revoke")
    };
    let config = Config::builder()
        .cookie_key_bytes(&KEY_BYTES)
        .allowed_origin(ORIGIN)
        .provider("stub", provider(ClientAuth::Basic))
        .provider("stubpost", provider(ClientAuth::Post))
        .build();
    let app = {
        let _guard = rt.enter();
        let auth = Authsplit::builder(config)
            .clock(Arc::new(|| NOW))
            .build()
            .expect("fuzz config builds");
        Router::new().nest("/auth", auth.router())
    };
    Harness { rt, app }
});

pub use authsplit_test_support::Resp;

/// A POST the way the browser half sends it (CSRF header, allowed Origin, JSON), with any body
/// and cookie bytes: the test kit's one request builder.
pub fn post(path: &str, body: Vec<u8>, cookie: Option<&[u8]>) -> Request<Body> {
    authsplit_test_support::post_bytes(path, body, cookie, &[])
}

/// `FUZZ_DEBUG=1`: print every request's path and the response (to check what seeds reach).
static DEBUG: LazyLock<bool> = LazyLock::new(|| std::env::var_os("FUZZ_DEBUG").is_some());

/// Sends one request through the real router and reads the whole response.
pub fn send(req: Request<Body>) -> Resp {
    let h = &*HARNESS;
    let path = req.uri().path().to_owned();
    let r = h.rt.block_on(authsplit_test_support::send(&h.app, req));
    if *DEBUG {
        eprintln!("{path} -> {} {}", r.status, r.text);
    }
    r
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Checks every response: never a 500 (the server turns handler panics into 500 `internal`),
/// an error body always names a stable error code, and the client secret never appears.
pub fn check_common(r: &Resp, what: &str) {
    assert_ne!(
        r.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what}: 500 (a handler panicked?): {}",
        String::from_utf8_lossy(&r.body)
    );
    if r.status.is_client_error() || r.status.is_server_error() {
        assert!(
            authsplit_core::ErrorCode::parse(r.error()).is_some(),
            "{what}: status {} without a known error code: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    assert!(
        !contains(&r.everything(), CLIENT_SECRET.as_bytes()),
        "{what}: the client secret leaked"
    );
}
