//! The `authsplit-server` binary contract: `--config`, env overrides, port 0 with exactly one
//! stdout line `authsplit-server listening on http://IP:PORT`, the SPA fallback, refusing to
//! start without a cookie key or with a wrong issuer, and graceful shutdown on SIGTERM.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use authsplit_test_support::*;

const BIN: &str = env!("CARGO_BIN_EXE_authsplit-server");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("authsplit.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("authsplit-bin-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config_text(stub: &Stub, extra_server: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:8080"
allowed_origins = ["{ORIGIN}"]
{extra_server}

[providers.stub]
name = "Stub"
authorization_endpoint = "{a}"
token_endpoint = "{t}"
client_id = "cid"
redirect_uri = "https://app.example/callback"
"#,
        a = stub.url("/authorize"),
        t = stub.url("/token"),
    )
}

async fn get(url: &str) -> (u16, String) {
    // The library installs no process-wide crypto provider; this test's own client needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

// The harness contract: port 0, the one stdout line, env overrides for secrets, SPA fallback,
// SIGTERM → clean exit.
#[tokio::test]
async fn starts_on_port_zero_serves_and_stops_gracefully() {
    let stub = Stub::start().await;
    let dir = tmpdir("ok");
    let spa = dir.join("spa");
    std::fs::create_dir_all(&spa).unwrap();
    std::fs::write(spa.join("index.html"), "<!doctype html><title>spa</title>").unwrap();
    let cfg = write_config(&dir, &config_text(&stub, ""));
    let child = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--static-dir", spa.to_str().unwrap()])
        .env("AUTHSPLIT__SERVER__COOKIE_KEY", b64(&"k".repeat(64)))
        .env("AUTHSPLIT__PROVIDERS__STUB__CLIENT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut stdout = BufReader::new(running.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("authsplit-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let (s, body) = get(&format!("{url}/auth/healthz")).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = get(&format!("{url}/auth/config")).await;
    assert_eq!(s, 200);
    assert!(
        body.contains("\"stub\"") && !body.contains(SECRET),
        "{body}"
    );
    // SPA client-side route falls back to index.html.
    let (s, body) = get(&format!("{url}/callback?code=x&state=y")).await;
    assert_eq!(s, 200);
    assert!(body.contains("<title>spa</title>"));

    // SIGTERM → graceful exit 0.
    let pid = running.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..50 {
        if let Some(s) = running.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("exits within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest.trim(), "", "exactly one stdout line");
    let mut err = String::new();
    running
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("provider loaded"), "{err}");
    assert!(
        !err.contains(SECRET) && !err.contains("a%2Bb"),
        "no secret in the start-up log"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_to_exit(args: &[&str], envs: &[(&str, String)]) -> (bool, String, String) {
    let mut c = Command::new(BIN);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// docs/SECURITY.md A4: the cookie key is mandatory; dev generation is explicit and loudly logged.
#[tokio::test]
async fn refuses_to_start_without_cookie_key_and_warns_in_dev_mode() {
    let stub = Stub::start().await;
    let dir = tmpdir("nokey");
    let cfg = write_config(&dir, &config_text(&stub, ""));
    let secret = (
        "AUTHSPLIT__PROVIDERS__STUB__CLIENT_SECRET",
        SECRET.to_owned(),
    );
    let (ok, out, err) = run_to_exit(
        &["--config", cfg.to_str().unwrap(), "--check"],
        std::slice::from_ref(&secret),
    );
    assert!(!ok && out.is_empty());
    assert!(err.contains("cookie_key is required"), "{err}");

    let cfg = write_config(
        &dir,
        &config_text(
            &stub,
            "dev_generate_cookie_key = true\ninsecure_dev_cookies = true",
        ),
    );
    let (ok, _out, err) = run_to_exit(&["--config", cfg.to_str().unwrap(), "--check"], &[secret]);
    assert!(ok, "{err}");
    assert!(
        err.contains("DEV ONLY: server.dev_generate_cookie_key"),
        "{err}"
    );
    assert!(
        err.contains("DEV ONLY: server.insecure_dev_cookies"),
        "{err}"
    );
    // Missing client secret is a clear error naming the env variable.
    let (ok, _out, err) = run_to_exit(&["--config", cfg.to_str().unwrap(), "--check"], &[]);
    assert!(!ok);
    assert!(
        err.contains("AUTHSPLIT__PROVIDERS__STUB__CLIENT_SECRET"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// OIDC Discovery §4.3: a discovered issuer that differs from the configured one refuses start-up.
#[tokio::test]
async fn refuses_to_start_on_issuer_mismatch() {
    let stub = Stub::start().await;
    *stub.inner.discovery.lock().unwrap() = Some(serde_json::json!({
        "issuer": format!("{}/", stub.base),
        "authorization_endpoint": stub.url("/authorize"),
        "token_endpoint": stub.url("/token"),
    }));
    let dir = tmpdir("iss");
    let text = format!(
        "[server]\ncookie_key = \"{}\"\n[providers.op]\nissuer = \"{}\"\nclient_id = \"c\"\nclient_secret = \"s\"\nredirect_uri = \"https://app.example/cb\"\n",
        b64(&"k".repeat(64)),
        stub.base
    );
    let cfg = write_config(&dir, &text);
    let stub_clone = stub.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run_to_exit(
            &["--config", cfg.to_str().unwrap(), "--listen", "127.0.0.1:0"],
            &[],
        )
    })
    .await
    .unwrap();
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("differs from the configured"), "{err}");
    assert_eq!(
        stub_clone
            .calls_to("/.well-known/openid-configuration")
            .len(),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// The example config in the repository parses and validates (with secrets from "env").
#[test]
fn example_config_is_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../authsplit.example.toml"
    ))
    .unwrap();
    let mut cfg = authsplit_server::Config::from_toml_str(&text).unwrap();
    cfg.server.cookie_key = Some(authsplit_server::Secret::new(b64(&"k".repeat(64))));
    cfg.providers.get_mut("local").unwrap().client_secret =
        Some(authsplit_server::Secret::new("s"));
    // The example's embedded store, in a temporary directory.
    let dir = tmpdir("example");
    cfg.store.data_dir = Some(dir.clone());
    let auth = authsplit_server::Authsplit::new(cfg).unwrap();
    assert_eq!(auth.providers()[0].id, "local");
    assert_eq!(auth.store_backend(), "sqlite");
    assert!(dir.join("authsplit.sqlite3").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

// `--help` explains every option.
#[test]
fn help_lists_every_option() {
    let (ok, out, _) = run_to_exit(&["--help"], &[]);
    assert!(ok);
    for opt in [
        "--config",
        "AUTHSPLIT_CONFIG",
        "--listen",
        "--static-dir",
        "--log-format",
        "--check",
        "--list-presets",
        "AUTHSPLIT__",
    ] {
        assert!(out.contains(opt), "{opt} in --help");
    }
}

// The preset names have one source, core's table: `--list-presets` prints exactly it, one per
// line, without needing a configuration (the e2e quirk server reads its presets from here).
#[test]
fn list_presets_prints_the_one_table() {
    let (ok, out, err) = run_to_exit(&["--list-presets"], &[]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        authsplit_core::provider::PRESET_NAMES
    );
}

// Presets through the binary. `--check` refuses an unknown preset (listing the valid
// names, no secret), accepts `[providers.github]` with only id + secret (the secret from the
// environment, the redirect URI from `[server]`), and logs the DEV/TEST-only `dev_origin`.
#[test]
fn check_validates_presets() {
    let dir = tmpdir("presets");
    let key = b64(&"k".repeat(64));
    let secret = (
        "AUTHSPLIT__PROVIDERS__GITHUB__CLIENT_SECRET",
        "env-secret-XYZ".to_owned(),
    );
    let cfg = write_config(
        &dir,
        &format!(
            "[server]\ncookie_key = \"{key}\"\nredirect_uri = \"https://app.example/callback\"\n\
             [providers.github]\npreset = \"githubb\"\nclient_id = \"gh\"\n"
        ),
    );
    let (ok, out, err) = run_to_exit(
        &["--config", cfg.to_str().unwrap(), "--check"],
        std::slice::from_ref(&secret),
    );
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("unknown provider preset `githubb`") && err.contains("wechat_mp, "),
        "{err}"
    );
    assert!(!err.contains("env-secret-XYZ"), "{err}");

    let cfg = write_config(
        &dir,
        &format!(
            "[server]\ncookie_key = \"{key}\"\nredirect_uri = \"https://app.example/callback\"\n\
             [providers.github]\nclient_id = \"gh\"\ndev_origin = \"http://127.0.0.1:9\"\n"
        ),
    );
    let (ok, _out, err) = run_to_exit(
        &["--config", cfg.to_str().unwrap(), "--check"],
        std::slice::from_ref(&secret),
    );
    assert!(ok, "{err}");
    assert!(err.contains("preset=github"), "{err}");
    assert!(
        err.contains("DEV/TEST ONLY: providers.github.dev_origin"),
        "{err}"
    );
    assert!(!err.contains("env-secret-XYZ"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_for_code(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn oidc_check_config(dir: &std::path::Path, issuer: &str, extra: &str) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "[server]\ncookie_key = \"{}\"\n[providers.op]\nissuer = \"{issuer}\"\nclient_id = \"c\"\n\
             client_secret = \"s\"\nredirect_uri = \"https://app.example/cb\"\n{extra}",
            b64(&"k".repeat(64)),
        ),
    )
}

// `--check` exit codes (crates/authsplit-server/README.md): 0 usable; 1 a configuration error,
// including one discovery finds (no usable client authentication without an explicit one,
// issuer mismatch, no S256); 3 a provider that cannot be reached. An explicit client_auth
// that discovery does not list is used, with a warning, and the check passes.
#[tokio::test]
async fn check_exit_codes_tell_configuration_errors_from_unreachable_providers() {
    let stub = Stub::start().await;
    let doc = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut d = serde_json::json!({
            "issuer": stub.base,
            "authorization_endpoint": stub.url("/authorize"),
            "token_endpoint": stub.url("/token"),
            "jwks_uri": stub.url("/jwks"),
            "token_endpoint_auth_methods_supported": ["none"],
        });
        f(&mut d);
        d
    };
    let dir = tmpdir("check-codes");
    let cases: Vec<(&str, serde_json::Value, &str, i32, &str)> = vec![
        (
            "explicit client_auth, discovery lists only none",
            doc(&|_| {}),
            "client_auth = \"client_secret_basic\"\n",
            0,
            "does not list the configured client_auth client_secret_basic",
        ),
        (
            "no client_auth, discovery lists only none",
            doc(&|_| {}),
            "",
            1,
            "neither client_secret_basic nor client_secret_post",
        ),
        (
            "issuer mismatch",
            doc(&|d| d["issuer"] = serde_json::json!(format!("{}/", stub.base))),
            "client_auth = \"client_secret_basic\"\n",
            1,
            "differs from the configured",
        ),
        (
            "no S256",
            doc(&|d| d["code_challenge_methods_supported"] = serde_json::json!(["plain"])),
            "client_auth = \"client_secret_basic\"\n",
            1,
            "without S256",
        ),
    ];
    for (what, d, extra, want, needle) in cases {
        *stub.inner.discovery.lock().unwrap() = Some(d);
        let cfg = oidc_check_config(&dir, &stub.base, extra);
        let (code, err) = tokio::task::spawn_blocking(move || {
            run_for_code(&["--config", cfg.to_str().unwrap(), "--check"])
        })
        .await
        .unwrap();
        assert_eq!(code, Some(want), "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
    }
    // Unreachable: nothing listens on the issuer's port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = oidc_check_config(&dir, &format!("http://127.0.0.1:{closed}"), "");
    let (code, err) = tokio::task::spawn_blocking(move || {
        run_for_code(&["--config", cfg.to_str().unwrap(), "--check"])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("could not check every provider"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
