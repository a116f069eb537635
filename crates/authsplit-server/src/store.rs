//! The state that makes single use and single flight hold: which transactions were redeemed or
//! refused, which sessions were logged out, and the one refresh in flight per session with its
//! shared result. The endpoints speak only to the [`Store`] trait, which states the guarantees;
//! [`MemoryStore`] keeps them in bounded per-process sets (one instance; several instances need
//! a shared store behind the same trait). The rules they carry: docs/SECURITY.md A2 and S8
//! (single use), S10 (one refresh at a time per session).
//!
//! Ids are stored as the first 128 bits of their SHA-256 (≈30 bytes an entry), never as text.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authsplit_core::wire::TokenReply;

use crate::error::ApiError;

/// A boxed `Send` future (the trait's methods return one, so it can be used as `dyn Store`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Concurrent `/refresh` calls with the same old refresh token within this window share one
/// upstream result (rotation must never burn the grant, RFC 9700 §4.14.2; docs/SECURITY.md S10).
pub const REFRESH_SHARE_WINDOW: Duration = Duration::from_secs(30);

/// Why the store could not do what was asked. Callers fail closed: nothing is sent upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Full of live entries that must not be forgotten; nothing was recorded.
    Full,
    /// The store cannot answer now (a poisoned lock, an unreachable backend).
    Unavailable(&'static str),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => f.write_str("the store is full of live entries"),
            Self::Unavailable(why) => write!(f, "the store is unavailable: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The answer of [`Store::claim_transaction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the transaction now; nobody else ever will (unless it is released).
    Claimed,
    /// The transaction was claimed or refused before.
    AlreadyUsed,
}

/// A successful refresh as shared between concurrent callers.
#[derive(Clone, Debug)]
pub struct Refreshed {
    /// What the browser gets.
    pub reply: TokenReply,
    /// The rotated refresh token, when the provider rotated it.
    pub rotated: Option<String>,
}

/// The outcome of one upstream refresh.
pub type RefreshOutcome = Result<Refreshed, ApiError>;

/// The guarantees the endpoints rely on. Every method is atomic with respect to the others on
/// the same id.
pub trait Store: Send + Sync + 'static {
    /// Whether `tx` was claimed (and not released) or refused.
    fn is_transaction_spent<'a>(&'a self, tx: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Claims `tx` for one code exchange: [`Claim::Claimed`] exactly once per id, however many
    /// callers race. A claim is remembered at least until `expires_at` (unix seconds, the end
    /// of the transaction's life): a store with no room for it answers [`StoreError::Full`]
    /// rather than forget a live claim.
    fn claim_transaction<'a>(
        &'a self,
        tx: &'a str,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Undoes a claim whose exchange provably never reached the provider, so the transaction
    /// can be redeemed again.
    fn release_transaction<'a>(&'a self, tx: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Turns a claim into a refusal: the provider answered the exchange with an error response
    /// (it issued no token). A refused id stays spent, but a store may forget its oldest
    /// refusals when full instead of refusing new ones, so made-up codes cannot lock everybody
    /// out; forgetting one costs at most one more request with a code already refused.
    fn refuse_transaction<'a>(
        &'a self,
        tx: &'a str,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that session `sid` was logged out, until `expires_at`. Never refused for lack
    /// of room (a store may forget its oldest entries; the session's tokens are revoked too).
    fn end_session<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether session `sid` was logged out.
    fn is_session_ended<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Waits until no other refresh (or logout) of session `sid` is in flight and returns the
    /// session's flight: held until dropped, it gives the last outcome to callers that present
    /// the same refresh token.
    fn refresh_flight<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn RefreshFlight>, StoreError>>;
}

/// One session's refresh in flight (see [`Store::refresh_flight`]); dropping it lets the next
/// caller of that session in.
pub trait RefreshFlight: Send {
    /// The last refresh outcome of this session for the refresh token hashed `rt_hash`
    /// (SHA-256), if it finished no longer than `max_age` ago (any age with `None`).
    fn last_outcome(
        &self,
        rt_hash: &[u8; 32],
        max_age: Option<Duration>,
    ) -> BoxFuture<'_, Result<Option<RefreshOutcome>, StoreError>>;

