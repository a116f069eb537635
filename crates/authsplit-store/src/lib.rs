//! # authsplit-store
//!
//! Where the authsplit backend keeps what must outlive one request — and, with several
//! instances, what they must agree on: one async [`Store`] trait with three backends, chosen by
//! a URL ([`open`]):
//!
//! | URL | backend | for |
//! |---|---|---|
//! | `memory:` | [`MemoryStore`] | tests and the demo: one process, nothing survives it |
//! | `sqlite:` or `sqlite:<path>` | [`SqliteStore`] | one instance: a file (WAL mode) that survives restarts |
//! | `redis://host:port/db` | [`RedisStore`] | several instances behind a load balancer |
//!
//! The trait is written as guarantees, not as data structures:
//!
//! - **claim once** ([`Store::claim_transaction`], [`Store::claim_jti`]): of any number of
//!   concurrent claims of one id, on any number of instances, exactly one gets
//!   [`Claim::Claimed`] until the TTL passes. A claimed transaction can be given back
//!   ([`Store::release_transaction`]: the code provably never left) or kept as refused
//!   ([`Store::refuse_transaction`]: the exchange yielded no tokens) — a refused id is still
//!   refused on replay, but refused ids never count against a bound that could refuse other
//!   users' sign-ins.
//! - **sessions** (an opaque id → [`SessionRecord`]) with a TTL; [`Store::end_session`] is
//!   final: the id reads [`SessionState::Ended`] until its end TTL passes, across restarts,
//!   and ended ids are never evicted to make room. Sessions can be found by provider and OIDC
//!   `sid` or subject ([`Lookup`]) for back-channel logout.
//! - **single flight** ([`single_flight`] over [`Store::join_flight`] /
//!   [`Store::land_flight`]): one caller runs (a lock with a TTL, so a crashed leader does not
//!   block forever), the others wait — bounded in time — for the result it publishes.
//!
//! Every failure of the backing service is [`StoreError::Unavailable`]; nothing here panics.
//! Callers fail closed on it: with the store unavailable, nothing that could burn an
//! authorization code or a refresh token is attempted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

mod memory;
mod redis_store;
mod sqlite;

pub use memory::MemoryStore;
pub use redis_store::{RedisOptions, RedisStore};
pub use sqlite::SqliteStore;

/// What went wrong in the store. Callers fail closed on every variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backing service failed, timed out or is unreachable (or the memory store is full).
    /// The operation may or may not have taken effect; callers must fail closed.
    #[error("the session store is unavailable ({backend}): {reason}")]
    Unavailable {
        /// `memory`, `sqlite` or `redis`.
        backend: &'static str,
        /// What failed, for the log. Never contains a key, a record or a URL.
        reason: String,
    },
    /// The memory store holds its maximum of live claims; nothing was recorded. (The other
    /// backends have no such bound.)
    #[error("the session store is full of live claims")]
    Full,
    /// The store URL or its options are invalid (only from [`open`] and the constructors).
    #[error("invalid store configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub(crate) fn unavailable(backend: &'static str, reason: impl Into<String>) -> Self {
        Self::Unavailable {
            backend,
            reason: reason.into(),
        }
    }
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The answer to a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the id now (until the TTL passes, or it is released).
    Claimed,
    /// Someone claimed it before (claimed, refused, or seen) and the TTL has not passed.
    Used,
}

/// One signed-in session, kept server-side under an opaque id. The store reads only
/// `provider`, `subject` and `oidc_sid` (for [`Lookup`]); the rest is kept as given.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The provider id (configuration key).
    pub provider: String,
    /// The provider's stable subject for this user (for [`Lookup::Subject`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The OIDC session id (`sid` claim of the ID token; OIDC Back-Channel Logout §2.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_sid: Option<String>,
    /// The normalized user as shown to the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<serde_json::Value>,
    /// The current access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// When the access token expires (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_expires_at: Option<u64>,
    /// The current refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The raw ID token (for RP-initiated logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// When the session started (unix seconds).
    pub created_at: u64,
    /// When the session ends at the latest (unix seconds).
    pub expires_at: u64,
    /// Anything else the caller keeps with the session (opaque to the store).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "[redacted]");
        f.debug_struct("SessionRecord")
            .field("provider", &self.provider)
            .field("subject", &self.subject)
            .field("oidc_sid", &self.oidc_sid)
            .field("access_token", &redacted(&self.access_token))
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("id_token", &redacted(&self.id_token))
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    pub(crate) fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|_| StoreError::unavailable("codec", "a session record did not serialise"))
    }

    pub(crate) fn from_json(backend: &'static str, s: &[u8]) -> Result<Self> {
        serde_json::from_slice(s)
            .map_err(|_| StoreError::unavailable(backend, "a stored session record is unreadable"))
    }
}

