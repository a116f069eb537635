//! The HTTP/1.1 accept loop of the binary, with the connection timeouts `axum::serve` does not
//! offer (docs/SECURITY.md S15, slowloris):
//!
//! - header read: hyper's `header_read_timeout` — the complete header block of a request must
//!   arrive within [`ConnectionTimeouts::header_read`] of the server starting to wait for it (a
//!   new connection, or the end of the previous response on a keep-alive connection, so an
//!   idle keep-alive connection is closed after this time too);
//! - request body: [`tower_http::timeout::RequestBodyDeadlineLayer`] in
//!   [`crate::Authsplit::router`] (`server.request_body_timeout_secs`);
//! - inactivity: a connection on which no byte was read or written for
//!   [`ConnectionTimeouts::idle`] is closed (e.g. a client that never reads its response).
//!
//! - connections: at most [`ConnectionTimeouts::max_connections`] are served at once; past the
//!   cap the server stops accepting until one ends (new ones wait in the listen backlog), so a
//!   flood of connections cannot exhaust memory or file descriptors.
//!
//! Every response carries `Referrer-Policy: no-referrer` (unless the app set its own).
//!
//! Graceful shutdown: on the signal the listener closes, in-flight requests finish, idle
//! keep-alive connections are closed; connections still open after `idle` are dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::ServerConfig;

/// Connection-level timeouts of [`serve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// Deadline for a complete request header block (also bounds keep-alive idling).
    pub header_read: Duration,
    /// A connection with no byte read or written for this long is closed.
    pub idle: Duration,
    /// Most connections served at once (at least 1).
    pub max_connections: usize,
}

impl ConnectionTimeouts {
    /// The timeouts configured in `[server]`.
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_read: Duration::from_secs(server.header_read_timeout_secs.max(1)),
            idle: Duration::from_secs(server.idle_timeout_secs.max(1)),
            max_connections: server.max_connections,
        }
    }
}

/// Serves `app` on `listener` (HTTP/1.1) until `shutdown` completes, then shuts down
/// gracefully (see the module docs).
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    timeouts: ConnectionTimeouts,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    // RFC 9700 §4.2: nothing served here (the SPA's callback page and its scripts, the API)
    // lets the browser send the page's URL — with a callback's code in it — as `Referer`.
    let app = app.layer(SetResponseHeaderLayer::if_not_present(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .keep_alive(true);
    let epoch = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(timeouts.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // A free slot first, then accept: at the cap, new connections wait in the backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let last = Arc::new(AtomicU64::new(millis_since(epoch)));
        let io = TokioIo::new(Tracked {
            inner: stream,
            last: last.clone(),
            epoch,
        });
        let svc = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(builder.serve_connection(io, svc));
        let idle = timeouts.idle;
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                () = inactivity(last, epoch, idle) => {
                    tracing::debug!("connection closed: no traffic for the idle timeout");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(timeouts.idle, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("graceful shutdown: connections still open after the idle timeout");
    }
    Ok(())
}

/// Completes once no byte moved for `idle` (`last` = milliseconds since `epoch`).
async fn inactivity(last: Arc<AtomicU64>, epoch: Instant, idle: Duration) {
    loop {
        let deadline = epoch + Duration::from_millis(last.load(Ordering::Relaxed)) + idle;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

fn millis_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis().min(u128::from(u64::MAX)) as u64
}

/// A TCP stream that records when a byte last moved in either direction.
struct Tracked {
    inner: TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl Tracked {
    fn touch(&self) {
        self.last.store(millis_since(self.epoch), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
