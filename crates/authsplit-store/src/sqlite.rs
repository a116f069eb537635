//! The embedded store: one SQLite file (WAL mode) that survives restarts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{
    Backend, Claim, Join, Lease, Lookup, Result, SessionRecord, SessionState, Store, StoreError,
    ttl_ms,
};

const BACKEND: &str = "sqlite";
/// How often a background task deletes expired rows (reads ignore them anyway).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// How long a statement waits for another connection's write lock (several processes may
/// share one file) before the operation fails as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The schema this code reads and writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS claims (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    refused INTEGER NOT NULL DEFAULT 0,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    subject TEXT,
    oidc_sid TEXT,
    record TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_sid ON sessions (provider, oidc_sid)
    WHERE oidc_sid IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (provider, subject)
    WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS ended (
    id TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flights (
    key TEXT PRIMARY KEY,
    lease TEXT,
    lock_expires_ms INTEGER NOT NULL DEFAULT 0,
    result BLOB,
    result_expires_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
";

/// A SQLite database file in WAL mode (`synchronous = NORMAL`: a committed write survives a
/// crash of the process; the last moments may be lost on power loss), created with mode 0600
/// because it holds refresh tokens. One connection serves every call on Tokio's blocking
/// pool; expired rows are deleted every 30 s by a background task (reads ignore them before
/// that). Several processes may open the same file: claims and flights are single statements
/// or `BEGIN IMMEDIATE` transactions, so they stay exclusive across processes too.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::unavailable(BACKEND, e.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        .unwrap_or(0)
}

fn at(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl_ms(ttl)).unwrap_or(i64::MAX / 2))
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directory) the database at `path`. Blocks
    /// for the file I/O of opening (call it at start-up); inside a Tokio runtime it also starts
    /// the task that deletes expired rows.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = open_blocking(path)?;
        let inner = Arc::new(Inner {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweeper(Arc::downgrade(&inner)));
        }
        Ok(Self { inner })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = inner
                .conn
                .lock()
                .map_err(|_| StoreError::unavailable(BACKEND, "the connection lock is poisoned"))?;
            f(&mut c)
        })
        .await
        .map_err(|_| StoreError::unavailable(BACKEND, "a database task failed"))?
    }

    /// Deletes every expired row now (the background task does this every 30 s).
    pub async fn sweep(&self) -> Result<()> {
        self.with(|c| sweep_blocking(c).map_err(err)).await
    }
}

fn open_blocking(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    if !path.exists() {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        match o.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Config(format!(
                    "cannot create the database {}: {e}",
                    path.display()
                )));
            }
        }
    }
    let conn = Connection::open(path).map_err(|e| {
        StoreError::Config(format!("cannot open the database {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Config(format!(
            "the database {} cannot use WAL mode (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Config(format!(
            "the database {} has schema version {version}, newer than this program's \
             {SCHEMA_VERSION}",
            path.display()
        )));
    }
    conn.execute_batch(SCHEMA).map_err(err)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(err)?;
    Ok(conn)
}

fn sweep_blocking(c: &Connection) -> rusqlite::Result<()> {
    let now = now_ms();
    c.execute("DELETE FROM claims WHERE expires_ms <= ?1", [now])?;
    c.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now])?;
    c.execute("DELETE FROM ended WHERE expires_ms <= ?1", [now])?;
    c.execute(
        "DELETE FROM flights WHERE lock_expires_ms <= ?1 AND result_expires_ms <= ?1",
        [now],
    )?;
    Ok(())
}

async fn sweeper(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let r = tokio::task::spawn_blocking(move || match inner.conn.lock() {
            Ok(c) => sweep_blocking(&c).map_err(err),
            Err(_) => Err(StoreError::unavailable(BACKEND, "poisoned")),
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "session store: sweeping expired rows failed");
        }
    }
}