/// What a session id refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionState {
    /// A live session.
    Active(Box<SessionRecord>),
    /// Ended by [`Store::end_session`]: must never be used again.
    Ended,
    /// Unknown, or expired.
    Missing,
}

/// How to find sessions of one provider ([`Store::find_sessions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// By the OIDC `sid` claim.
    Sid(&'a str),
    /// By the provider's subject.
    Subject(&'a str),
}

/// Proof of leading a flight, handed back to [`Store::land_flight`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease(pub(crate) String);

impl Lease {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(random_hex(16)?))
    }
}

/// The answer to [`Store::join_flight`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Join {
    /// This caller leads: run, then [`Store::land_flight`].
    Lead(Lease),
    /// Another caller leads and has not published yet.
    Running,
    /// A result was published (within its keep time).
    Done(Vec<u8>),
}

/// Which backend a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// [`MemoryStore`].
    Memory,
    /// [`SqliteStore`].
    Sqlite,
    /// [`RedisStore`].
    Redis,
}

impl Backend {
    /// `memory`, `sqlite` or `redis`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite => "sqlite",
            Backend::Redis => "redis",
        }
    }
}

/// The store. Every method is one atomic step on the backing service; ids are compared
/// exactly. TTLs count in whole milliseconds (at least one).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// One round trip to the backing service (health checks).
    async fn ping(&self) -> Result<()>;

    /// Claims a transaction id for `ttl`: [`Claim::Claimed`] for exactly one caller.
    async fn claim_transaction(&self, id: &str, ttl: Duration) -> Result<Claim>;

    /// Whether a transaction id is claimed or refused now (a cheap early answer for a replay;
    /// only [`Store::claim_transaction`] decides who redeems it).
    async fn transaction_spent(&self, id: &str) -> Result<bool>;

    /// Gives a claimed transaction back (the attempt provably never reached the provider):
    /// the next claim succeeds. A refused transaction stays refused.
    async fn release_transaction(&self, id: &str) -> Result<()>;

    /// Keeps a claimed transaction as refused (the exchange yielded no tokens): replays still
    /// get [`Claim::Used`] until its TTL passes, but refused ids never fill a bound that would
    /// refuse new claims.
    async fn refuse_transaction(&self, id: &str) -> Result<()>;

    /// Claims a token's `jti` (namespaced by the caller, e.g. issuer + jti) for `ttl`.
    async fn claim_jti(&self, jti: &str, ttl: Duration) -> Result<Claim>;

    /// Creates a session under a fresh id. `Ok(false)` if the id was ended (an ended id is
    /// never reused); an existing live record under the id is replaced.
    async fn create_session(&self, id: &str, record: &SessionRecord, ttl: Duration)
    -> Result<bool>;

    /// Reads a session.
    async fn session(&self, id: &str) -> Result<SessionState>;

    /// Replaces a live session's record and TTL. `Ok(false)` if it is missing, expired or ended
    /// (an update never revives a session).
    async fn update_session(&self, id: &str, record: &SessionRecord, ttl: Duration)
    -> Result<bool>;

    /// Ends a session: removes the record and remembers the id as ended for `keep` (at least
    /// as long as any copy of its cookie could be presented). Returns the record it removed
    /// (`None` if it was missing or already ended), so exactly one caller revokes its tokens.
    async fn end_session(&self, id: &str, keep: Duration) -> Result<Option<SessionRecord>>;

    /// The ids of a provider's live sessions with this `sid` or subject.
    async fn find_sessions(&self, provider: &str, by: Lookup<'_>) -> Result<Vec<String>>;

    /// Joins the flight `key`: a published result, or the lead (lock held for `lock_ttl`),
    /// or [`Join::Running`]. Atomic: of concurrent joiners at most one leads.
    async fn join_flight(&self, key: &str, lock_ttl: Duration) -> Result<Join>;

    /// Ends a lead: publishes `result` for `keep` (if any) and releases the lock if `lease` still
    /// holds it. Without a result the next joiner leads.
    async fn land_flight(
        &self,
        key: &str,
        lease: &Lease,
        result: Option<&[u8]>,
        keep: Duration,
    ) -> Result<()>;
}

/// Bounds of one [`single_flight`].
#[derive(Clone, Copy, Debug)]
pub struct FlightLimits {
    /// How long the lead's lock lives (longer than the work may take: a leader that crashed
    /// holds the flight this long).
    pub lock_ttl: Duration,
    /// How long a published result is shared.
    pub keep: Duration,
    /// How long a follower waits for a result before giving up ([`StoreError::Unavailable`]).
    pub wait: Duration,
}

