//! The shared store: one Redis for several instances.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script, Value};

use crate::{
    Backend, Claim, Join, Lease, Lookup, Result, SessionRecord, SessionState, Store, StoreError,
    ttl_ms,
};

const BACKEND: &str = "redis";

/// Settings of a [`RedisStore`].
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Put before every key, so several deployments can share one Redis (`authsplit:`).
    pub key_prefix: String,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long one operation may take end to end (connecting included) before it fails as
    /// unavailable.
    pub op_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            key_prefix: "authsplit:".to_owned(),
            connect_timeout: Duration::from_millis(1000),
            op_timeout: Duration::from_millis(2000),
        }
    }
}

/// Redis through the client's `ConnectionManager` (one multiplexed connection, re-established
/// by itself after a failure: an operation while Redis is down fails within `op_timeout`, and
/// the next one after Redis is back succeeds). Every key carries the prefix and a TTL (the
/// by-`sid`/by-subject index sets live as long as their longest session); claims are
/// `SET NX PX`; multi-key steps are Lua scripts, so each is atomic. Needs Redis ≥ 6.0 (`SET …
/// KEEPTTL`), not Redis Cluster (scripts touch keys of different slots).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    op_timeout: Duration,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

struct Scripts {
    release_tx: Script,
    put_session: Script,
    end_session: Script,
    join_flight: Script,
    land_flight: Script,
}

/// KEYS: transaction. Deletes a plain claim; a refused one stays.
const RELEASE_TX: &str = r"
if redis.call('GET', KEYS[1]) == 'claimed' then return redis.call('DEL', KEYS[1]) end
return 0
";

/// KEYS: session, ended, index sets…; ARGV: record, ttl ms, id, `create` | `update`.
/// `create` refuses an ended id; `update` needs a live record (an ended one was deleted).
const PUT_SESSION: &str = r"
if ARGV[4] == 'create' then
  if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
";

/// KEYS: session, ended; ARGV: keep ms. Takes the record and marks the id ended (never
/// shortening an earlier end mark).
const END_SESSION: &str = r"
local v = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
local keep = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[2]) < keep then redis.call('SET', KEYS[2], '1', 'PX', keep) end
return v
";

/// KEYS: lock, result; ARGV: lease, lock ttl ms. The result (bulk), 1 (lead) or 0 (running).
const JOIN_FLIGHT: &str = r"
local r = redis.call('GET', KEYS[2])
if r then return r end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
";

/// KEYS: lock, result; ARGV: lease, has result (`1`/`0`), result, keep ms.
const LAND_FLIGHT: &str = r"
if ARGV[2] == '1' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

fn describe(e: &redis::RedisError) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "connection lost".to_owned()
    } else {
        format!("{:?} error", e.kind())
    }
}