    /// Records the outcome of this caller's refresh with `rt_hash` (shared with the callers
    /// that present the same token next); `None` records nothing, so the next caller refreshes
    /// again.
    fn publish(
        &mut self,
        rt_hash: [u8; 32],
        outcome: Option<RefreshOutcome>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// The in-memory [`Store`]: bounded sets in this process.
#[derive(Debug)]
pub struct MemoryStore {
    cap: usize,
    used: Mutex<ExpiringSet>,
    refused: Mutex<FifoSet>,
    ended: Mutex<FifoSet>,
    flights: Mutex<HashMap<String, Slot>>,
}

/// One cached refresh outcome.
#[derive(Clone, Debug)]
struct Cached {
    rt_hash: [u8; 32],
    at: Instant,
    outcome: RefreshOutcome,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// More sessions than this in the flight map: idle ones with no fresh result are dropped.
const MAX_IDLE_FLIGHTS: usize = 10_000;

impl MemoryStore {
    /// A store holding at most `cap` ids in each set (claims, refusals, ended sessions).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            used: Mutex::new(ExpiringSet::default()),
            refused: Mutex::new(FifoSet::default()),
            ended: Mutex::new(FifoSet::default()),
            flights: Mutex::new(HashMap::new()),
        }
    }

    fn spent(&self, key: u128) -> Result<bool, StoreError> {
        let used = self.used.lock().map_err(|_| poisoned())?.contains(key);
        Ok(used || self.refused.lock().map_err(|_| poisoned())?.contains(key))
    }

    fn claim(&self, key: u128, expires_at: u64, now: u64) -> Result<Claim, StoreError> {
        // Refusals first: a refused id must not be claimed again.
        if self.refused.lock().map_err(|_| poisoned())?.contains(key) {
            return Ok(Claim::AlreadyUsed);
        }
        self.used
            .lock()
            .map_err(|_| poisoned())?
            .insert(key, expires_at, now, self.cap)
    }

    fn slot(&self, sid: &str) -> Result<Slot, StoreError> {
        let mut m = self.flights.lock().map_err(|_| poisoned())?;
        if m.len() > MAX_IDLE_FLIGHTS {
            m.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .map(|g| {
                            g.as_ref()
                                .is_some_and(|c| c.at.elapsed() < REFRESH_SHARE_WINDOW)
                        })
                        .unwrap_or(true)
            });
        }
        Ok(m.entry(sid.to_owned()).or_default().clone())
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("a lock was poisoned by a panic")
}

impl Store for MemoryStore {
    fn is_transaction_spent<'a>(&'a self, tx: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { self.spent(key(tx)) })
    }

    fn claim_transaction<'a>(
        &'a self,
        tx: &'a str,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move { self.claim(key(tx), expires_at, now) })
    }

    fn release_transaction<'a>(&'a self, tx: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.used.lock().map_err(|_| poisoned())?.remove(key(tx));
            Ok(())
        })
    }

    fn refuse_transaction<'a>(
        &'a self,
        tx: &'a str,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let k = key(tx);
            self.refused
                .lock()
                .map_err(|_| poisoned())?
                .insert(k, expires_at, now, self.cap);
            self.used.lock().map_err(|_| poisoned())?.remove(k);
            Ok(())
        })
    }

    fn end_session<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // Every entry lives as long as a session, so the oldest is the closest to expiry.
            self.ended
                .lock()
                .map_err(|_| poisoned())?
                .insert(key(sid), expires_at, now, self.cap);
            Ok(())
        })
    }

    fn is_session_ended<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            Ok(self
                .ended
                .lock()
                .map_err(|_| poisoned())?
                .contains(key(sid)))
        })
    }

    fn refresh_flight<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn RefreshFlight>, StoreError>> {
        Box::pin(async move {
            let slot = self.slot(sid)?;
            let guard = slot.lock_owned().await;
            Ok(Box::new(MemoryFlight(guard)) as Box<dyn RefreshFlight>)
        })
    }
}

