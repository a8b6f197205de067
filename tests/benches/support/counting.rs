//! A store that counts requests per kind (each maps to one DynamoDB request), then delegates to
//! the embedded store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use rc_store::sqlite::SqliteStore;
use rc_store::{
    DeadlineIndex, DueItem, Item, ItemKey, ItemReader, ItemTransactor, ItemWriter, Page, PageToken,
    StoreError, TxOp,
};

/// Counts requests per kind, then delegates.
pub struct Counting {
    pub inner: SqliteStore,
    pub counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counting {
    fn count(&self, kind: &'static str) {
        *self.counts.lock().expect("lock").entry(kind).or_default() += 1;
    }
}

#[async_trait]
impl ItemReader for Counting {
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        self.count("GetItem");
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        // One request per DynamoDB batch of 100 keys.
        for _ in keys.chunks(100) {
            self.count("BatchGetItem");
        }
        self.inner.get_many(keys).await
    }
    async fn query_partition(
        &self,
        pk: &str,
        prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        self.count("Query");
        self.inner.query_partition(pk, prefix, limit, after).await
    }
    async fn query_partition_newest_first(
        &self,
        pk: &str,
        prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        self.count("Query");
        self.inner
            .query_partition_newest_first(pk, prefix, limit, after)
            .await
    }
}

#[async_trait]
impl ItemWriter for Counting {
    async fn create(&self, item: Item) -> Result<(), StoreError> {
        self.count("PutItem");
        self.inner.create(item).await
    }
    async fn replace(&self, item: Item, expected: u64) -> Result<(), StoreError> {
        self.count("PutItem");
        self.inner.replace(item, expected).await
    }
    async fn delete(&self, key: &ItemKey, expected: Option<u64>) -> Result<(), StoreError> {
        self.count("DeleteItem");
        self.inner.delete(key, expected).await
    }
    async fn delete_many(&self, keys: Vec<ItemKey>) -> Result<(), StoreError> {
        self.count("BatchWriteItem");
        self.inner.delete_many(keys).await
    }
}

#[async_trait]
impl ItemTransactor for Counting {
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        self.count("TransactWriteItems");
        self.inner.transact(ops).await
    }
}

#[async_trait]
impl DeadlineIndex for Counting {
    async fn due(
        &self,
        now: i64,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<DueItem>, StoreError> {
        self.count("Query(index)");
        self.inner.due(now, limit, after).await
    }

    async fn partition_deadlines(
        &self,
        pk: &str,
        sk_prefix: &str,
        until_epoch: Option<i64>,
        limit: usize,
        after: Option<&DueItem>,
    ) -> Result<Vec<DueItem>, StoreError> {
        self.count("Query(index)");
        self.inner
            .partition_deadlines(pk, sk_prefix, until_epoch, limit, after)
            .await
    }
}
