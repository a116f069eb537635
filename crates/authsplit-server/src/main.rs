//! `authsplit-server`: runs the authsplit backend from a config file.
//!
//! Prints exactly one line on stdout once it accepts connections:
//! `authsplit-server listening on http://<ip>:<port>` (the real port, also for port 0).
//! Everything else (the start-up log, warnings, request logs) goes to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use authsplit_core::ErrorCode;
use authsplit_server::{Authsplit, Config};
use clap::Parser;
use tower_http::services::{ServeDir, ServeFile};

/// The binary allocates through mimalloc (default feature `mimalloc`; `--no-default-features`
/// builds it on the system allocator). Measured in docs/BENCHMARKS.md, "Allocator".
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The authsplit backend: holds the OAuth client secret, redeems authorization codes for the
/// browser half, refreshes and revokes tokens.
///
/// Configuration comes from a TOML file (see authsplit.example.toml) with environment
/// overrides: AUTHSPLIT__<SECTION>__<KEY>, `__` between path parts, e.g.
/// AUTHSPLIT__SERVER__COOKIE_KEY or AUTHSPLIT__PROVIDERS__LOCAL__CLIENT_SECRET. Keep secrets in
/// the environment.
///
/// Routes: the auth API at /auth (POST /auth/transactions, /auth/token, /auth/refresh,
/// /auth/logout; GET /auth/config, /auth/healthz), GET /api/hello when server.demo_api is on,
/// and the static SPA at / when a static directory is set.
///
/// Stdout carries exactly one line, `authsplit-server listening on http://IP:PORT`; logs go to
/// stderr (filter with RUST_LOG, e.g. RUST_LOG=authsplit_server=debug). SIGINT/SIGTERM stop it
/// gracefully.
#[derive(Debug, Parser)]
#[command(name = "authsplit-server", version, about, long_about)]
struct Cli {
    /// Path of the TOML configuration file. Without it, configuration comes from AUTHSPLIT__*
    /// environment variables only.
    #[arg(long, env = "AUTHSPLIT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Listen address, overriding server.listen: IP:PORT or HOST:PORT (e.g. 127.0.0.1:0 for a
    /// free port, localhost:8080).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,

    /// Serve this directory at / (a single-page app: unknown paths fall back to index.html),
    /// overriding server.static_dir.
    #[arg(long, value_name = "DIR")]
    static_dir: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Check the configuration (and run discovery), print the providers, and exit: 0 when it
    /// is usable, 1 for a configuration error (also one that discovery found: issuer mismatch,
    /// no S256, no usable client authentication), 3 when a provider could not be reached.
    #[arg(long)]
    check: bool,