fn claim(c: &Connection, kind: &str, id: &str, ttl: Duration) -> Result<Claim> {
    let now = now_ms();
    // Inserts, or takes over a row whose TTL has passed; a live row (claimed or refused) is
    // left alone and reports `Used`.
    let n = c
        .execute(
            "INSERT INTO claims (kind, id, refused, expires_ms) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT (kind, id) DO UPDATE SET refused = 0, expires_ms = excluded.expires_ms
             WHERE claims.expires_ms <= ?4",
            params![kind, id, at(now, ttl), now],
        )
        .map_err(err)?;
    Ok(if n == 1 { Claim::Claimed } else { Claim::Used })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<()> {
        self.with(|c| {
            c.query_row("SELECT count(*) FROM ended", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
                .map_err(err)
        })
        .await
    }

    async fn claim_transaction(&self, id: &str, ttl: Duration) -> Result<Claim> {
        let id = id.to_owned();
        self.with(move |c| claim(c, "tx", &id, ttl)).await
    }

    async fn transaction_spent(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT 1 FROM claims WHERE kind = 'tx' AND id = ?1 AND expires_ms > ?2",
                params![id, now_ms()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(err)
        })
        .await
    }

    async fn release_transaction(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute(
                "DELETE FROM claims WHERE kind = 'tx' AND id = ?1 AND refused = 0",
                [id],
            )
            .map(|_| ())
            .map_err(err)
        })
        .await
    }

    async fn refuse_transaction(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE claims SET refused = 1 WHERE kind = 'tx' AND id = ?1",
                [id],
            )
            .map(|_| ())
            .map_err(err)
        })
        .await
    }

    async fn claim_jti(&self, jti: &str, ttl: Duration) -> Result<Claim> {
        let jti = jti.to_owned();
        self.with(move |c| claim(c, "jti", &jti, ttl)).await
    }

    async fn create_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool> {
        let (id, json, r) = (id.to_owned(), record.to_json()?, record.clone());
        self.with(move |c| {
            let now = now_ms();
            let t = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let ended: Option<i64> = t
                .query_row(
                    "SELECT 1 FROM ended WHERE id = ?1 AND expires_ms > ?2",
                    params![id, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            if ended.is_some() {
                return Ok(false);
            }
            t.execute(
                "INSERT OR REPLACE INTO sessions (id, provider, subject, oidc_sid, record, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, r.provider, r.subject, r.oidc_sid, json, at(now, ttl)],
            )
            .map_err(err)?;
            t.commit().map_err(err)?;
            Ok(true)
        })
        .await
    }

    async fn session(&self, id: &str) -> Result<SessionState> {
        let id = id.to_owned();
        self.with(move |c| {
            let now = now_ms();
            let rec: Option<String> = c
                .query_row(
                    "SELECT record FROM sessions WHERE id = ?1 AND expires_ms > ?2",
                    params![id, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            if let Some(json) = rec {
                return Ok(SessionState::Active(Box::new(SessionRecord::from_json(
                    BACKEND,
                    json.as_bytes(),
                )?)));
            }
            let ended: Option<i64> = c
                .query_row(
                    "SELECT 1 FROM ended WHERE id = ?1 AND expires_ms > ?2",
                    params![id, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            Ok(if ended.is_some() {
                SessionState::Ended
            } else {
                SessionState::Missing
            })
        })
        .await
    }

    async fn update_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool> {
        let (id, json, r) = (id.to_owned(), record.to_json()?, record.clone());
        self.with(move |c| {
            let now = now_ms();
            let n = c
                .execute(
                    "UPDATE sessions SET provider = ?2, subject = ?3, oidc_sid = ?4, record = ?5,
                     expires_ms = ?6 WHERE id = ?1 AND expires_ms > ?7",
                    params![
                        id,
                        r.provider,
                        r.subject,
                        r.oidc_sid,
                        json,
                        at(now, ttl),
                        now
                    ],
                )
                .map_err(err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn end_session(&self, id: &str, keep: Duration) -> Result<Option<SessionRecord>> {
        let id = id.to_owned();
        self.with(move |c| {
            let now = now_ms();
            let t = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let rec: Option<String> = t
                .query_row(
                    "DELETE FROM sessions WHERE id = ?1 RETURNING record, expires_ms",
                    [&id],
                    |r| {
                        let exp: i64 = r.get(1)?;
                        (exp > now).then(|| r.get::<_, String>(0)).transpose()
                    },
                )
                .optional()
                .map_err(err)?
                .flatten();
            t.execute(
                "INSERT INTO ended (id, expires_ms) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET expires_ms = max(expires_ms, excluded.expires_ms)",
                params![id, at(now, keep)],
            )
            .map_err(err)?;
            t.commit().map_err(err)?;
            rec.map(|j| SessionRecord::from_json(BACKEND, j.as_bytes()))
                .transpose()
        })
        .await
    }

    async fn find_sessions(&self, provider: &str, by: Lookup<'_>) -> Result<Vec<String>> {
        let provider = provider.to_owned();
        let (sql, value) = match by {
            Lookup::Sid(s) => (
                "SELECT id FROM sessions WHERE provider = ?1 AND oidc_sid = ?2 AND expires_ms > ?3",
                s.to_owned(),
            ),
            Lookup::Subject(s) => (
                "SELECT id FROM sessions WHERE provider = ?1 AND subject = ?2 AND expires_ms > ?3",
                s.to_owned(),
            ),
        };
        self.with(move |c| {
            let mut st = c.prepare_cached(sql).map_err(err)?;
            let rows = st
                .query_map(params![provider, value, now_ms()], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
        })
        .await
    }

    async fn join_flight(&self, key: &str, lock_ttl: Duration) -> Result<Join> {
        let key = key.to_owned();
        let lease = Lease::new()?;
        self.with(move |c| {
            let now = now_ms();
            let t = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let row: Option<(i64, Option<Vec<u8>>, i64)> = t
                .query_row(
                    "SELECT lock_expires_ms, result, result_expires_ms FROM flights WHERE key = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(err)?;
            if let Some((lock_exp, result, result_exp)) = row {
                if let Some(r) = result
                    && result_exp > now
                {
                    return Ok(Join::Done(r));
                }
                if lock_exp > now {
                    return Ok(Join::Running);
                }
            }
            t.execute(
                "INSERT OR REPLACE INTO flights (key, lease, lock_expires_ms, result, result_expires_ms)
                 VALUES (?1, ?2, ?3, NULL, 0)",
                params![key, lease.0, at(now, lock_ttl)],
            )
            .map_err(err)?;
            t.commit().map_err(err)?;
            Ok(Join::Lead(lease))
        })
        .await
    }

    async fn land_flight(
        &self,
        key: &str,
        lease: &Lease,
        result: Option<&[u8]>,
        keep: Duration,
    ) -> Result<()> {
        let (key, lease, result) = (key.to_owned(), lease.0.clone(), result.map(<[u8]>::to_vec));
        self.with(move |c| {
            let now = now_ms();
            let t = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            if let Some(r) = result {
                t.execute(
                    "INSERT INTO flights (key, lease, lock_expires_ms, result, result_expires_ms)
                     VALUES (?1, NULL, 0, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET result = excluded.result,
                     result_expires_ms = excluded.result_expires_ms",
                    params![key, r, at(now, keep)],
                )
                .map_err(err)?;
            }
            t.execute(
                "UPDATE flights SET lease = NULL, lock_expires_ms = 0 WHERE key = ?1 AND lease = ?2",
                params![key, lease],
            )
            .map_err(err)?;
            t.commit().map_err(err)
        })
        .await
    }
}
