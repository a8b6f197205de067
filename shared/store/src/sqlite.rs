//! The embedded adapter: one SQLite file holds every logical table. It mirrors the DynamoDB
//! adapter's semantics exactly (the conformance suite proves it), so the local host behaves as
//! production does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rc_domain::Clock;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::limits::MAX_BATCH_WRITE;
use crate::{
    DeadlineIndex, DueItem, Item, ItemKey, ItemReader, ItemTransactor, ItemWriter, Page, PageToken,
    StoreError, TxOp, Value,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl        TEXT    NOT NULL,
    pk         TEXT    NOT NULL,
    sk         TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    expires_at INTEGER,
    due_at     INTEGER,
    attrs      BLOB    NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_pii_deadline
    ON items (tbl, due_at, pk, sk) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_by_partition_deadline
    ON items (tbl, pk, due_at, sk) WHERE due_at IS NOT NULL;
";

/// One embedded database file, shared by the logical tables stored in it.
#[derive(Clone)]
pub struct EmbeddedDb {
    conn: Arc<Mutex<Connection>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    // SQLite messages name columns and constraints, never bound values.
    StoreError::Backend(format!("sqlite: {e}"))
}

impl EmbeddedDb {
    /// Opens (or creates) the database file, owner-only (0600): it holds every sealed value and,
    /// for `keys.db`, every wrapped key. SQLite gives its `-wal` and `-shm` files the database
    /// file's mode; files left looser by an older version are tightened.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        make_private(path).map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        Self::init(Connection::open(path).map_err(backend)?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        // secure_delete: deleted rows are overwritten with zeros instead of lingering in free pages,
        // so deleting an item removes its bytes from the file, not just its index entry.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA secure_delete = ON;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs blocking SQLite work off the async runtime.
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|_| StoreError::Backend("sqlite worker stopped".into()))?
    }
}

/// One logical table inside an [`EmbeddedDb`].
#[derive(Clone)]
pub struct SqliteStore {
    db: EmbeddedDb,
    table: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    pub fn new(db: EmbeddedDb, table: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            table: table.into(),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

struct Row {
    version: u64,
    expires_at: Option<i64>,
    due_at: Option<i64>,
    attrs: Vec<u8>,
}

fn encode_attrs(attrs: &BTreeMap<String, Value>) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(attrs).map_err(|_| StoreError::Corrupt("attributes do not encode"))
}

fn row_to_item(key: ItemKey, row: Row) -> Result<Item, StoreError> {
    let attrs: BTreeMap<String, Value> = serde_json::from_slice(&row.attrs)
        .map_err(|_| StoreError::Corrupt("attributes do not decode"))?;
    Ok(Item {
        key,
        attrs,
        version: row.version,
        expires_at: row.expires_at,
        pii_deadline: row.due_at,
    })
}

/// A partition query's row: its sort key and the stored item (columns `sk, version,
/// expires_at, due_at, attrs`).
fn sk_and_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Row)> {
    Ok((
        r.get::<_, String>(0)?,
        Row {
            version: r.get::<_, i64>(1)? as u64,
            expires_at: r.get(2)?,
            due_at: r.get(3)?,
            attrs: r.get(4)?,
        },
    ))
}

/// A page of a partition query: the live items, and the last sort key read when the page is
/// full (more may follow, even if some of these were past their TTL).
fn page_of(
    pk: &str,
    rows: Vec<(String, Row)>,
    limit: usize,
    now: i64,
) -> Result<Page<Item>, StoreError> {
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|(sk, _)| PageToken(sk.clone())))
        .flatten();
    let items = rows
        .into_iter()
        .filter_map(|(sk, row)| live(Some(row), now).map(|row| (sk, row)))
        .map(|(sk, row)| row_to_item(ItemKey::new(pk, sk), row))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next })
}

fn load(conn: &Connection, table: &str, key: &ItemKey) -> Result<Option<Row>, StoreError> {
    conn.prepare_cached(
        "SELECT version, expires_at, due_at, attrs FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
    )
    .map_err(backend)?
    .query_row(params![table, key.pk, key.sk], |r| {
        Ok(Row {
            version: r.get::<_, i64>(0)? as u64,
            expires_at: r.get(1)?,
            due_at: r.get(2)?,
            attrs: r.get(3)?,
        })
    })
    .optional()
    .map_err(backend)
}