/// The outcome of [`single_flight`].
#[derive(Debug)]
pub struct Flight<T> {
    /// The result: this caller's own run, or the leader's published one.
    pub value: T,
    /// Whether this caller ran the work.
    pub led: bool,
    /// The leader's result could not be published (the work ran; followers will not see it).
    pub publish_error: Option<StoreError>,
}

/// Runs `work` at most once across every caller of `key` that overlaps with it (on any
/// instance sharing the store); the others get the leader's result. `work` returns the value
/// and whether to share it: an outcome not worth sharing (the work provably did nothing) is
/// not published, and the next caller leads instead.
///
/// Followers poll with a backoff of 10 → 100 ms for at most `limits.wait`.
pub async fn single_flight<T, F, Fut>(
    store: &dyn Store,
    key: &str,
    limits: FlightLimits,
    work: F,
) -> Result<Flight<T>>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = (T, bool)>,
{
    let deadline = tokio::time::Instant::now() + limits.wait;
    let mut pause = Duration::from_millis(10);
    loop {
        match store.join_flight(key, limits.lock_ttl).await? {
            Join::Done(bytes) => {
                let value = serde_json::from_slice(&bytes).map_err(|_| {
                    StoreError::unavailable(
                        store.backend().as_str(),
                        "a shared result is unreadable",
                    )
                })?;
                return Ok(Flight {
                    value,
                    led: false,
                    publish_error: None,
                });
            }
            Join::Lead(lease) => {
                let (value, share) = work().await;
                let bytes = if share {
                    serde_json::to_vec(&value).ok()
                } else {
                    None
                };
                let publish_error = store
                    .land_flight(key, &lease, bytes.as_deref(), limits.keep)
                    .await
                    .err();
                return Ok(Flight {
                    value,
                    led: true,
                    publish_error,
                });
            }
            Join::Running => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(StoreError::unavailable(
                        store.backend().as_str(),
                        "timed out waiting for a concurrent operation on the same session",
                    ));
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// Options for [`open`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Where `sqlite:` (no path) puts its file, `authsplit.sqlite3`; relative `sqlite:` paths
    /// are relative to the working directory.
    pub data_dir: std::path::PathBuf,
    /// Bound of the memory store's claims (the refused ones have a bound of their own).
    pub memory_max_claims: usize,
    /// Redis settings (the URL's `prefix` query parameter overrides `key_prefix`).
    pub redis: RedisOptions,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            data_dir: std::path::PathBuf::from("data"),
            memory_max_claims: 1_000_000,
            redis: RedisOptions::default(),
        }
    }
}

/// The SQLite file name under [`StoreOptions::data_dir`].
pub const SQLITE_FILE_NAME: &str = "authsplit.sqlite3";

/// Opens the store a URL names: `memory:`, `sqlite:` (the data directory's
/// [`SQLITE_FILE_NAME`]), `sqlite:<path>`, or `redis://[user:password@]host[:port][/db]` with
/// an optional `?prefix=<key prefix>`. Call it at start-up, inside a Tokio runtime: SQLite is
/// opened (and its schema created) here; a Redis store connects lazily, so opening never waits
/// for Redis and an unreachable Redis shows in the first operation (or [`Store::ping`]).
pub fn open(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>> {
    let url = url.trim();
    if url == "memory:" || url == "memory://" {
        return Ok(Arc::new(MemoryStore::new(options.memory_max_claims)));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = if rest.is_empty() {
            options.data_dir.join(SQLITE_FILE_NAME)
        } else {
            std::path::PathBuf::from(rest)
        };
        return Ok(Arc::new(SqliteStore::open(&path)?));
    }
    if url.starts_with("redis://") || url.starts_with("redis+unix://") || url.starts_with("unix://")
    {
        return Ok(Arc::new(RedisStore::open(url, &options.redis)?));
    }
    if url.starts_with("rediss://") {
        return Err(StoreError::Config(
            "rediss:// (Redis over TLS) is not supported; reach Redis over a private network \
             or a local TLS tunnel"
                .to_owned(),
        ));
    }
    Err(StoreError::Config(
        "the store URL must start with memory:, sqlite: or redis://".to_owned(),
    ))
}

/// A clock in unix milliseconds (the memory store's time source).
pub type MillisClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Now, in unix milliseconds, from the system clock.
pub fn system_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2))
        .unwrap_or(0)
}

/// `n` random bytes as lowercase hex (OS generator).
pub(crate) fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b)
        .map_err(|_| StoreError::unavailable("random", "the OS random generator failed"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A TTL in whole milliseconds, at least one.
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX / 2)
        .clamp(1, u64::MAX / 2)
}
