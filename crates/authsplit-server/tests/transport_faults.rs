//! Transport faults at the token endpoint (docs/SECURITY.md F3 "Token endpoint replies"), injected by a
//! raw TCP stub on 127.0.0.1: reset before headers, truncated body, an endless chunked body,
//! a slow body. For each: the typed error, exactly one connection (never retried, RFC 6749
//! §4.1.2 / docs/SECURITY.md S8), and failure within the deadline.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use authsplit_server::{ClientAuth, Config};
use authsplit_test_support::faults::{Fault, fault_server};
use authsplit_test_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn run(fault: Fault, status: u16, code: &str) {
    let stub = Stub::start().await;
    let (base, count) = fault_server(fault).await;
    let mut p = stub_provider(&stub, ClientAuth::Basic);
    p.token_endpoint = Some(format!("{base}/token"));
    let mut cfg = Config::builder()
        .cookie_key_bytes(&[5u8; 64])
        .allowed_origin(ORIGIN)
        .provider("stub", p)
        .build();
    cfg.server.request_timeout_ms = 800;
    cfg.server.max_response_bytes = 64 * 1024;
    let app = app_with(cfg, None);
    let cookie = register(&app, "stub").await;
    let t0 = Instant::now();
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_error(&r, status, code);
    assert!(
        t0.elapsed() < Duration::from_millis(800 + 700),
        "fails within the deadline + ε"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "exactly one connection: never retried"
    );
    assert!(r.json.get("access_token").is_none());
}

// Reset before any response byte: the code may have been consumed → no retry (docs/SECURITY.md S8).
#[tokio::test]
async fn reset_before_headers_is_unreachable_without_retry() {
    run(Fault::ResetBeforeHeaders, 502, "provider_unreachable").await;
}

// Headers, then the connection closes mid-body.
#[tokio::test]
async fn truncated_body_is_unreachable_without_retry() {
    run(Fault::TruncatedBody, 502, "provider_unreachable").await;
}

// docs/SECURITY.md S15: the response body is capped (an endless chunked body stops at the cap).
#[tokio::test]
async fn endless_body_hits_the_size_cap() {
    run(Fault::EndlessChunked, 502, "provider_bad_response").await;
}

// docs/SECURITY.md S15: the total timeout covers a slow body.
#[tokio::test]
async fn slow_body_times_out() {
    run(Fault::SlowBody, 504, "provider_timeout").await;
}

// docs/SECURITY.md S3, F2 "1 MB body": a chunked 1 MiB upload over a real socket gets a readable
// JSON 413 (the server drains instead of resetting the connection under the client's feet).
#[tokio::test]
async fn chunked_megabyte_upload_gets_a_readable_413() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let writer = tokio::spawn(async move {
        let head = format!(
            "POST /auth/token HTTP/1.1\r\nhost: {addr}\r\norigin: {ORIGIN}\r\nx-authsplit: 1\r\n\
             content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        wr.write_all(head.as_bytes()).await?;
        let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
        for _ in 0..16 {
            wr.write_all(chunk.as_bytes()).await?;
            // A client uploading at a finite pace (the server answers before the upload ends).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        wr.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(wr)
    });
    // Like a browser or node: an upload that fails (EPIPE/reset) loses the response; so the
    // whole body must be accepted, then the response read.
    let upload = writer.await.unwrap();
    assert!(
        upload.is_ok(),
        "upload cut off by the server: {:?}",
        upload.err()
    );
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rd.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => {
                resp.extend_from_slice(&buf[..n]);
                if resp.windows(14).any(|w| w == b"body_too_large") {
                    break;
                }
            }
            Ok(Err(e)) => panic!("connection reset before the response was read: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("body_too_large"), "{text}");
    assert_eq!(stub.calls().len(), 0);
}
