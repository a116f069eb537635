//! What the `authsplit-server` binary says when something is wrong: each fatal error once,
//! every unknown key with the nearest valid name, a plain "no configuration file given",
//! TOML syntax errors naming the file, `--check` refusing an empty configuration, and
//! `--listen` with a host name.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_authsplit-server");
const SECRET: &str = "s3cr3t-never-printed";

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("authsplit-cli-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("authsplit.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The binary with no inherited `AUTHSPLIT*` variable.
fn bin() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AUTHSPLIT") {
            c.env_remove(k);
        }
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn provider(id: &str) -> String {
    format!(
        "[providers.{id}]\nauthorization_endpoint = \"https://op.example/authorize\"\n\
         token_endpoint = \"https://op.example/token\"\nclient_id = \"cid\"\n\
         client_secret = \"{SECRET}\"\nredirect_uri = \"https://app.example/callback\"\n"
    )
}

fn server(extra: &str) -> String {
    let key = "6b".repeat(64); // 64 bytes, hex
    format!(
        "[server]\ncookie_key = \"{key}\"\nallowed_origins = [\"https://app.example\"]\n{extra}\n"
    )
}

fn failed(code: Option<i32>) -> bool {
    code.is_some_and(|c| c != 0)
}

#[test]
fn a_fatal_error_is_printed_once_in_either_log_format() {
    let dir = tmpdir("once");
    let cfg = write(&dir, &provider("local"));
    for format in ["text", "json"] {
        let (code, out, err) = run(&[
            "--config",
            cfg.to_str().unwrap(),
            "--check",
            "--log-format",
            format,
        ]);
        assert!(failed(code) && out.is_empty(), "{format}: {err}");
        assert_eq!(
            err.matches("cookie_key is required").count(),
            1,
            "{format}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_unknown_key_is_reported_with_the_nearest_name() {
    let dir = tmpdir("unknown");
    let text = format!(
        "{}{}client_secrt = \"x\"\nscopez = [\"openid\"]\nwholly_unrelated = 1\n",
        server("listn = \"127.0.0.1:0\""),
        provider("local")
    );
    let cfg = write(&dir, &text);
    let (code, _out, err) = run(&["--config", cfg.to_str().unwrap(), "--check"]);
    assert!(failed(code), "{err}");
    for want in [
        "unknown key `server.listn` (did you mean `listen`?)",
        "unknown key `providers.local.client_secrt` (did you mean `client_secret`?)",
        "unknown key `providers.local.scopez` (did you mean `scopes`?)",
        "unknown key `providers.local.wholly_unrelated`",
    ] {
        assert_eq!(err.matches(want).count(), 1, "{want}: {err}");
    }
    assert!(!err.contains("wholly_unrelated` (did you mean"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_configuration_file_is_said_plainly() {
    let (code, out, err) = run(&["--check"]);
    assert!(failed(code) && out.is_empty(), "{err}");
    assert!(err.contains("no configuration file given"), "{err}");
    assert!(err.contains("--config"), "{err}");
}

#[test]
fn a_toml_syntax_error_names_the_file_and_position_without_quoting_it() {
    let dir = tmpdir("syntax");
    let text = format!(
        "{}{}extra = \"{SECRET}\" oops\n",
        server(""),
        provider("local")
    );
    let cfg = write(&dir, &text);
    let (code, _out, err) = run(&["--config", cfg.to_str().unwrap(), "--check"]);
    assert!(failed(code), "{err}");
    let line = text.lines().count();
    assert!(
        err.contains(&format!("{}:{line}:", cfg.display())),
        "names file and line {line}: {err}"
    );
    assert!(err.contains("TOML syntax error"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_fails_when_no_provider_is_configured() {
    let dir = tmpdir("empty");
    let cfg = write(&dir, &server(""));
    let (code, out, err) = run(&["--config", cfg.to_str().unwrap(), "--check"]);
    assert!(failed(code) && out.is_empty(), "{err}");
    assert!(err.contains("no providers configured"), "{err}");
    assert!(!err.contains("configuration OK"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn listen_accepts_a_host_name() {
    let dir = tmpdir("listen");
    let cfg = write(&dir, &format!("{}{}", server(""), provider("local")));
    let mut child = Running(
        bin()
            .args(["--config", cfg.to_str().unwrap(), "--listen", "localhost:0"])
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    // One line, or end of stream if the process exits: bounded either way.
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("authsplit-server listening on http://127.0.0.1:")
            || line.starts_with("authsplit-server listening on http://[::1]:"),
        "{line:?}"
    );
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