fn store_row(conn: &Connection, table: &str, item: &Item, version: u64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, version, expires_at, due_at, attrs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tbl, pk, sk) DO UPDATE SET version = excluded.version,
             expires_at = excluded.expires_at, due_at = excluded.due_at, attrs = excluded.attrs",
    )
    .map_err(backend)?
    .execute(params![
        table,
        item.key.pk,
        item.key.sk,
        version as i64,
        item.expires_at,
        item.pii_deadline,
        encode_attrs(&item.attrs)?
    ])
    .map_err(backend)?;
    Ok(())
}

fn remove_row(conn: &Connection, table: &str, key: &ItemKey) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .map_err(backend)?
        .execute(params![table, key.pk, key.sk])
        .map_err(backend)?;
    Ok(())
}

/// Whether an item exists for conditions: an item past its TTL counts as gone, as on read.
fn live(row: Option<Row>, now: i64) -> Option<Row> {
    row.filter(|r| r.expires_at.is_none_or(|ttl| ttl > now))
}

/// Checks one transaction operation's condition against the current state; `Ok(false)` when the
/// condition fails.
fn condition_holds(
    conn: &Connection,
    table: &str,
    op: &TxOp,
    now: i64,
) -> Result<bool, StoreError> {
    let current = live(load(conn, table, op.key())?, now);
    Ok(match op {
        TxOp::Create(_) => current.is_none(),
        TxOp::Replace {
            expected_version, ..
        } => current.is_some_and(|r| r.version == *expected_version),
        TxOp::Delete {
            expected_version, ..
        } => match expected_version {
            None => true,
            Some(v) => current.is_some_and(|r| r.version == *v),
        },
        TxOp::CheckVersion { version, .. } => current.is_some_and(|r| r.version == *version),
        TxOp::Adjust { key, at_least, .. } => match current {
            None => false,
            Some(row) => {
                let item = row_to_item(key.clone(), row)?;
                at_least
                    .iter()
                    .all(|(name, min)| item.number(name).unwrap_or(0) >= *min)
            }
        },
    })
}

fn apply(conn: &Connection, table: &str, op: TxOp, now: i64) -> Result<(), StoreError> {
    match op {
        TxOp::Create(item) => store_row(conn, table, &item, 1),
        TxOp::Replace {
            item,
            expected_version,
        } => store_row(conn, table, &item, expected_version + 1),
        TxOp::Delete { key, .. } => remove_row(conn, table, &key),
        TxOp::CheckVersion { .. } => Ok(()),
        TxOp::Adjust { key, deltas, .. } => {
            let row = live(load(conn, table, &key)?, now).ok_or(StoreError::ConditionFailed)?;
            let mut item = row_to_item(key, row)?;
            for (name, delta) in deltas {
                let current = item.number(&name).unwrap_or(0);
                let next = current
                    .checked_add(delta)
                    .ok_or(StoreError::ConditionFailed)?;
                item.set(&name, Value::N(next));
            }
            store_row(conn, table, &item, item.version + 1)
        }
    }
}

