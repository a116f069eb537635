//! Raw TCP servers that misbehave below HTTP, for transport faults at a provider endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How the server misbehaves after reading the request head.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Closes with RST before any response byte.
    ResetBeforeHeaders,
    /// Promises 100 bytes, sends a few, closes.
    TruncatedBody,
    /// A chunked body of 200 × 64 KiB.
    EndlessChunked,
    /// One body byte every 100 ms (at most 100).
    SlowBody,
}

/// Starts a TCP server on 127.0.0.1 that answers every connection with `fault`; returns (base
/// URL, connection counter).
pub async fn fault_server(fault: Fault) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                match fault {
                    Fault::ResetBeforeHeaders => {
                        // SO_LINGER 0: close with RST (a reset, not a clean FIN).
                        #[allow(deprecated)]
                        let _ = sock.set_linger(Some(Duration::ZERO));
                        drop(sock);
                    }
                    Fault::TruncatedBody => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"access_token\":\"x")
                            .await;
                        let _ = sock.shutdown().await;
                    }
                    Fault::EndlessChunked => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                            .await;
                        let chunk = format!("{:x}\r\n{}\r\n", 65536, "a".repeat(65536));
                        for _ in 0..200 {
                            if sock.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                    Fault::SlowBody => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{")
                            .await;
                        for _ in 0..100 {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            if sock.write_all(b" ").await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (base, count)
}

/// A loopback port that refuses connections and stays reserved for the caller: the socket is
/// bound but not listening, so a connection to it is refused and no other process (a test
/// running at the same time) can take the port meanwhile. `socket.listen(n)` serves on it
/// later; dropping the socket frees the port.
pub fn refusing_port() -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (port, socket)
}
