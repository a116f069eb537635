//! A fast local stub token endpoint for the benchmarks (`bench/`): `POST /token` answers a
//! constant RFC 6749 §5.1 JSON body immediately
//! ([`authsplit_test_support::bench::constant_token_endpoint`]). Prints
//! `stub listening on http://IP:PORT` on stdout.
//!
//! `cargo run --release -p authsplit-test-support --bin stub_token_endpoint [-- 127.0.0.1:0]`

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("stub listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        authsplit_test_support::bench::constant_token_endpoint(),
    )
    .await
}
