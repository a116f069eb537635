//! One conformance suite, run against all three backends: memory, SQLite on a temporary file,
//! and a real `redis-server` started by the test. Each guarantee is checked through two
//! handles on the same backing storage (two instances of the backend sharing it), so "exactly
//! once" means once across instances, not once per process.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authsplit_store::{
    Claim, FlightLimits, Join, Lookup, MemoryStore, RedisOptions, RedisStore, SessionRecord,
    SessionState, SqliteStore, Store, StoreError, single_flight,
};
use support::RedisServer;

/// Short TTLs keep the suite fast; expiry is waited out with margin for a loaded machine. The
/// cases run at the same time (`conformance`), so one step of a case may wait for the others'
/// writes (SQLite): a second between two steps that must fall inside one TTL.
const SHORT: Duration = Duration::from_secs(1);
const PAST_SHORT: Duration = Duration::from_millis(1500);
const LONG: Duration = Duration::from_secs(600);

fn record(provider: &str, subject: &str, sid: Option<&str>) -> SessionRecord {
    SessionRecord {
        provider: provider.to_owned(),
        subject: Some(subject.to_owned()),
        oidc_sid: sid.map(str::to_owned),
        user: Some(serde_json::json!({"id": format!("{provider}:{subject}"), "name": "Ada"})),
        access_token: Some("at-secret".to_owned()),
        access_expires_at: Some(1_900_000_000),
        refresh_token: Some("rt-secret".to_owned()),
        id_token: Some("id.token.value".to_owned()),
        created_at: 1_800_000_000,
        expires_at: 1_800_086_400,
        extra: serde_json::Map::new(),
    }
}

/// A fresh id per case (the Redis cases share one server).
fn id(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn claim_once(a: &dyn Store, b: &dyn Store) {
    let t = id("tx");
    assert!(!b.transaction_spent(&t).await.unwrap());
    assert_eq!(
        a.claim_transaction(&t, SHORT).await.unwrap(),
        Claim::Claimed
    );
    assert!(b.transaction_spent(&t).await.unwrap());
    assert_eq!(a.claim_transaction(&t, SHORT).await.unwrap(), Claim::Used);
    assert_eq!(b.claim_transaction(&t, SHORT).await.unwrap(), Claim::Used);
    // Another id is independent.
    assert_eq!(
        b.claim_transaction(&id("tx"), SHORT).await.unwrap(),
        Claim::Claimed
    );
    // A transaction id and a jti with the same text are different things.
    assert_eq!(b.claim_jti(&t, SHORT).await.unwrap(), Claim::Claimed);
    tokio::time::sleep(PAST_SHORT).await;
    assert!(!a.transaction_spent(&t).await.unwrap(), "after its TTL");
    assert_eq!(
        b.claim_transaction(&t, SHORT).await.unwrap(),
        Claim::Claimed,
        "after its TTL"
    );
}

async fn concurrent_claims_have_one_winner(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let t = id("race");
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let t = t.clone();
        tasks.push(tokio::spawn(
            async move { s.claim_transaction(&t, LONG).await },
        ));
    }
    let mut claimed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Claim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

async fn release_and_refuse(a: &dyn Store, b: &dyn Store) {
    // Released: the code never left, so the transaction is usable again.
    let t = id("rel");
    assert_eq!(a.claim_transaction(&t, LONG).await.unwrap(), Claim::Claimed);
    a.release_transaction(&t).await.unwrap();
    assert!(!b.transaction_spent(&t).await.unwrap());
    assert_eq!(b.claim_transaction(&t, LONG).await.unwrap(), Claim::Claimed);
    // Refused: still single use everywhere, and a release cannot revive it.
    let r = id("ref");
    assert_eq!(
        a.claim_transaction(&r, SHORT).await.unwrap(),
        Claim::Claimed
    );
    a.refuse_transaction(&r).await.unwrap();
    assert_eq!(a.claim_transaction(&r, SHORT).await.unwrap(), Claim::Used);
    b.release_transaction(&r).await.unwrap();
    assert!(b.transaction_spent(&r).await.unwrap());
    assert_eq!(b.claim_transaction(&r, SHORT).await.unwrap(), Claim::Used);
    // It keeps the claim's TTL.
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        b.claim_transaction(&r, SHORT).await.unwrap(),
        Claim::Claimed
    );
}

async fn jti_seen_once(a: &dyn Store, b: &dyn Store) {
    let j = id("https://op.example|jti");
    assert_eq!(a.claim_jti(&j, SHORT).await.unwrap(), Claim::Claimed);
    assert_eq!(b.claim_jti(&j, SHORT).await.unwrap(), Claim::Used);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(b.claim_jti(&j, SHORT).await.unwrap(), Claim::Claimed);
}

