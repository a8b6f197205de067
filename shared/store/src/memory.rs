//! The in-memory adapter: the same semantics as DynamoDB and SQLite (the conformance suite runs on
//! it too), with no I/O at all. For unit tests of higher layers and for measuring handlers' own
//! CPU cost without storage in the way.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rc_domain::Clock;

use crate::{
    DeadlineIndex, DueItem, Item, ItemKey, ItemReader, ItemTransactor, ItemWriter, Page, PageToken,
    StoreError, TxOp, Value,
};

type Table = BTreeMap<(String, String), Item>;

#[derive(Clone)]
pub struct MemoryStore {
    items: Arc<Mutex<Table>>,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            items: Arc::new(Mutex::new(BTreeMap::new())),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn slot(key: &ItemKey) -> (String, String) {
    (key.pk.clone(), key.sk.clone())
}

/// The live item at `key`: one past its TTL counts as gone, as in the other adapters.
fn live<'a>(table: &'a Table, key: &ItemKey, now: i64) -> Option<&'a Item> {
    table.get(&slot(key)).filter(|item| !item.is_expired(now))
}

/// A page of a partition query: the live items, and the last sort key read when the page is
/// full (more may follow, even if some of these were past their TTL).
fn page_of(scanned: Vec<&Item>, limit: usize, now: i64) -> Page<Item> {
    let next = (scanned.len() == limit)
        .then(|| scanned.last().map(|i| PageToken(i.key.sk.clone())))
        .flatten();
    let items = scanned
        .into_iter()
        .filter(|i| !i.is_expired(now))
        .cloned()
        .collect();
    Page { items, next }
}

fn holds(table: &Table, op: &TxOp, now: i64) -> bool {
    let current = live(table, op.key(), now);
    match op {
        TxOp::Create(_) => current.is_none(),
        TxOp::Replace {
            expected_version, ..
        } => current.is_some_and(|i| i.version == *expected_version),
        TxOp::Delete {
            expected_version, ..
        } => expected_version.is_none_or(|v| current.is_some_and(|i| i.version == v)),
        TxOp::CheckVersion { version, .. } => current.is_some_and(|i| i.version == *version),
        TxOp::Adjust { at_least, .. } => current.is_some_and(|item| {
            at_least
                .iter()
                .all(|(name, min)| item.number(name).unwrap_or(0) >= *min)
        }),
    }
}

fn apply(table: &mut Table, op: TxOp, now: i64) -> Result<(), StoreError> {
    match op {
        TxOp::Create(mut item) => {
            item.version = 1;
            table.insert(slot(&item.key), item);
        }
        TxOp::Replace {
            mut item,
            expected_version,
        } => {
            item.version = expected_version + 1;
            table.insert(slot(&item.key), item);
        }
        TxOp::Delete { key, .. } => {
            table.remove(&slot(&key));
        }
        TxOp::CheckVersion { .. } => {}
        TxOp::Adjust { key, deltas, .. } => {
            let mut item = live(table, &key, now)
                .cloned()
                .ok_or(StoreError::ConditionFailed)?;
            for (name, delta) in deltas {
                let next = item
                    .number(&name)
                    .unwrap_or(0)
                    .checked_add(delta)
                    .ok_or(StoreError::ConditionFailed)?;
                item.set(&name, Value::N(next));
            }
            item.version += 1;
            table.insert(slot(&key), item);
        }
    }
    Ok(())
}

