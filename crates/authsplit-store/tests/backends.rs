//! What only one backend can show: the memory store's bounds, SQLite across a reopen, Redis
//! going away and coming back, and choosing a backend by URL.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use authsplit_store::{
    Backend, Claim, MemoryStore, RedisOptions, RedisStore, SessionState, SqliteStore, Store,
    StoreError, StoreOptions, open,
};
use support::RedisServer;

const LONG: Duration = Duration::from_secs(600);

fn record(subject: &str) -> authsplit_store::SessionRecord {
    authsplit_store::SessionRecord {
        provider: "local".to_owned(),
        subject: Some(subject.to_owned()),
        refresh_token: Some("rt".to_owned()),
        created_at: 1,
        expires_at: 2,
        ..Default::default()
    }
}

#[tokio::test]
async fn memory_live_claims_are_bounded_and_never_evicted() {
    let s = MemoryStore::new(4);
    for i in 0..4 {
        assert_eq!(
            s.claim_transaction(&format!("t{i}"), LONG).await.unwrap(),
            Claim::Claimed
        );
    }
    let full = s.claim_transaction("t4", LONG).await;
    assert_eq!(full, Err(StoreError::Full));
    // The bound did not push out a live claim.
    for i in 0..4 {
        assert_eq!(
            s.claim_transaction(&format!("t{i}"), LONG).await.unwrap(),
            Claim::Used
        );
    }
    // A released claim frees its place.
    s.release_transaction("t0").await.unwrap();
    assert_eq!(
        s.claim_transaction("t4", LONG).await.unwrap(),
        Claim::Claimed
    );
}

#[tokio::test]
async fn memory_time_comes_from_its_clock() {
    let now = Arc::new(std::sync::atomic::AtomicU64::new(1_000_000));
    let clock = {
        let now = now.clone();
        Arc::new(move || now.load(std::sync::atomic::Ordering::SeqCst))
    };
    let s = MemoryStore::with_clock(1, clock);
    assert_eq!(
        s.claim_transaction("a", LONG).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(s.claim_transaction("b", LONG).await, Err(StoreError::Full));
    now.fetch_add(600_001, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        s.claim_transaction("b", LONG).await.unwrap(),
        Claim::Claimed
    );
    // "a" expired with the clock, and "b" now holds the only place.
    assert!(!s.transaction_spent("a").await.unwrap());
    assert_eq!(s.claim_transaction("a", LONG).await, Err(StoreError::Full));
}

#[tokio::test]
async fn memory_refused_exchanges_never_lock_out_new_sign_ins() {
    // Made-up codes: each claim is refused by the provider. However many there are, real
    // sign-ins can still claim their transactions.
    let s = MemoryStore::new(4);
    for i in 0..100 {
        let t = format!("made-up-{i}");
        assert_eq!(
            s.claim_transaction(&t, LONG).await.unwrap(),
            Claim::Claimed,
            "{t}"
        );
        s.refuse_transaction(&t).await.unwrap();
    }
    // The most recent refused ids are still refused on replay…
    assert_eq!(
        s.claim_transaction("made-up-99", LONG).await.unwrap(),
        Claim::Used
    );
    // …and every place of the strict bound is still free.
    for i in 0..4 {
        assert_eq!(
            s.claim_transaction(&format!("real-{i}"), LONG)
                .await
                .unwrap(),
            Claim::Claimed
        );
    }
}

#[tokio::test]
async fn sqlite_keeps_everything_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/store.sqlite3");
    {
        let s = SqliteStore::open(&path).unwrap();
        assert!(
            s.create_session("kept", &record("alice"), LONG)
                .await
                .unwrap()
        );
        assert!(
            s.create_session("ended", &record("bob"), LONG)
                .await
                .unwrap()
        );
        assert!(s.end_session("ended", LONG).await.unwrap().is_some());
        assert_eq!(
            s.claim_transaction("tx", LONG).await.unwrap(),
            Claim::Claimed
        );
        s.claim_transaction("refused", LONG).await.unwrap();
        s.refuse_transaction("refused").await.unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(
        s.session("kept").await.unwrap(),
        SessionState::Active(Box::new(record("alice")))
    );
    assert_eq!(s.session("ended").await.unwrap(), SessionState::Ended);
    assert!(
        !s.create_session("ended", &record("bob"), LONG)
            .await
            .unwrap()
    );
    assert_eq!(s.claim_transaction("tx", LONG).await.unwrap(), Claim::Used);
    assert_eq!(
        s.claim_transaction("refused", LONG).await.unwrap(),
        Claim::Used
    );
    // WAL mode, and only the owner may read the tokens in it.
    let c = rusqlite::Connection::open(&path).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let m = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(m & 0o077, 0, "mode {m:o}");
    }
}