async fn sessions(a: &dyn Store, b: &dyn Store) {
    let s = id("sess");
    let mut r = record("local", "alice", Some("op-sid-1"));
    assert_eq!(b.session(&s).await.unwrap(), SessionState::Missing);
    assert!(a.create_session(&s, &r, LONG).await.unwrap());
    assert_eq!(
        b.session(&s).await.unwrap(),
        SessionState::Active(Box::new(r.clone()))
    );
    r.access_token = Some("at-2".to_owned());
    r.refresh_token = Some("rt-2".to_owned());
    assert!(b.update_session(&s, &r, LONG).await.unwrap());
    assert_eq!(
        a.session(&s).await.unwrap(),
        SessionState::Active(Box::new(r.clone()))
    );
    // An update never creates.
    assert!(!a.update_session(&id("nope"), &r, LONG).await.unwrap());
    // TTL: a short session is gone after it, and cannot be updated back.
    let short = id("short");
    assert!(a.create_session(&short, &r, SHORT).await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(b.session(&short).await.unwrap(), SessionState::Missing);
    assert!(!b.update_session(&short, &r, LONG).await.unwrap());
}

async fn end_is_final(a: &dyn Store, b: &dyn Store) {
    let s = id("end");
    let r = record("local", "bob", None);
    assert!(a.create_session(&s, &r, LONG).await.unwrap());
    // Exactly one caller gets the record (to revoke its tokens).
    assert_eq!(b.end_session(&s, LONG).await.unwrap(), Some(r.clone()));
    assert_eq!(a.end_session(&s, LONG).await.unwrap(), None);
    assert_eq!(a.session(&s).await.unwrap(), SessionState::Ended);
    assert_eq!(b.session(&s).await.unwrap(), SessionState::Ended);
    // Neither an update nor a create brings it back.
    assert!(!a.update_session(&s, &r, LONG).await.unwrap());
    assert!(!b.create_session(&s, &r, LONG).await.unwrap());
    assert_eq!(a.session(&s).await.unwrap(), SessionState::Ended);
    // A shorter second end does not shorten the first.
    assert_eq!(a.end_session(&s, SHORT).await.unwrap(), None);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(a.session(&s).await.unwrap(), SessionState::Ended);
    // An end mark has a TTL of its own.
    let e = id("end-short");
    assert_eq!(a.end_session(&e, SHORT).await.unwrap(), None);
    assert_eq!(b.session(&e).await.unwrap(), SessionState::Ended);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(b.session(&e).await.unwrap(), SessionState::Missing);
}

async fn concurrent_ends_have_one_taker(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let s = id("end-race");
    assert!(
        a.create_session(&s, &record("local", "c", None), LONG)
            .await
            .unwrap()
    );
    let mut tasks = Vec::new();
    for i in 0..16 {
        let st = if i % 2 == 0 { a.clone() } else { b.clone() };
        let s = s.clone();
        tasks.push(tokio::spawn(async move { st.end_session(&s, LONG).await }));
    }
    let mut taken = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().is_some() {
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
}

async fn find_by_sid_and_subject(a: &dyn Store, b: &dyn Store) {
    let (sid, sub) = (id("op-sid"), id("subject"));
    let (s1, s2, s3, s4) = (id("f1"), id("f2"), id("f3"), id("f4"));
    assert!(
        a.create_session(&s1, &record("local", &sub, Some(&sid)), LONG)
            .await
            .unwrap()
    );
    assert!(
        b.create_session(&s2, &record("local", &sub, None), LONG)
            .await
            .unwrap()
    );
    // Same sid and subject at another provider: not found under `local`.
    assert!(
        a.create_session(&s3, &record("other", &sub, Some(&sid)), LONG)
            .await
            .unwrap()
    );
    assert!(
        a.create_session(&s4, &record("local", "someone-else", None), LONG)
            .await
            .unwrap()
    );
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        b.find_sessions("local", Lookup::Sid(&sid)).await.unwrap(),
        vec![s1.clone()]
    );
    let mut want = vec![s1.clone(), s2.clone()];
    want.sort();
    assert_eq!(
        sorted(
            a.find_sessions("local", Lookup::Subject(&sub))
                .await
                .unwrap()
        ),
        want
    );
    assert_eq!(
        b.find_sessions("other", Lookup::Sid(&sid)).await.unwrap(),
        vec![s3.clone()]
    );
    assert!(
        a.find_sessions("local", Lookup::Sid("unknown"))
            .await
            .unwrap()
            .is_empty()
    );
    // Ended and re-keyed sessions drop out.
    b.end_session(&s2, LONG).await.unwrap();
    assert_eq!(
        a.find_sessions("local", Lookup::Subject(&sub))
            .await
            .unwrap(),
        vec![s1.clone()]
    );
    let mut moved = record("local", &sub, Some(&id("new-sid")));
    moved.subject = Some("renamed".to_owned());
    assert!(a.update_session(&s1, &moved, LONG).await.unwrap());
    assert!(
        b.find_sessions("local", Lookup::Sid(&sid))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.find_sessions("local", Lookup::Subject(&sub))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        b.find_sessions("local", Lookup::Subject("renamed"))
            .await
            .unwrap(),
        vec![s1]
    );
}

const LIMITS: FlightLimits = FlightLimits {
    lock_ttl: Duration::from_secs(5),
    keep: Duration::from_secs(1),
    wait: Duration::from_secs(5),
};

async fn single_flight_runs_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let key = id("flight");
    let runs = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (key, runs) = (key.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            single_flight(s.as_ref(), &key, LIMITS, || async {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
                (format!("access-token-{n}"), true)
            })
            .await
        }));
    }
    let mut led = 0;
    for t in tasks {
        let f = t.await.unwrap().unwrap();
        assert_eq!(
            f.value, "access-token-1",
            "every caller gets the one result"
        );
        assert!(f.publish_error.is_none());
        led += usize::from(f.led);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(led, 1);
    // Within the keep time a late caller still shares; after it, the work runs again.
    let late = single_flight(b.as_ref(), &key, LIMITS, || async {
        ("late".to_owned(), true)
    })
    .await
    .unwrap();
    assert_eq!((late.value.as_str(), late.led), ("access-token-1", false));
    tokio::time::sleep(PAST_SHORT).await;
    let again = single_flight(a.as_ref(), &key, LIMITS, || async {
        ("again".to_owned(), true)
    })
    .await
    .unwrap();
    assert_eq!((again.value.as_str(), again.led), ("again", true));
}