#[async_trait]
impl ItemReader for SqliteStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        key.check()?;
        let (table, key, now) = (Arc::clone(&self.table), key.clone(), self.now());
        self.db
            .with(move |conn| {
                live(load(conn, &table, &key)?, now)
                    .map(|row| row_to_item(key, row))
                    .transpose()
            })
            .await
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        for key in keys {
            key.check()?;
        }
        let (table, keys, now) = (Arc::clone(&self.table), keys.to_vec(), self.now());
        // One trip to the blocking pool and one hold of the connection for the whole batch.
        self.db
            .with(move |conn| {
                keys.into_iter()
                    .map(|key| {
                        live(load(conn, &table, &key)?, now)
                            .map(|row| row_to_item(key, row))
                            .transpose()
                    })
                    .collect()
            })
            .await
    }

    async fn query_partition(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        let after_sk = match after {
            Some(PageToken(sk)) if sk.starts_with(sk_prefix) => sk,
            Some(_) => return Err(StoreError::BadPageToken),
            None => String::new(),
        };
        let (table, pk, prefix, now) = (
            Arc::clone(&self.table),
            pk.to_owned(),
            sk_prefix.to_owned(),
            self.now(),
        );
        let limit = limit.max(1);
        self.db
            .with(move |conn| {
                // The range [prefix, prefix + U+10FFFF) bounds the index walk to the prefix's
                // rows (like DynamoDB's begins_with on the sort key): without it, a prefix that
                // matches nothing would walk the rest of the partition. substr() keeps the match
                // exact (rather than LIKE: sort keys may contain '%' and '_').
                let upper = format!("{prefix}\u{10FFFF}");
                // One lower bound only: given both `sk >= prefix` and `sk > after`, SQLite
                // starts the index walk at the prefix and filters the rest, so every later
                // page re-walked the pages before it (quadratic over a partition).
                let mut stmt = if after_sk.is_empty() {
                    conn.prepare_cached(
                        "SELECT sk, version, expires_at, due_at, attrs FROM items
                         WHERE tbl = ?1 AND pk = ?2 AND sk >= ?4 AND sk < ?6
                           AND substr(sk, 1, length(?3)) = ?3
                         ORDER BY sk LIMIT ?5",
                    )
                } else {
                    conn.prepare_cached(
                        "SELECT sk, version, expires_at, due_at, attrs FROM items
                         WHERE tbl = ?1 AND pk = ?2 AND sk > ?4 AND sk < ?6
                           AND substr(sk, 1, length(?3)) = ?3
                         ORDER BY sk LIMIT ?5",
                    )
                }
                .map_err(backend)?;
                let lower = if after_sk.is_empty() {
                    prefix.clone()
                } else {
                    after_sk
                };
                let rows = stmt
                    .query_map(
                        params![table, pk, prefix, lower, limit as i64, upper],
                        sk_and_row,
                    )
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                page_of(&pk, rows, limit, now)
            })
            .await
    }

    async fn query_partition_newest_first(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        let upper = match after {
            Some(PageToken(sk)) if sk.starts_with(sk_prefix) => sk,
            Some(_) => return Err(StoreError::BadPageToken),
            None => format!("{sk_prefix}\u{10FFFF}"),
        };
        let (table, pk, prefix, now) = (
            Arc::clone(&self.table),
            pk.to_owned(),
            sk_prefix.to_owned(),
            self.now(),
        );
        let limit = limit.max(1);
        self.db
            .with(move |conn| {
                // The same bounded walk as `query_partition`, downwards from `upper`.
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT sk, version, expires_at, due_at, attrs FROM items
                         WHERE tbl = ?1 AND pk = ?2 AND sk >= ?3 AND sk < ?4
                           AND substr(sk, 1, length(?3)) = ?3
                         ORDER BY sk DESC LIMIT ?5",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![table, pk, prefix, upper, limit as i64], sk_and_row)
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                page_of(&pk, rows, limit, now)
            })
            .await
    }
}

#[async_trait]
impl ItemWriter for SqliteStore {
    async fn create(&self, item: Item) -> Result<(), StoreError> {
        crate::ports::single::create(self, item).await
    }

    async fn replace(&self, item: Item, expected_version: u64) -> Result<(), StoreError> {
        crate::ports::single::replace(self, item, expected_version).await
    }

    async fn delete(&self, key: &ItemKey, expected_version: Option<u64>) -> Result<(), StoreError> {
        crate::ports::single::delete(self, key, expected_version).await
    }

