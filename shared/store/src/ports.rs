//! The ports, split by capability so each function depends on (and each test double implements)
//! only what it uses.

use std::collections::HashSet;

use async_trait::async_trait;

use crate::limits::{MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS, item_size};
use crate::{Item, ItemKey, StoreError};

/// An opaque continuation token, issued by one adapter and meaningful only to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(pub String);

#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more may follow.
    pub next: Option<PageToken>,
}

/// An item listed by the deadline index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    pub key: ItemKey,
    pub pii_deadline: i64,
}

#[async_trait]
pub trait ItemReader: Send + Sync {
    /// A strongly consistent read. Items past their TTL read as `None`.
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError>;

    /// Strongly consistent reads of several items at once, answered in the order asked (`None`
    /// for an absent one): a page of index entries resolved in one round trip instead of one
    /// per entry. Adapters batch it (DynamoDB `BatchGetItem`, 100 keys a request; SQLite one
    /// locked call); this default reads one at a time.
    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            items.push(self.get(key).await?);
        }
        Ok(items)
    }

    /// Items of one partition whose sort key starts with `sk_prefix`, in sort key order, without
    /// those past their TTL (so a page may hold fewer than `limit`).
    async fn query_partition(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError>;

    /// [`Self::query_partition`] in reverse sort key order: the newest first where sort keys
    /// grow with time (an audit trail, a receipt chain). `after` continues from the last item
    /// of the previous page, towards older ones.
    async fn query_partition_newest_first(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError>;
}

/// Every item of a partition whose sort key starts with `sk_prefix`, reading page after page of
/// `page` items: for lists that can grow past one page (listings, warehouses, kit memberships).
pub async fn query_all<R: ItemReader + ?Sized>(
    reader: &R,
    pk: &str,
    sk_prefix: &str,
    page: usize,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let next = reader.query_partition(pk, sk_prefix, page, after).await?;
        items.extend(next.items);
        match next.next {
            Some(token) => after = Some(token),
            None => return Ok(items),
        }
    }
}