struct MemoryFlight(tokio::sync::OwnedMutexGuard<Option<Cached>>);

impl RefreshFlight for MemoryFlight {
    fn last_outcome(
        &self,
        rt_hash: &[u8; 32],
        max_age: Option<Duration>,
    ) -> BoxFuture<'_, Result<Option<RefreshOutcome>, StoreError>> {
        let found = self
            .0
            .as_ref()
            .filter(|c| c.rt_hash == *rt_hash && max_age.is_none_or(|m| c.at.elapsed() < m))
            .map(|c| c.outcome.clone());
        Box::pin(async move { Ok(found) })
    }

    fn publish(
        &mut self,
        rt_hash: [u8; 32],
        outcome: Option<RefreshOutcome>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        *self.0 = outcome.map(|outcome| Cached {
            rt_hash,
            at: Instant::now(),
            outcome,
        });
        Box::pin(async { Ok(()) })
    }
}

/// The set key of an id: the first 128 bits of SHA-256(id).
fn key(id: &str) -> u128 {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_le_bytes(b)
}

/// A bounded set of keys with expiry times that never forgets a live key: when full, expired
/// keys are pruned (at most one scan a second) and a set still full answers
/// [`StoreError::Full`].
#[derive(Debug, Default)]
struct ExpiringSet {
    map: HashMap<u128, u64>,
    /// No prune scan before this time (unix seconds): a full set of live keys is scanned at
    /// most once a second, never once per request.
    next_prune: u64,
}

impl ExpiringSet {
    fn contains(&self, key: u128) -> bool {
        self.map.contains_key(&key)
    }

    fn remove(&mut self, key: u128) {
        self.map.remove(&key);
    }

    fn insert(
        &mut self,
        key: u128,
        expires_at: u64,
        now: u64,
        cap: usize,
    ) -> Result<Claim, StoreError> {
        if self.map.contains_key(&key) {
            return Ok(Claim::AlreadyUsed);
        }
        if self.map.len() >= cap && now >= self.next_prune {
            self.map.retain(|_, exp| *exp > now);
            self.next_prune = now.saturating_add(1);
        }
        if self.map.len() >= cap {
            return Err(StoreError::Full);
        }
        self.map.insert(key, expires_at);
        Ok(Claim::Claimed)
    }
}

/// A bounded first-in-first-out set of keys with expiry times, for marks whose loss is
/// harmless: inserting always succeeds, evicting the oldest entry when full, in O(1).
#[derive(Debug, Default)]
struct FifoSet {
    keys: HashMap<u128, u64>,
    order: VecDeque<u128>,
}

impl FifoSet {
    fn contains(&self, key: u128) -> bool {
        self.keys.contains_key(&key)
    }

