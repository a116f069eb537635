//! Connection timeouts (docs/SECURITY.md S15, slowloris): partial headers, a partial body, an idle
//! keep-alive connection and a silent connection are all closed after the configured time —
//! in-process through `authsplit_server::serve`, and through the real binary.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use authsplit_server::{Authsplit, ConnectionTimeouts};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use authsplit_test_support::*;

/// Starts `serve` on 127.0.0.1:0 with the auth router at /auth; returns the address and the
/// shutdown trigger.
async fn start(
    timeouts: ConnectionTimeouts,
    body_secs: u64,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let stub = Stub::start().await;
    let mut cfg = base_config(&stub);
    cfg.server.request_body_timeout_secs = body_secs;
    let auth = Authsplit::new(cfg).unwrap();
    let app = axum::Router::new().nest("/auth", auth.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(authsplit_server::serve(
        listener,
        app,
        timeouts,
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

/// Reads until EOF (or `limit`); returns what was read and when EOF came (None: still open).
async fn read_to_eof(s: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&out).into_owned(),
                    Some(t0.elapsed()),
                );
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), None),
        }
    }
}

fn secs(header_read: u64, idle: u64) -> ConnectionTimeouts {
    ConnectionTimeouts {
        header_read: Duration::from_secs(header_read),
        idle: Duration::from_secs(idle),
        max_connections: 1024,
    }
}

// Slowloris: a header block that never completes is cut off after header_read.
#[tokio::test]
async fn partial_headers_are_closed_after_the_header_timeout() {
    let (addr, _stop) = start(secs(1, 30), 30).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /auth/token HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let (_, eof) = read_to_eof(&mut s, Duration::from_secs(5)).await;
    let eof = eof.expect("the server closes a connection with partial headers");
    assert!(
        eof >= Duration::from_millis(800) && eof < Duration::from_secs(3),
        "{eof:?}"
    );
}

// A body that never completes: the request fails (400 invalid_request, JSON) after the body
// deadline and the connection is closed.
#[tokio::test]
async fn partial_body_is_refused_after_the_body_timeout() {
    let (addr, _stop) = start(secs(30, 30), 1).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /auth/transactions HTTP/1.1\r\nhost: api.example\r\norigin: {ORIGIN}\r\n\
         x-authsplit: 1\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{{\"prov"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (text, eof) = read_to_eof(&mut s, Duration::from_secs(5)).await;
    let eof = eof.expect("the server closes a connection with a partial body");
    assert!(eof < Duration::from_secs(3), "{eof:?}");
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"invalid_request\""), "{text}");
}

// An idle keep-alive connection (a finished request, then nothing) is closed too: the header
// timer runs while the server waits for the next request.
#[tokio::test]
async fn idle_keep_alive_is_closed() {
    let (addr, _stop) = start(secs(1, 30), 30).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /auth/healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, eof) = read_to_eof(&mut s, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let eof = eof.expect("an idle keep-alive connection is closed");
    assert!(eof < Duration::from_secs(3), "{eof:?}");
}

// A connection with no traffic at all is closed after the inactivity timeout even when the
// header timeout is longer.
#[tokio::test]
async fn silent_connection_is_closed_after_the_idle_timeout() {
    let (addr, _stop) = start(secs(30, 1), 30).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (_, eof) = read_to_eof(&mut s, Duration::from_secs(5)).await;
    let eof = eof.expect("a silent connection is closed");
    assert!(
        eof >= Duration::from_millis(800) && eof < Duration::from_secs(3),
        "{eof:?}"
    );
    // A normal request on a fresh connection still works (keep-alive, then close).
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /auth/healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (text, eof) = read_to_eof(&mut s, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(eof.is_some());
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// The binary applies `server.header_read_timeout_secs` (the reported repro: partial headers
// stayed open for more than 75 s).
#[tokio::test]
async fn binary_closes_partial_headers() {
    let stub = Stub::start().await;
    let dir = std::env::temp_dir().join(format!("authsplit-timeouts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("authsplit.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nallowed_origins = [\"{ORIGIN}\"]\n\
             header_read_timeout_secs = 1\nidle_timeout_secs = 2\n\n[providers.stub]\n\
             authorization_endpoint = \"{}\"\ntoken_endpoint = \"{}\"\nclient_id = \"cid\"\n\
             client_secret = \"s\"\nredirect_uri = \"https://app.example/callback\"\n",
            stub.url("/authorize"),
            stub.url("/token")
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_authsplit-server"))
        .args(["--config", cfg.to_str().unwrap()])
        .env("AUTHSPLIT__SERVER__COOKIE_KEY", b64(&"k".repeat(64)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("authsplit-server listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /auth/token HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let (_, eof) = read_to_eof(&mut s, Duration::from_secs(6)).await;
    let eof = eof.expect("the binary closes a connection with partial headers");
    assert!(eof < Duration::from_secs(4), "{eof:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

// A flood of connections: at most `max_connections` are served at once. With the cap at 2 and
// two silent connections open, a third connection's request gets no answer; once one of the
// two closes, the third is served.
#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let mut t = secs(30, 30);
    t.max_connections = 2;
    let (addr, _stop) = start(t, 30).await;
    let a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /auth/healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(700), c.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the third connection is not served while two are open"
    );
    drop(a);
    let (text, eof) = read_to_eof(&mut c, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(eof.is_some());
}
