//! A fast local stub token endpoint for benchmarks (bench/token-bench.sh): `POST /token` answers
//! a constant RFC 6749 §5.1 JSON body immediately. Not an authorization server: it checks
//! nothing. Prints `stub listening on http://IP:PORT` on stdout.
//!
//! `cargo run --release -p authsplit-server --example stub_token_endpoint [-- 127.0.0.1:0]`

use axum::Router;
use axum::routing::post;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let app = Router::new().route(
        "/token",
        post(|| async {
            (
                [("content-type", "application/json"), ("cache-control", "no-store")],
                r#"{"access_token":"bench-access-token","token_type":"Bearer","expires_in":3600,"refresh_token":"bench-refresh-token","scope":"profile"}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("stub listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