    fn insert(&mut self, key: u128, expires_at: u64, now: u64, cap: usize) {
        // Expired entries at the front go first (entries are inserted roughly in expiry order).
        while let Some(front) = self.order.front().copied() {
            match self.keys.get(&front) {
                Some(exp) if *exp > now => break,
                _ => {
                    self.order.pop_front();
                    self.keys.remove(&front);
                }
            }
        }
        if self.keys.contains_key(&key) {
            return;
        }
        while self.keys.len() >= cap.max(1) {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.keys.remove(&oldest);
                }
                None => break,
            }
        }
        self.keys.insert(key, expires_at);
        self.order.push_back(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_transaction_is_claimed_once_until_released() {
        let s = MemoryStore::new(4);
        assert_eq!(s.claim_transaction("a", 100, 0).await, Ok(Claim::Claimed));
        assert_eq!(
            s.claim_transaction("a", 100, 0).await,
            Ok(Claim::AlreadyUsed)
        );
        assert_eq!(s.is_transaction_spent("a").await, Ok(true));
        s.release_transaction("a").await.expect("release");
        assert_eq!(s.is_transaction_spent("a").await, Ok(false));
        assert_eq!(s.claim_transaction("a", 100, 0).await, Ok(Claim::Claimed));
    }

    #[tokio::test]
    async fn live_claims_are_never_evicted_but_expired_ones_are() {
        let s = MemoryStore::new(2);
        assert_eq!(s.claim_transaction("a", 10, 0).await, Ok(Claim::Claimed));
        assert_eq!(s.claim_transaction("b", 20, 0).await, Ok(Claim::Claimed));
        assert_eq!(s.claim_transaction("c", 30, 5).await, Err(StoreError::Full));
        assert_eq!(s.is_transaction_spent("a").await, Ok(true));
        // At 10 "a" has expired: it makes room.
        assert_eq!(s.claim_transaction("c", 30, 10).await, Ok(Claim::Claimed));
        assert_eq!(s.is_transaction_spent("b").await, Ok(true));
    }

    #[tokio::test]
    async fn a_refused_transaction_stays_spent_and_refusals_evict_the_oldest() {
        let s = MemoryStore::new(2);
        for id in ["a", "b", "c"] {
            assert_eq!(s.claim_transaction(id, 100, 0).await, Ok(Claim::Claimed));
            s.refuse_transaction(id, 100, 0).await.expect("refuse");
            assert_eq!(
                s.claim_transaction(id, 100, 0).await,
                Ok(Claim::AlreadyUsed)
            );
        }
        // The claims moved out of the strict set, so it has room for new ones…
        assert_eq!(s.claim_transaction("d", 100, 0).await, Ok(Claim::Claimed));
        assert_eq!(s.claim_transaction("e", 100, 0).await, Ok(Claim::Claimed));
        // …and the oldest refusal was forgotten, the newer ones kept.
        assert_eq!(s.is_transaction_spent("a").await, Ok(false));
        assert_eq!(s.is_transaction_spent("b").await, Ok(true));
        assert_eq!(s.is_transaction_spent("c").await, Ok(true));
    }

    #[tokio::test]
    async fn ending_a_session_is_never_refused() {
        let s = MemoryStore::new(2);
        for sid in ["s1", "s2", "s3"] {
            s.end_session(sid, 100, 0).await.expect("end");
        }
        assert_eq!(s.is_session_ended("s1").await, Ok(false));
        assert_eq!(s.is_session_ended("s3").await, Ok(true));
        assert_eq!(s.is_session_ended("other").await, Ok(false));
    }

    #[tokio::test]
    async fn one_refresh_flight_per_session_shares_its_outcome() {
        let s = Arc::new(MemoryStore::new(2));
        let mut first = s.refresh_flight("sid").await.expect("flight");
        // A second caller of the same session waits; another session does not.
        let s2 = s.clone();
        let waiting = tokio::spawn(async move {
            let f = s2.refresh_flight("sid").await.expect("flight");
            f.last_outcome(&[1; 32], Some(REFRESH_SHARE_WINDOW))
                .await
                .expect("read")
                .map(|o| o.map(|r| r.reply.access_token))
        });
        drop(s.refresh_flight("other").await.expect("other session"));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let reply = TokenReply {
            access_token: "at-1".to_owned(),
            token_type: "Bearer".to_owned(),
            expires_at: None,
            scope: None,
            id_token_claims: None,
            user: None,
        };
        first
            .publish(
                [1; 32],
                Some(Ok(Refreshed {
                    reply,
                    rotated: None,
                })),
            )
            .await
            .expect("publish");
        drop(first);
        let shared = waiting.await.expect("join");
        assert_eq!(shared.map(|r| r.ok()), Some(Some("at-1".to_owned())));
        // Another refresh token gets nothing.
        let f = s.refresh_flight("sid").await.expect("flight");
        assert!(
            f.last_outcome(&[2; 32], None)
                .await
                .expect("read")
                .is_none()
        );
    }
}
