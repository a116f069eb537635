//! The memory store: one process, nothing survives it (tests, the demo).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::{
    Backend, Claim, Join, Lease, Lookup, MillisClock, Result, SessionRecord, SessionState, Store,
    StoreError, system_millis, ttl_ms,
};

const BACKEND: &str = "memory";
/// Expired entries are swept at most this often (and whenever a bound is reached, at most
/// this often too: a full store of live entries is never scanned once per request).
const SWEEP_EVERY_MS: u64 = 1000;

/// Everything in one mutex-guarded map per kind.
///
/// Claims (transactions and `jti`s) are bounded by `max_claims`: a claim that would exceed it
/// is refused with [`StoreError::Unavailable`] (live claims are never evicted — evicting one
/// would let its transaction be redeemed again). Refused transactions live in a separate
/// first-in-first-out set of the same bound that evicts its oldest entry instead, so refused
/// exchanges — which anyone can cause with made-up codes — never fill the strict bound.
/// Sessions and ended ids are unbounded (they exist only for real sign-ins and logouts) and
/// swept when they expire. Time comes from a clock that can be replaced (tests of expiry).
pub struct MemoryStore {
    state: Mutex<State>,
    max_claims: usize,
    clock: MillisClock,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_claims", &self.max_claims)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    claims: HashMap<String, u64>,
    refused: HashMap<String, u64>,
    refused_order: VecDeque<String>,
    sessions: HashMap<String, (SessionRecord, u64)>,
    ended: HashMap<String, u64>,
    flights: HashMap<String, FlightSlot>,
    next_sweep: u64,
}

#[derive(Debug, Default)]
struct FlightSlot {
    lock: Option<(String, u64)>,
    result: Option<(Vec<u8>, u64)>,
}

fn live(exp: &u64, now: u64) -> bool {
    *exp > now
}

impl State {
    fn sweep(&mut self, now: u64) {
        self.claims.retain(|_, e| live(e, now));
        self.refused.retain(|_, e| live(e, now));
        let refused = &self.refused;
        self.refused_order.retain(|k| refused.contains_key(k));
        self.sessions.retain(|_, (_, e)| live(e, now));
        self.ended.retain(|_, e| live(e, now));
        self.flights.retain(|_, f| {
            f.lock.as_ref().is_some_and(|(_, e)| live(e, now))
                || f.result.as_ref().is_some_and(|(_, e)| live(e, now))
        });
        self.next_sweep = now + SWEEP_EVERY_MS;
    }

    fn sweep_if_due(&mut self, now: u64) {
        if now >= self.next_sweep {
            self.sweep(now);
        }
    }

    fn claim(&mut self, key: String, ttl: Duration, now: u64, max: usize) -> Result<Claim> {
        self.sweep_if_due(now);
        if self.claims.get(&key).is_some_and(|e| live(e, now))
            || self.refused.get(&key).is_some_and(|e| live(e, now))
        {
            return Ok(Claim::Used);
        }
        if self.claims.len() >= max && now >= self.next_sweep {
            self.sweep(now);
        }
        if self.claims.len() >= max.max(1) {
            return Err(StoreError::Full);
        }
        self.claims.insert(key, now.saturating_add(ttl_ms(ttl)));
        Ok(Claim::Claimed)
    }
}

impl MemoryStore {
    /// An empty store holding at most `max_claims` live claims (and as many refused ones).
    pub fn new(max_claims: usize) -> Self {
        Self::with_clock(max_claims, std::sync::Arc::new(system_millis))
    }

    /// The same with another clock (unix milliseconds).
    pub fn with_clock(max_claims: usize, clock: MillisClock) -> Self {
        let now = clock();
        Self {
            state: Mutex::new(State {
                claims: HashMap::new(),
                refused: HashMap::new(),
                refused_order: VecDeque::new(),
                sessions: HashMap::new(),
                ended: HashMap::new(),
                flights: HashMap::new(),
                next_sweep: now + SWEEP_EVERY_MS,
            }),
            max_claims: max_claims.max(1),
            clock,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| StoreError::unavailable(BACKEND, "the store's lock is poisoned"))
    }
}