/// Takes the `prefix` query parameter out of a Redis URL (the client does not know it).
fn split_prefix(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut prefix = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("prefix=") {
            Some(p) => {
                if p.is_empty()
                    || !p
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
                {
                    return Err(StoreError::Config(
                        "the Redis key prefix may hold only letters, digits and - _ . :".to_owned(),
                    ));
                }
                prefix = Some(p.to_owned());
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, prefix))
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://[user:password@]host[:port][/db][?prefix=…]`).
    /// Connects lazily: never waits for Redis here. Needs a Tokio runtime.
    pub fn open(url: &str, options: &RedisOptions) -> Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Config(
                "the Redis store must be opened inside a Tokio runtime".to_owned(),
            ));
        }
        let (url, prefix) = split_prefix(url)?;
        // The URL may hold a password: it is never repeated in a message.
        let client = redis::Client::open(url.as_str())
            .map_err(|_| StoreError::Config("the Redis URL is invalid".to_owned()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.op_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            StoreError::Config(format!("the Redis client cannot start: {}", describe(&e)))
        })?;
        Ok(Self {
            conn,
            prefix: prefix.unwrap_or_else(|| options.key_prefix.clone()),
            op_timeout: options.op_timeout,
            scripts: std::sync::Arc::new(Scripts {
                release_tx: Script::new(RELEASE_TX),
                put_session: Script::new(PUT_SESSION),
                end_session: Script::new(END_SESSION),
                join_flight: Script::new(JOIN_FLIGHT),
                land_flight: Script::new(LAND_FLIGHT),
            }),
        })
    }

    /// The key prefix in force.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    fn index_key(&self, provider: &str, by: Lookup<'_>) -> String {
        // The provider id is length-prefixed: `:` inside it cannot make two indexes collide.
        let (kind, v) = match by {
            Lookup::Sid(s) => ("sid", s),
            Lookup::Subject(s) => ("sub", s),
        };
        format!("{}{kind}:{}:{provider}:{v}", self.prefix, provider.len())
    }

    fn index_keys(&self, r: &SessionRecord) -> Vec<String> {
        let mut k = Vec::new();
        if let Some(s) = &r.oidc_sid {
            k.push(self.index_key(&r.provider, Lookup::Sid(s)));
        }
        if let Some(s) = &r.subject {
            k.push(self.index_key(&r.provider, Lookup::Subject(s)));
        }
        k
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        match tokio::time::timeout(self.op_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::unavailable(BACKEND, describe(&e))),
            Err(_) => Err(StoreError::unavailable(BACKEND, "timed out")),
        }
    }

    async fn set_nx(&self, key: String, value: &str, ttl: Duration) -> Result<Claim> {
        let mut c = self.conn.clone();
        let r: Option<String> = self
            .run(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async(&mut c),
            )
            .await?;
        Ok(if r.is_some() {
            Claim::Claimed
        } else {
            Claim::Used
        })
    }

    async fn put_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
        mode: &str,
    ) -> Result<bool> {
        let json = record.to_json()?;
        let mut inv = self.scripts.put_session.prepare_invoke();
        inv.key(self.key("s", id)).key(self.key("end", id));
        for k in self.index_keys(record) {
            inv.key(k);
        }
        inv.arg(json).arg(ttl_ms(ttl)).arg(id).arg(mode);
        let mut c = self.conn.clone();
        let n: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(n == 1)
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    fn backend(&self) -> Backend {
        Backend::Redis
    }

    async fn ping(&self) -> Result<()> {
        let mut c = self.conn.clone();
        let _: String = self.run(redis::cmd("PING").query_async(&mut c)).await?;
        Ok(())
    }

    async fn claim_transaction(&self, id: &str, ttl: Duration) -> Result<Claim> {
        self.set_nx(self.key("tx", id), "claimed", ttl).await
    }

    async fn transaction_spent(&self, id: &str) -> Result<bool> {
        let mut c = self.conn.clone();
        let n: i64 = self
            .run(
                redis::cmd("EXISTS")
                    .arg(self.key("tx", id))
                    .query_async(&mut c),
            )
            .await?;
        Ok(n == 1)
    }

    async fn release_transaction(&self, id: &str) -> Result<()> {
        let mut c = self.conn.clone();
        let mut inv = self.scripts.release_tx.prepare_invoke();
        inv.key(self.key("tx", id));
        let _: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(())
    }

    async fn refuse_transaction(&self, id: &str) -> Result<()> {
        let mut c = self.conn.clone();
        let _: Option<String> = self
            .run(
                redis::cmd("SET")
                    .arg(self.key("tx", id))
                    .arg("refused")
                    .arg("XX")
                    .arg("KEEPTTL")
                    .query_async(&mut c),
            )
            .await?;
        Ok(())
    }

    async fn claim_jti(&self, jti: &str, ttl: Duration) -> Result<Claim> {
        self.set_nx(self.key("jti", jti), "seen", ttl).await
    }

    async fn create_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool> {
        self.put_session(id, record, ttl, "create").await
    }

    async fn session(&self, id: &str) -> Result<SessionState> {
        let mut c = self.conn.clone();
        let (rec, ended): (Option<Vec<u8>>, Option<Vec<u8>>) = self
            .run(
                redis::cmd("MGET")
                    .arg(self.key("s", id))
                    .arg(self.key("end", id))
                    .query_async(&mut c),
            )
            .await?;
        match (rec, ended) {
            (Some(r), _) => Ok(SessionState::Active(Box::new(SessionRecord::from_json(
                BACKEND, &r,
            )?))),
            (None, Some(_)) => Ok(SessionState::Ended),
            (None, None) => Ok(SessionState::Missing),
        }
    }

    async fn update_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool> {
        self.put_session(id, record, ttl, "update").await
    }

    async fn end_session(&self, id: &str, keep: Duration) -> Result<Option<SessionRecord>> {
        let mut c = self.conn.clone();
        let mut inv = self.scripts.end_session.prepare_invoke();
        inv.key(self.key("s", id))
            .key(self.key("end", id))
            .arg(ttl_ms(keep));
        let taken: Option<Vec<u8>> = self.run(inv.invoke_async(&mut c)).await?;
        let Some(bytes) = taken else {
            return Ok(None);
        };
        let record = SessionRecord::from_json(BACKEND, &bytes)?;
        // The index sets would drop the id on their own when read; removing it now keeps
        // them small. A failure here changes nothing that matters.
        for k in self.index_keys(&record) {
            let _ = self
                .run(redis::cmd("SREM").arg(k).arg(id).query_async::<i64>(&mut c))
                .await;
        }
        Ok(Some(record))
    }

    async fn find_sessions(&self, provider: &str, by: Lookup<'_>) -> Result<Vec<String>> {
        let mut c = self.conn.clone();
        let index = self.index_key(provider, by);
        let ids: Vec<String> = self
            .run(redis::cmd("SMEMBERS").arg(&index).query_async(&mut c))
            .await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut get = redis::cmd("MGET");
        for id in &ids {
            get.arg(self.key("s", id));
        }
        let records: Vec<Option<Vec<u8>>> = self.run(get.query_async(&mut c)).await?;
        let mut found = Vec::new();
        let mut stale = Vec::new();
        for (id, rec) in ids.into_iter().zip(records) {
            let matches = rec
                .and_then(|r| SessionRecord::from_json(BACKEND, &r).ok())
                .is_some_and(|r| {
                    r.provider == provider
                        && match by {
                            Lookup::Sid(s) => r.oidc_sid.as_deref() == Some(s),
                            Lookup::Subject(s) => r.subject.as_deref() == Some(s),
                        }
                });
            if matches {
                found.push(id);
            } else {
                stale.push(id);
            }
        }
        if !stale.is_empty() {
            let _ = self
                .run(
                    redis::cmd("SREM")
                        .arg(&index)
                        .arg(&stale)
                        .query_async::<i64>(&mut c),
                )
                .await;
        }
        Ok(found)
    }

    async fn join_flight(&self, key: &str, lock_ttl: Duration) -> Result<Join> {
        let lease = Lease::new()?;
        let mut c = self.conn.clone();
        let mut inv = self.scripts.join_flight.prepare_invoke();
        inv.key(self.key("flight-lock", key))
            .key(self.key("flight-result", key))
            .arg(&lease.0)
            .arg(ttl_ms(lock_ttl));
        let v: Value = self.run(inv.invoke_async(&mut c)).await?;
        match v {
            Value::BulkString(r) => Ok(Join::Done(r)),
            Value::Int(1) => Ok(Join::Lead(lease)),
            Value::Int(0) => Ok(Join::Running),
            _ => Err(StoreError::unavailable(
                BACKEND,
                "unexpected reply to a flight join",
            )),
        }
    }

    async fn land_flight(
        &self,
        key: &str,
        lease: &Lease,
        result: Option<&[u8]>,
        keep: Duration,
    ) -> Result<()> {
        let mut c = self.conn.clone();
        let mut inv = self.scripts.land_flight.prepare_invoke();
        inv.key(self.key("flight-lock", key))
            .key(self.key("flight-result", key))
            .arg(&lease.0)
            .arg(if result.is_some() { "1" } else { "0" })
            .arg(result.unwrap_or_default())
            .arg(ttl_ms(keep));
        let _: i64 = self.run(inv.invoke_async(&mut c)).await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_parameter_is_taken_out_of_the_url() {
        assert_eq!(
            split_prefix("redis://127.0.0.1:6379/2?prefix=app1:").unwrap(),
            (
                "redis://127.0.0.1:6379/2".to_owned(),
                Some("app1:".to_owned())
            )
        );
        assert_eq!(
            split_prefix("redis://h/0?protocol=resp3&prefix=a").unwrap(),
            (
                "redis://h/0?protocol=resp3".to_owned(),
                Some("a".to_owned())
            )
        );
        assert_eq!(
            split_prefix("redis://h").unwrap(),
            ("redis://h".to_owned(), None)
        );
        assert!(matches!(
            split_prefix("redis://h?prefix=a%20b"),
            Err(StoreError::Config(_))
        ));
    }
}