#[async_trait]
impl ItemReader for MemoryStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        key.check()?;
        Ok(live(&self.table(), key, self.now()).cloned())
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        for key in keys {
            key.check()?;
        }
        let (table, now) = (self.table(), self.now());
        Ok(keys.iter().map(|k| live(&table, k, now).cloned()).collect())
    }

    async fn query_partition(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        let start = match after {
            Some(PageToken(sk)) if sk.starts_with(sk_prefix) => {
                Bound::Excluded((pk.to_owned(), sk))
            }
            Some(_) => return Err(StoreError::BadPageToken),
            None => Bound::Included((pk.to_owned(), sk_prefix.to_owned())),
        };
        let limit = limit.max(1);
        let now = self.now();
        let table = self.table();
        let scanned: Vec<&Item> = table
            .range((start, Bound::Unbounded))
            .take_while(|((p, s), _)| p == pk && s.starts_with(sk_prefix))
            .take(limit)
            .map(|(_, item)| item)
            .collect();
        Ok(page_of(scanned, limit, now))
    }

    async fn query_partition_newest_first(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        let end = match after {
            Some(PageToken(sk)) if sk.starts_with(sk_prefix) => {
                Bound::Excluded((pk.to_owned(), sk))
            }
            Some(_) => return Err(StoreError::BadPageToken),
            None => Bound::Excluded((pk.to_owned(), format!("{sk_prefix}\u{10FFFF}"))),
        };
        let limit = limit.max(1);
        let now = self.now();
        let table = self.table();
        let start = Bound::Included((pk.to_owned(), sk_prefix.to_owned()));
        let scanned: Vec<&Item> = table
            .range((start, end))
            .rev()
            .filter(|((p, s), _)| p == pk && s.starts_with(sk_prefix))
            .take(limit)
            .map(|(_, item)| item)
            .collect();
        Ok(page_of(scanned, limit, now))
    }
}

#[async_trait]
impl ItemWriter for MemoryStore {
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
        let mut table = self.table();
        for key in keys {
            table.remove(&slot(&key));
        }
        Ok(())
    }
}

#[async_trait]
impl ItemTransactor for MemoryStore {
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        TxOp::check_all(&ops)?;
        let now = self.now();
        let mut table = self.table();
        let failed: Vec<usize> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| !holds(&table, op, now))
            .map(|(index, _)| index)
            .collect();
        if !failed.is_empty() {
            return Err(StoreError::TransactionCancelled { failed });
        }
        for op in ops {
            apply(&mut table, op, now)?;
        }
        Ok(())
    }
}

#[async_trait]
impl DeadlineIndex for MemoryStore {
    async fn due(
        &self,
        now_epoch: i64,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<DueItem>, StoreError> {
        let after: Option<(i64, String, String)> = after
            .map(|PageToken(t)| serde_json::from_str(&t).map_err(|_| StoreError::BadPageToken))
            .transpose()?;
        let limit = limit.max(1);
        // A real index would be a second ordered map; at in-memory sizes a sort is enough, and
        // this adapter exists for tests and measurements, not for production data.
        let mut due: Vec<(i64, String, String)> = self
            .table()
            .values()
            .filter_map(|i| {
                i.pii_deadline
                    .map(|d| (d, i.key.pk.clone(), i.key.sk.clone()))
            })
            .filter(|(d, _, _)| *d <= now_epoch)
            .filter(|entry| after.as_ref().is_none_or(|a| entry > a))
            .collect();
        due.sort();
        due.truncate(limit);
        let next = (due.len() == limit)
            .then(|| {
                due.last()
                    .map(|last| PageToken(serde_json::to_string(last).unwrap_or_default()))
            })
            .flatten();
        let items = due
            .into_iter()
            .map(|(pii_deadline, pk, sk)| DueItem {
                key: ItemKey::new(pk, sk),
                pii_deadline,
            })
            .collect();
        Ok(Page { items, next })
    }

    async fn partition_deadlines(
        &self,
        pk: &str,
        sk_prefix: &str,
        until_epoch: Option<i64>,
        limit: usize,
        after: Option<&DueItem>,
    ) -> Result<Vec<DueItem>, StoreError> {
        let after = after.map(|a| (a.pii_deadline, a.key.sk.clone()));
        // The partition's range under the prefix, then sorted by deadline (a real index would
        // be a second ordered map; at in-memory sizes a sort is enough).
        let table = self.table();
        let start = Bound::Included((pk.to_owned(), sk_prefix.to_owned()));
        let mut found: Vec<(i64, String)> = table
            .range((start, Bound::Unbounded))
            .take_while(|((p, s), _)| p == pk && s.starts_with(sk_prefix))
            .filter_map(|(_, i)| i.pii_deadline.map(|d| (d, i.key.sk.clone())))
            .filter(|(d, _)| until_epoch.is_none_or(|until| *d <= until))
            .filter(|entry| after.as_ref().is_none_or(|a| entry > a))
            .collect();
        found.sort();
        found.truncate(limit.max(1));
        Ok(found
            .into_iter()
            .map(|(pii_deadline, sk)| DueItem {
                key: ItemKey::new(pk, sk),
                pii_deadline,
            })
            .collect())
    }
}