    /// Print the provider preset names, one per line, and exit.
    #[arg(long)]
    list_presets: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Exit codes (documented in crates/authsplit-server/README.md): 0 success; 1 a configuration
/// error, found before or by discovery, or any other failure; 2 a command-line usage error
/// (clap); 3 `--check` could not reach a provider (transport failure, timeout, HTTP 5xx
/// discovery answer), which says nothing about the configuration.
const EXIT_CONFIG: u8 = 1;
const EXIT_UNREACHABLE: u8 = 3;

/// Why the binary stops.
enum Failure {
    Config(String),
    Unreachable(String),
}

impl From<String> for Failure {
    fn from(msg: String) -> Self {
        Self::Config(msg)
    }
}

/// Whether a discovery failure is the provider not answering usefully right now (retried on
/// first use when serving) rather than a problem with the configuration.
fn is_unreachable(e: &authsplit_core::Error) -> bool {
    e.is_retryable()
        || (e.code() == ErrorCode::DiscoveryFailed && e.response().is_some_and(|r| r.status >= 500))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_presets {
        for name in authsplit_core::provider::PRESET_NAMES {
            println!("{name}");
        }
        return ExitCode::SUCCESS;
    }
    let format = cli.log_format;
    init_tracing(format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "could not start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // Printed once: a plain line for people, or one JSON log record for machines.
        Err(failure) => {
            let (msg, code) = match failure {
                Failure::Config(msg) => (msg, EXIT_CONFIG),
                Failure::Unreachable(msg) => (msg, EXIT_UNREACHABLE),
            };
            match format {
                LogFormat::Text => eprintln!("authsplit-server: {msg}"),
                LogFormat::Json => tracing::error!("{msg}"),
            }
            ExitCode::from(code)
        }
    }
}

/// The binary keeps its state in the embedded store unless told otherwise: without `[store]
/// url` it is `sqlite:`, and without `data_dir` the file goes next to the configuration file
/// (`<its directory>/authsplit.sqlite3`; the working directory without one), so a single
/// instance keeps its sessions and logouts across restarts (docs/DEPLOYMENT.md).
fn embedded_store_by_default(config: &mut Config, config_file: Option<&std::path::Path>) {
    if config.store.url.is_none() {
        config.store.url = Some(authsplit_server::Secret::new("sqlite:"));
    }
    if config.store.data_dir.is_none() {
        let dir = config_file
            .and_then(std::path::Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("."),
                std::path::Path::to_path_buf,
            );
        config.store.data_dir = Some(dir);
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    embedded_store_by_default(&mut config, cli.config.as_deref());
    if let Some(l) = cli.listen {
        config.server.listen = l;
    }
    if let Some(d) = cli.static_dir {
        config.server.static_dir = Some(d);
    }
    let addr =
        authsplit_server::config::parse_listen(&config.server.listen).map_err(|e| e.to_string())?;
    let auth = Authsplit::new(config).map_err(|e| e.to_string())?;
    for w in auth.warnings() {
        tracing::warn!("!!! {w}");
    }
    tracing::info!(backend = auth.store_backend(), "session store opened");
    for p in auth.providers() {
        tracing::info!(provider = %p.id, name = %p.name, preset = %p.preset.as_deref().unwrap_or("-"), issuer = p.issuer.as_deref().unwrap_or("-"),
            client_id = %p.client_id, client_auth = %p.client_auth, redirect_uri = %p.redirect_uri,
            "provider loaded");
    }
    // Discovery up front: a configuration problem it finds (wrong issuer, no S256, no usable
    // client authentication) refuses to start; an unreachable provider is retried on first
    // use when serving, and is its own exit code under --check.
    let mut unreachable = Vec::new();
    for (id, e) in auth.warm_up().await {
        if !is_unreachable(&e) {
            return Err(Failure::Config(format!("provider `{id}`: {}", e.message)));
        }
        tracing::warn!(provider = %id, code = e.code().as_str(),
            "discovery failed at start-up ({}); will retry on first use", e.message);
        unreachable.push(format!(
            "provider `{id}`: {} ({})",
            e.message,
            e.code().as_str()
        ));
    }
    if cli.check && !unreachable.is_empty() {
        return Err(Failure::Unreachable(format!(
            "could not check every provider: {}",
            unreachable.join("; ")
        )));
    }
    if cli.check {
        tracing::info!("configuration OK");
        return Ok(());
    }

    let server = auth.server_config().clone();
    let mut app: axum::Router = axum::Router::new().nest("/auth", auth.router());
    if server.demo_api {
        tracing::warn!("!!! demo API enabled: GET /api/hello (example only)");
        app = app.nest("/api", auth.demo_api_router());
    }
    if let Some(path) = auth.upstream_path() {
        let taken = ["/auth"]
            .iter()
            .chain(server.demo_api.then_some(&"/api"))
            .any(|t| path == *t || path.starts_with(&format!("{t}/")));
        if taken {
            return Err(format!("upstream.path {path} overlaps a route of this server").into());
        }
        tracing::info!(path, "forwarding to the upstream API");
        app = app.nest(path, auth.upstream_router());
    }
    if let Some(dir) = &server.static_dir {
        if !dir.join("index.html").is_file() {
            return Err(format!("static dir {} has no index.html", dir.display()).into());
        }
        tracing::info!(dir = %dir.display(), "serving the SPA at /");
        let spa = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
        app = app.fallback_service(spa);
    }

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("could not listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "authsplit-server listening on http://{local}");
        let _ = stdout.flush();
    }
    tracing::info!(%local, "ready");
    let timeouts = authsplit_server::ConnectionTimeouts::from_config(&server);
    tracing::info!(
        header_read_timeout_secs = server.header_read_timeout_secs,
        request_body_timeout_secs = server.request_body_timeout_secs,
        idle_timeout_secs = server.idle_timeout_secs,
        max_connections = server.max_connections,
        "connection limits"
    );
    authsplit_server::serve(listener, app, timeouts, shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