/// Creates `item`, or replaces what is stored under its key whatever its version (last writer
/// wins: settings and profiles a merchant sets whole), retrying a race with a concurrent create
/// or replace a few times; `TransactionConflict` (retryable) when it keeps losing.
pub async fn put_latest<S: ItemReader + ItemWriter + ?Sized>(
    store: &S,
    item: Item,
) -> Result<(), StoreError> {
    for _ in 0..3 {
        let outcome = match store.get(&item.key).await? {
            Some(stored) => store.replace(item.clone(), stored.version).await,
            None => store.create(item.clone()).await,
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(StoreError::AlreadyExists | StoreError::StaleVersion { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TransactionConflict)
}

#[async_trait]
pub trait ItemWriter: Send + Sync {
    /// Writes `item` only if no item has its key: the building block of idempotency.
    async fn create(&self, item: Item) -> Result<(), StoreError>;

    /// Overwrites `item` only if the stored version is still `expected_version`.
    async fn replace(&self, item: Item, expected_version: u64) -> Result<(), StoreError>;

    /// Deletes an item; with `expected_version`, only if it is still at that version. Deleting a
    /// missing item without a version condition succeeds (deletes are idempotent).
    async fn delete(&self, key: &ItemKey, expected_version: Option<u64>) -> Result<(), StoreError>;

    /// Deletes many items, in batches within DynamoDB's limit, retrying what the backend leaves
    /// unprocessed. Not atomic.
    async fn delete_many(&self, keys: Vec<ItemKey>) -> Result<(), StoreError>;
}

/// One operation of an atomic transaction.
#[derive(Debug, Clone)]
pub enum TxOp {
    Create(Item),
    Replace {
        item: Item,
        expected_version: u64,
    },
    Delete {
        key: ItemKey,
        expected_version: Option<u64>,
    },
    /// Fails the transaction unless the item exists at this version.
    CheckVersion {
        key: ItemKey,
        version: u64,
    },
    /// Adds signed deltas to numeric attributes of an existing item (a missing attribute counts as
    /// 0), provided that, before the change, each guarded attribute is at least its minimum.
    /// The item's version is bumped.
    Adjust {
        key: ItemKey,
        deltas: Vec<(String, i64)>,
        at_least: Vec<(String, i64)>,
    },
}

impl TxOp {
    pub fn key(&self) -> &ItemKey {
        match self {
            TxOp::Create(item) | TxOp::Replace { item, .. } => &item.key,
            TxOp::Delete { key, .. }
            | TxOp::CheckVersion { key, .. }
            | TxOp::Adjust { key, .. } => key,
        }
    }

    /// DynamoDB's rules for a transaction, checked before anything is sent.
    pub(crate) fn check_all(ops: &[TxOp]) -> Result<(), StoreError> {
        if ops.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooManyTransactionItems {
                max: MAX_TRANSACTION_ITEMS,
                got: ops.len(),
            });
        }
        let mut seen = HashSet::with_capacity(ops.len());
        let mut total = 0;
        for op in ops {
            op.key().check()?;
            if !seen.insert(op.key()) {
                return Err(StoreError::DuplicateItemInTransaction);
            }
            match op {
                TxOp::Create(item) | TxOp::Replace { item, .. } => {
                    item.check_writable()?;
                    total += item_size(item);
                }
                TxOp::Adjust {
                    deltas, at_least, ..
                } => {
                    let names = deltas.iter().chain(at_least).map(|(n, _)| n);
                    for name in names {
                        if crate::item::RESERVED.contains(&name.as_str()) {
                            return Err(StoreError::ReservedAttribute(name.clone()));
                        }
                    }
                }
                TxOp::Delete { .. } | TxOp::CheckVersion { .. } => {}
            }
        }
        if total > MAX_TRANSACTION_BYTES {
            return Err(StoreError::TransactionTooLarge {
                size: total,
                max: MAX_TRANSACTION_BYTES,
            });
        }
        Ok(())
    }
}

#[async_trait]
pub trait ItemTransactor: Send + Sync {
    /// Applies every operation or none. At most 100 operations (never split: that would break
    /// atomicity), each on a different item.
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait DeadlineIndex: Send + Sync {
    /// Items whose PII deadline is at or before `now_epoch`, through an index on the deadline
    /// (never a scan), including items past their TTL: those still hold data to destroy.
    async fn due(
        &self,
        now_epoch: i64,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<DueItem>, StoreError>;

    /// The items of one partition whose sort key starts with `sk_prefix` and that carry a PII
    /// deadline (at or before `until_epoch` when given), earliest deadline first, then by sort
    /// key; through a second index on (partition, deadline), never a scan. Starts after `after`
    /// (the last item of the previous page); items past their TTL are included, like [`Self::due`].
    async fn partition_deadlines(
        &self,
        pk: &str,
        sk_prefix: &str,
        until_epoch: Option<i64>,
        limit: usize,
        after: Option<&DueItem>,
    ) -> Result<Vec<DueItem>, StoreError>;
}

/// Everything at once, for wiring code that hands one store to several services.
pub trait Store: ItemReader + ItemWriter + ItemTransactor + DeadlineIndex {}
impl<T: ItemReader + ItemWriter + ItemTransactor + DeadlineIndex> Store for T {}

/// Single-item writes for adapters whose transactions are cheap (SQLite, memory): each is a
/// one-operation transaction, its cancellation mapped to the error the write promises.
pub(crate) mod single {
    use super::{ItemTransactor, TxOp};
    use crate::{Item, ItemKey, StoreError};

    async fn one<T: ItemTransactor + ?Sized>(
        store: &T,
        op: TxOp,
        refused: StoreError,
    ) -> Result<(), StoreError> {
        match store.transact(vec![op]).await {
            Err(StoreError::TransactionCancelled { .. }) => Err(refused),
            other => other,
        }
    }

    pub async fn create<T: ItemTransactor + ?Sized>(
        store: &T,
        item: Item,
    ) -> Result<(), StoreError> {
        one(store, TxOp::Create(item), StoreError::AlreadyExists).await
    }

    pub async fn replace<T: ItemTransactor + ?Sized>(
        store: &T,
        item: Item,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let op = TxOp::Replace {
            item,
            expected_version,
        };
        one(
            store,
            op,
            StoreError::StaleVersion {
                expected: expected_version,
            },
        )
        .await
    }

    pub async fn delete<T: ItemTransactor + ?Sized>(
        store: &T,
        key: &ItemKey,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let op = TxOp::Delete {
            key: key.clone(),
            expected_version,
        };
        one(store, op, StoreError::ConditionFailed).await
    }
}