#[tokio::test]
async fn sqlite_sweeps_expired_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let s = SqliteStore::open(&path).unwrap();
    let short = Duration::from_millis(50);
    s.claim_transaction("t", short).await.unwrap();
    s.create_session("s", &record("a"), short).await.unwrap();
    s.end_session("e", short).await.unwrap();
    s.claim_transaction("live", LONG).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.sweep().await.unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let count = |t: &str| -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        (count("claims"), count("sessions"), count("ended")),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let r = SqliteStore::open(&path);
    assert!(
        matches!(r, Err(StoreError::Config(ref m)) if m.contains("schema version 99")),
        "{r:?}"
    );
}

/// Polls `f` until it is `Ok`, for at most `limit`.
async fn until_ok<F, Fut, T>(limit: Duration, mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let end = Instant::now() + limit;
    loop {
        let r = f().await;
        if r.is_ok() || Instant::now() >= end {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_unavailable_and_recovery_is_automatic() {
    let mut redis = RedisServer::start();
    let opts = RedisOptions {
        op_timeout: Duration::from_millis(1000),
        connect_timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let s = RedisStore::open(&redis.url(), &opts).unwrap();
    assert_eq!(
        s.claim_transaction("before", LONG).await.unwrap(),
        Claim::Claimed
    );
    assert!(s.create_session("sess", &record("a"), LONG).await.unwrap());

    redis.kill();
    // Every kind of operation fails typed, within its deadline — never hangs, never panics.
    let started = Instant::now();
    let results = [
        s.ping().await.map(|_| ()),
        s.claim_transaction("during", LONG).await.map(|_| ()),
        s.session("sess").await.map(|_| ()),
        s.end_session("sess", LONG).await.map(|_| ()),
        s.join_flight("f", LONG).await.map(|_| ()),
    ];
    for r in &results {
        assert!(
            matches!(
                r,
                Err(StoreError::Unavailable {
                    backend: "redis",
                    ..
                })
            ),
            "{r:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    redis.restart();
    // The same store object recovers by itself.
    until_ok(Duration::from_secs(10), || s.ping())
        .await
        .unwrap();
    assert_eq!(
        s.claim_transaction("during", LONG).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        s.claim_transaction("during", LONG).await.unwrap(),
        Claim::Used
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_at_start_does_not_block_opening() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    let s = RedisStore::open(&url, &RedisOptions::default()).unwrap();
    assert!(matches!(
        s.ping().await,
        Err(StoreError::Unavailable { .. })
    ));
    redis.restart();
    until_ok(Duration::from_secs(10), || s.ping())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_prefixes_keep_deployments_apart() {
    let redis = RedisServer::start();
    let one = RedisStore::open(
        &format!("{}?prefix=one:", redis.url()),
        &RedisOptions::default(),
    )
    .unwrap();
    let two = RedisStore::open(
        &format!("{}?prefix=two:", redis.url()),
        &RedisOptions::default(),
    )
    .unwrap();
    assert_eq!(one.prefix(), "one:");
    assert_eq!(
        one.claim_transaction("t", LONG).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        two.claim_transaction("t", LONG).await.unwrap(),
        Claim::Claimed
    );
    assert!(one.create_session("s", &record("a"), LONG).await.unwrap());
    assert_eq!(two.session("s").await.unwrap(), SessionState::Missing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_picks_the_backend_from_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        data_dir: dir.path().join("data"),
        ..StoreOptions::default()
    };
    assert_eq!(
        open("memory:", &options).unwrap().backend(),
        Backend::Memory
    );
    let s = open("sqlite:", &options).unwrap();
    assert_eq!(s.backend(), Backend::Sqlite);
    assert!(dir.path().join("data/authsplit.sqlite3").exists());
    let file = dir.path().join("elsewhere.db");
    open(&format!("sqlite:{}", file.display()), &options).unwrap();
    assert!(file.exists());
    let redis: Arc<dyn Store> = open("redis://127.0.0.1:1/0", &options).unwrap();
    assert_eq!(redis.backend(), Backend::Redis);
    for bad in [
        "postgres://x",
        "",
        "rediss://h",
        "redis://h?prefix=bad prefix",
    ] {
        assert!(
            matches!(open(bad, &options), Err(StoreError::Config(_))),
            "{bad}"
        );
    }
    // A password in the URL is never repeated.
    let e = open("redis://:hunter2@[::1", &options).err().unwrap();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}
