//! OIDC helpers: an Ed25519 (RFC 8037) signing key, its JWKS, ID tokens, a discovery document,
//! and a provider configured by issuer on the stub.

use authsplit_server::{ClientAuth, Config, ProviderConfig};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::http::token_body;
use crate::stub::{Reply, Stub};
use crate::{ACCESS_TOKEN, CLIENT_ID, NONCE, ORIGIN, REFRESH_TOKEN, SECRET};

/// RFC 8032 §7.1 test 1: the private key (seed) …
pub const ED_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// … and the public key.
pub const ED_PUB: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Hex → bytes.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The Ed25519 signing key.
pub fn signing_key() -> EncodingKey {
    // PKCS#8 v1 wrapper for an Ed25519 seed (RFC 8410 §7).
    let mut der = hex("302e020100300506032b657004220420");
    der.extend(hex(ED_SEED));
    EncodingKey::from_ed_der(&der)
}

/// The JWKS with the public key (`kid` `k1`).
pub fn jwks() -> Value {
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex(ED_PUB));
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA", "use": "sig"}]})
}

/// An EdDSA-signed ID token with these claims.
pub fn id_token(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k1".into());
    jsonwebtoken::encode(&h, claims, &signing_key()).unwrap()
}

/// A discovery document for `issuer` with the stub's endpoints.
pub fn discovery(stub: &Stub, issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": stub.url("/authorize"),
        "token_endpoint": stub.url("/token"),
        "userinfo_endpoint": stub.url("/userinfo"),
        "revocation_endpoint": stub.url("/revoke"),
        "end_session_endpoint": stub.url("/session/end"),
        "jwks_uri": stub.url("/jwks"),
        "authorization_response_iss_parameter_supported": true
    })
}

/// A configuration with one provider `op`: OIDC by issuer (the stub), Basic auth.
pub fn oidc_config(stub: &Stub) -> Config {
    let p = ProviderConfig::oidc(
        &stub.base,
        CLIENT_ID,
        SECRET,
        "https://app.example/callback",
    )
    .client_auth(ClientAuth::Basic)
    .scopes(&["openid", "profile", "offline_access"]);
    Config::builder()
        .cookie_key_bytes(&[9u8; 64])
        .allowed_origin(ORIGIN)
        .provider("op", p)
        .build()
}

/// Now, in unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Valid ID token claims for the stub as issuer.
pub fn good_claims(stub: &Stub) -> Value {
    json!({"iss": stub.base, "aud": CLIENT_ID, "sub": "user-1", "exp": now() + 300,
           "iat": now(), "nonce": NONCE})
}

/// A token response carrying `idt`.
pub fn token_reply_with(idt: String) -> Reply {
    Reply::json(
        200,
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer",
        "expires_in": 3600, "refresh_token": REFRESH_TOKEN, "id_token": idt}),
    )
}

/// The stub with discovery and JWKS.
pub async fn oidc_stub() -> Stub {
    let stub = Stub::start().await;
    *stub.inner.discovery.lock().unwrap() = Some(discovery(&stub, &stub.base));
    *stub.inner.jwks.lock().unwrap() = Some(jwks());
    stub
}

/// A `/token` body for the OIDC stub, with the `iss` the callback carries (RFC 9207).
pub fn op_token_body(stub: &Stub) -> Value {
    let mut b = token_body("op");
    b["iss"] = json!(stub.base);
    b
}