    async fn delete_many(&self, keys: Vec<ItemKey>) -> Result<(), StoreError> {
        for key in &keys {
            key.check()?;
        }
        // Same batch size as DynamoDB so both adapters do the same number of round trips.
        for chunk in keys.chunks(MAX_BATCH_WRITE) {
            let (table, chunk) = (Arc::clone(&self.table), chunk.to_vec());
            self.db
                .with(move |conn| {
                    let tx = conn.transaction().map_err(backend)?;
                    for key in &chunk {
                        remove_row(&tx, &table, key)?;
                    }
                    tx.commit().map_err(backend)
                })
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ItemTransactor for SqliteStore {
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        TxOp::check_all(&ops)?;
        let (table, now) = (Arc::clone(&self.table), self.now());
        self.db
            .with(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(backend)?;
                let mut failed = Vec::new();
                for (index, op) in ops.iter().enumerate() {
                    if !condition_holds(&tx, &table, op, now)? {
                        failed.push(index);
                    }
                }
                if !failed.is_empty() {
                    // Dropping `tx` rolls back; nothing was written yet anyway.
                    return Err(StoreError::TransactionCancelled { failed });
                }
                for op in ops {
                    apply(&tx, &table, op, now)?;
                }
                tx.commit().map_err(backend)
            })
            .await
    }
}

#[async_trait]
impl DeadlineIndex for SqliteStore {
    async fn due(
        &self,
        now_epoch: i64,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<DueItem>, StoreError> {
        let after: (i64, String, String) = match after {
            None => (i64::MIN, String::new(), String::new()),
            Some(PageToken(token)) => {
                serde_json::from_str(&token).map_err(|_| StoreError::BadPageToken)?
            }
        };
        let table = Arc::clone(&self.table);
        let limit = limit.max(1);
        self.db
            .with(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT pk, sk, due_at FROM items INDEXED BY items_by_pii_deadline
                         WHERE tbl = ?1 AND due_at IS NOT NULL AND due_at <= ?2
                           AND (due_at, pk, sk) > (?3, ?4, ?5)
                         ORDER BY due_at, pk, sk LIMIT ?6",
                    )
                    .map_err(backend)?;
                let items = stmt
                    .query_map(
                        params![table, now_epoch, after.0, after.1, after.2, limit as i64],
                        |r| {
                            Ok(DueItem {
                                key: ItemKey::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                                pii_deadline: r.get(2)?,
                            })
                        },
                    )
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                let next = if items.len() == limit {
                    items.last().map(|last| {
                        let cursor = (last.pii_deadline, &last.key.pk, &last.key.sk);
                        PageToken(serde_json::to_string(&cursor).unwrap_or_default())
                    })
                } else {
                    None
                };
                Ok(Page { items, next })
            })
            .await
    }

    async fn partition_deadlines(
        &self,
        pk: &str,
        sk_prefix: &str,
        until_epoch: Option<i64>,
        limit: usize,
        after: Option<&DueItem>,
    ) -> Result<Vec<DueItem>, StoreError> {
        let table = Arc::clone(&self.table);
        let pk = pk.to_owned();
        // Every sort key that starts with the prefix sorts between these two (keys are ASCII).
        let low = sk_prefix.to_owned();
        let high = format!("{sk_prefix}\u{10FFFF}");
        let (after_due, after_sk) = after.map_or((i64::MIN, String::new()), |a| {
            (a.pii_deadline, a.key.sk.clone())
        });
        let until = until_epoch.unwrap_or(i64::MAX);
        let limit = limit.max(1);
        self.db
            .with(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT sk, due_at FROM items INDEXED BY items_by_partition_deadline
                         WHERE tbl = ?1 AND pk = ?2 AND due_at IS NOT NULL AND due_at <= ?3
                           AND (due_at, sk) > (?4, ?5) AND sk >= ?6 AND sk < ?7
                         ORDER BY due_at, sk LIMIT ?8",
                    )
                    .map_err(backend)?;
                stmt.query_map(
                    params![
                        table,
                        pk,
                        until,
                        after_due,
                        after_sk,
                        low,
                        high,
                        limit as i64
                    ],
                    |r| {
                        Ok(DueItem {
                            key: ItemKey::new(pk.clone(), r.get::<_, String>(0)?),
                            pii_deadline: r.get(1)?,
                        })
                    },
                )
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)
            })
            .await
    }
}

/// Creates `path` with mode 0600 if it is missing, and tightens it and its `-wal`/`-shm` files to
/// 0600 if they exist.
#[cfg(unix)]
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    let files = [path.to_path_buf(), with_suffix("-wal"), with_suffix("-shm")];
    for file in files {
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