async fn unshared_results_let_the_next_caller_lead(a: &dyn Store, b: &dyn Store) {
    let key = id("unshared");
    let first = single_flight(a, &key, LIMITS, || async { (1u32, false) })
        .await
        .unwrap();
    assert!(first.led);
    let second = single_flight(b, &key, LIMITS, || async { (2u32, true) })
        .await
        .unwrap();
    assert_eq!((second.value, second.led), (2, true));
}

async fn a_crashed_leader_blocks_only_until_its_lock_expires(a: &dyn Store, b: &dyn Store) {
    let key = id("crash");
    let Join::Lead(_) = a.join_flight(&key, SHORT).await.unwrap() else {
        panic!("the first joiner leads");
    };
    assert_eq!(b.join_flight(&key, SHORT).await.unwrap(), Join::Running);
    tokio::time::sleep(PAST_SHORT).await;
    assert!(matches!(
        b.join_flight(&key, SHORT).await.unwrap(),
        Join::Lead(_)
    ));
}

async fn followers_wait_a_bounded_time(a: &dyn Store, b: &dyn Store) {
    let key = id("stuck");
    let Join::Lead(_) = a.join_flight(&key, LONG).await.unwrap() else {
        panic!("the first joiner leads");
    };
    let limits = FlightLimits {
        wait: Duration::from_millis(300),
        ..LIMITS
    };
    let started = Instant::now();
    let r = single_flight(b, &key, limits, || async { (0u8, true) }).await;
    assert!(matches!(r, Err(StoreError::Unavailable { .. })), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Every guarantee, against two handles on one backing storage. Each case works on keys of its
/// own (`id`), so the cases run at the same time: their TTL waits overlap instead of adding up.
async fn conformance(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    a.ping().await.unwrap();
    b.ping().await.unwrap();
    let (x, y) = (a.as_ref(), b.as_ref());
    tokio::join!(
        claim_once(x, y),
        concurrent_claims_have_one_winner(a.clone(), b.clone()),
        release_and_refuse(x, y),
        jti_seen_once(x, y),
        sessions(x, y),
        end_is_final(x, y),
        concurrent_ends_have_one_taker(a.clone(), b.clone()),
        find_by_sid_and_subject(x, y),
        single_flight_runs_once(a.clone(), b.clone()),
        unshared_results_let_the_next_caller_lead(x, y),
        a_crashed_leader_blocks_only_until_its_lock_expires(x, y),
        followers_wait_a_bounded_time(x, y),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_conformance() {
    let s: Arc<dyn Store> = Arc::new(MemoryStore::new(10_000));
    conformance(s.clone(), s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    // Two connections to one file, as two processes on one host would have.
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    conformance(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_conformance() {
    let redis = RedisServer::start();
    let a: Arc<dyn Store> =
        Arc::new(RedisStore::open(&redis.url(), &RedisOptions::default()).unwrap());
    let b: Arc<dyn Store> =
        Arc::new(RedisStore::open(&redis.url(), &RedisOptions::default()).unwrap());
    conformance(a, b).await;
    // TTL on every key the suite left behind.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for k in keys {
        assert!(k.starts_with("authsplit:"), "{k} lacks the prefix");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&k)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(ttl > 0, "{k} has no TTL ({ttl})");
    }
}