fn tx_key(id: &str) -> String {
    format!("t:{id}")
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> Backend {
        Backend::Memory
    }

    async fn ping(&self) -> Result<()> {
        self.lock().map(|_| ())
    }

    async fn claim_transaction(&self, id: &str, ttl: Duration) -> Result<Claim> {
        let now = (self.clock)();
        self.lock()?.claim(tx_key(id), ttl, now, self.max_claims)
    }

    async fn transaction_spent(&self, id: &str) -> Result<bool> {
        let now = (self.clock)();
        let s = self.lock()?;
        let key = tx_key(id);
        Ok(s.claims.get(&key).is_some_and(|e| live(e, now))
            || s.refused.get(&key).is_some_and(|e| live(e, now)))
    }

    async fn release_transaction(&self, id: &str) -> Result<()> {
        self.lock()?.claims.remove(&tx_key(id));
        Ok(())
    }

    async fn refuse_transaction(&self, id: &str) -> Result<()> {
        let now = (self.clock)();
        let mut s = self.lock()?;
        let key = tx_key(id);
        let Some(exp) = s.claims.remove(&key) else {
            return Ok(());
        };
        if !live(&exp, now) || s.refused.contains_key(&key) {
            return Ok(());
        }
        while s.refused.len() >= self.max_claims {
            match s.refused_order.pop_front() {
                Some(oldest) => {
                    s.refused.remove(&oldest);
                }
                None => break,
            }
        }
        s.refused.insert(key.clone(), exp);
        s.refused_order.push_back(key);
        Ok(())
    }

    async fn claim_jti(&self, jti: &str, ttl: Duration) -> Result<Claim> {
        let now = (self.clock)();
        self.lock()?
            .claim(format!("j:{jti}"), ttl, now, self.max_claims)
    }

    async fn create_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool> {
        let now = (self.clock)();
        let mut s = self.lock()?;
        s.sweep_if_due(now);
        if s.ended.get(id).is_some_and(|e| live(e, now)) {
            return Ok(false);
        }
        s.sessions.insert(
            id.to_owned(),
            (record.clone(), now.saturating_add(ttl_ms(ttl))),
        );
        Ok(true)
    }

    async fn session(&self, id: &str) -> Result<SessionState> {
        let now = (self.clock)();
        let s = self.lock()?;
        if let Some((r, e)) = s.sessions.get(id)
            && live(e, now)
        {
            return Ok(SessionState::Active(Box::new(r.clone())));
        }
        if s.ended.get(id).is_some_and(|e| live(e, now)) {
            return Ok(SessionState::Ended);
        }
        Ok(SessionState::Missing)
    }

    async fn update_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool> {
        let now = (self.clock)();
        let mut s = self.lock()?;
        match s.sessions.get_mut(id) {
            Some(slot) if live(&slot.1, now) => {
                *slot = (record.clone(), now.saturating_add(ttl_ms(ttl)));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn end_session(&self, id: &str, keep: Duration) -> Result<Option<SessionRecord>> {
        let now = (self.clock)();
        let mut s = self.lock()?;
        let taken = s
            .sessions
            .remove(id)
            .filter(|(_, e)| live(e, now))
            .map(|(r, _)| r);
        let until = now.saturating_add(ttl_ms(keep));
        let e = s.ended.entry(id.to_owned()).or_insert(until);
        if *e < until {
            *e = until;
        }
        Ok(taken)
    }

    async fn find_sessions(&self, provider: &str, by: Lookup<'_>) -> Result<Vec<String>> {
        let now = (self.clock)();
        let s = self.lock()?;
        Ok(s.sessions
            .iter()
            .filter(|(_, (r, e))| {
                live(e, now)
                    && r.provider == provider
                    && match by {
                        Lookup::Sid(sid) => r.oidc_sid.as_deref() == Some(sid),
                        Lookup::Subject(sub) => r.subject.as_deref() == Some(sub),
                    }
            })
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn join_flight(&self, key: &str, lock_ttl: Duration) -> Result<Join> {
        let now = (self.clock)();
        let lease = Lease::new()?;
        let mut s = self.lock()?;
        s.sweep_if_due(now);
        let slot = s.flights.entry(key.to_owned()).or_default();
        if let Some((r, e)) = &slot.result
            && live(e, now)
        {
            return Ok(Join::Done(r.clone()));
        }
        if slot.lock.as_ref().is_some_and(|(_, e)| live(e, now)) {
            return Ok(Join::Running);
        }
        slot.result = None;
        slot.lock = Some((lease.0.clone(), now.saturating_add(ttl_ms(lock_ttl))));
        Ok(Join::Lead(lease))
    }

    async fn land_flight(
        &self,
        key: &str,
        lease: &Lease,
        result: Option<&[u8]>,
        keep: Duration,
    ) -> Result<()> {
        let now = (self.clock)();
        let mut s = self.lock()?;
        let slot = s.flights.entry(key.to_owned()).or_default();
        if let Some(r) = result {
            slot.result = Some((r.to_vec(), now.saturating_add(ttl_ms(keep))));
        }
        if slot.lock.as_ref().is_some_and(|(l, _)| *l == lease.0) {
            slot.lock = None;
        }
        Ok(())
    }
}
