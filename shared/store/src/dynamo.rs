//! The DynamoDB adapter.
//!
//! Layout: `pk`/`sk` are the table keys, `v` the version, `ttl` the TTL attribute, and items with a
//! PII deadline carry `due_shard`/`due_at`, the keys of the sparse `by_pii_deadline` index. The
//! deadline index is spread over [`DUE_SHARDS`] partitions so a day of shipments does not land on
//! one hot partition; the purger queries each shard with `due_at <= now`, so its cost follows the
//! number of due items, never the size of the table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put,
    TransactWriteItem, Update, WriteRequest,
};
use rc_domain::Clock;
use serde::{Deserialize, Serialize};

use crate::limits::MAX_BATCH_WRITE;
use crate::{
    DeadlineIndex, DueItem, Item, ItemKey, ItemReader, ItemTransactor, ItemWriter, Page, PageToken,
    StoreError, TxOp, Value,
};

/// Name of the sparse global secondary index on the PII deadline.
pub const DEADLINE_INDEX: &str = "by_pii_deadline";
/// Name of the sparse global secondary index on (partition, PII deadline): a merchant's orders
/// by the time left before their buyer data is deleted.
pub const PARTITION_DEADLINE_INDEX: &str = "by_partition_deadline";
/// Partitions of the deadline index.
pub const DUE_SHARDS: u8 = 8;
/// Keys in one `BatchGetItem` request (DynamoDB's limit).
const MAX_BATCH_GET: usize = 100;
/// Attempts at items DynamoDB leaves unprocessed in a batch before giving up.
const BATCH_ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl DynamoStore {
    pub fn new(client: Client, table: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

/// An entry of either deadline index, which projects keys only: the table's keys and the
/// index's, the deadline among them.
fn due_item(entry: &HashMap<String, AttributeValue>) -> Result<DueItem, StoreError> {
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or(StoreError::Corrupt("index entry key"))
    };
    let pii_deadline = entry
        .get("due_at")
        .map(number_of)
        .transpose()?
        .ok_or(StoreError::Corrupt("index entry without a deadline"))?;
    Ok(DueItem {
        key: ItemKey::new(text("pk")?, text("sk")?),
        pii_deadline,
    })
}

/// Before a batch's `attempt`-th try at what DynamoDB left unprocessed: an exponential pause,
/// as AWS advises, and no more than [`BATCH_ATTEMPTS`] tries.
async fn back_off(attempt: u32) -> Result<(), StoreError> {
    if attempt == BATCH_ATTEMPTS {
        return Err(StoreError::Throttled);
    }
    if attempt > 0 {
        tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
    }
    Ok(())
}

/// Maps SDK failures to store errors carrying only the error code: service messages can echo
/// request values.
pub(crate) fn sdk_error<
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
>(
    e: SdkError<E, R>,
) -> StoreError {
    match &e {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled,
            Some("TransactionConflictException") => StoreError::TransactionConflict,
            code => StoreError::Backend(format!("dynamodb: {}", code.unwrap_or("unknown error"))),
        },
        _ => StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&e))),
    }
}

fn shard_of(key: &ItemKey) -> u8 {
    // FNV-1a: stable across processes and releases, unlike std's randomized hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.pk.bytes().chain([0]).chain(key.sk.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % u32::from(DUE_SHARDS)) as u8
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key_map(key: &ItemKey) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

fn to_attributes(item: &Item, version: u64) -> HashMap<String, AttributeValue> {
    let mut map = key_map(&item.key);
    map.insert("v".into(), n(version as i64));
    if let Some(ttl) = item.expires_at {
        map.insert("ttl".into(), n(ttl));
    }
    if let Some(due) = item.pii_deadline {
        map.insert("due_shard".into(), s(&shard_of(&item.key).to_string()));
        map.insert("due_at".into(), n(due));
    }
    for (name, value) in &item.attrs {
        let av = match value {
            Value::S(text) => s(text),
            Value::N(number) => n(*number),
            Value::B(bytes) => AttributeValue::B(Blob::new(bytes.clone())),
            Value::Bool(flag) => AttributeValue::Bool(*flag),
        };
        map.insert(name.clone(), av);
    }
    map
}

fn number_of(av: &AttributeValue) -> Result<i64, StoreError> {
    av.as_n()
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(StoreError::Corrupt("number attribute"))
}

fn from_attributes(mut map: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let mut take_string = |name: &str| match map.remove(name) {
        Some(AttributeValue::S(text)) => Ok(text),
        _ => Err(StoreError::Corrupt("key attribute")),
    };
    let key = ItemKey::new(take_string("pk")?, take_string("sk")?);
    let version = map
        .remove("v")
        .map(|v| number_of(&v))
        .transpose()?
        .ok_or(StoreError::Corrupt("version attribute"))?;
    let expires_at = map.remove("ttl").map(|v| number_of(&v)).transpose()?;
    let pii_deadline = map.remove("due_at").map(|v| number_of(&v)).transpose()?;
    map.remove("due_shard");
    let mut item = Item::new(key);
    item.version = u64::try_from(version).map_err(|_| StoreError::Corrupt("version attribute"))?;
    item.expires_at = expires_at;
    item.pii_deadline = pii_deadline;
    for (name, av) in map {
        let value = match av {
            AttributeValue::S(text) => Value::S(text),
            AttributeValue::N(_) => Value::N(number_of(&av)?),
            AttributeValue::B(blob) => Value::B(blob.into_inner()),
            AttributeValue::Bool(flag) => Value::Bool(flag),
            _ => return Err(StoreError::Corrupt("attribute of an unsupported type")),
        };
        item.attrs.insert(name, value);
    }
    Ok(item)
}

/// A condition expression with its placeholders, built up clause by clause.
#[derive(Default)]
struct Condition {
    clauses: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    fn absent_or_expired(now: i64) -> Self {
        let mut c = Self::default();
        c.clauses
            .push("(attribute_not_exists(pk) OR #ttl <= :now)".into());
        c.names.insert("#ttl".into(), "ttl".into());
        c.values.insert(":now".into(), n(now));
        c
    }

    /// The item exists and has not passed its TTL.
    fn live(now: i64) -> Self {
        let mut c = Self::default();
        c.clauses
            .push("attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)".into());
        c.names.insert("#ttl".into(), "ttl".into());
        c.values.insert(":now".into(), n(now));
        c
    }

    fn at_version(now: i64, version: u64) -> Self {
        let mut c = Self::live(now);
        c.clauses.push("#v = :expected".into());
        c.names.insert("#v".into(), "v".into());
        c.values.insert(":expected".into(), n(version as i64));
        c
    }

    fn expression(&self) -> String {
        self.clauses.join(" AND ")
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn transact_item(table: &str, op: TxOp, now: i64) -> Result<TransactWriteItem, StoreError> {
    let built = match op {
        TxOp::Create(item) => {
            let c = Condition::absent_or_expired(now);
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(to_attributes(&item, 1)))
                .condition_expression(c.expression())
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values())
                .build();
            TransactWriteItem::builder().put(put.map_err(build_error)?)
        }
        TxOp::Replace {
            item,
            expected_version,
        } => {
            let c = Condition::at_version(now, expected_version);
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(to_attributes(&item, expected_version + 1)))
                .condition_expression(c.expression())
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values())
                .build();
            TransactWriteItem::builder().put(put.map_err(build_error)?)
        }
        TxOp::Delete {
            key,
            expected_version,
        } => {
            let c = expected_version.map(|v| Condition::at_version(now, v));
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key_map(&key)))
                .set_condition_expression(c.as_ref().map(Condition::expression))
                .set_expression_attribute_names(c.as_ref().and_then(Condition::names))
                .set_expression_attribute_values(c.as_ref().and_then(Condition::values))
                .build();
            TransactWriteItem::builder().delete(delete.map_err(build_error)?)
        }
        TxOp::CheckVersion { key, version } => {
            let c = Condition::at_version(now, version);
            let check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_map(&key)))
                .condition_expression(c.expression())
                .set_expression_attribute_names(c.names())
                .set_expression_attribute_values(c.values())
                .build();
            TransactWriteItem::builder().condition_check(check.map_err(build_error)?)
        }
        TxOp::Adjust {
            key,
            deltas,
            at_least,
        } => {
            let mut c = Condition::live(now);
            for (i, (name, min)) in at_least.iter().enumerate() {
                // A missing attribute counts as 0, as in the embedded adapter.
                let clause = if *min <= 0 {
                    format!("(attribute_not_exists(#g{i}) OR #g{i} >= :g{i})")
                } else {
                    format!("#g{i} >= :g{i}")
                };
                c.clauses.push(clause);
                c.names.insert(format!("#g{i}"), name.clone());
                c.values.insert(format!(":g{i}"), n(*min));
            }
            let mut adds = vec!["#v :one".to_owned()];
            let mut names = c.names.clone();
            let mut values = c.values.clone();
            names.insert("#v".into(), "v".into());
            values.insert(":one".into(), n(1));
            for (i, (name, delta)) in deltas.iter().enumerate() {
                adds.push(format!("#d{i} :d{i}"));
                names.insert(format!("#d{i}"), name.clone());
                values.insert(format!(":d{i}"), n(*delta));
            }
            let update = Update::builder()
                .table_name(table)
                .set_key(Some(key_map(&key)))
                .update_expression(format!("ADD {}", adds.join(", ")))
                .condition_expression(c.expression())
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build();
            TransactWriteItem::builder().update(update.map_err(build_error)?)
        }
    };
    Ok(built.build())
}

pub(crate) fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("dynamodb request: {e}"))
}

#[async_trait]
impl ItemReader for DynamoStore {
    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        key.check()?;
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let now = self.now();
        match out.item {
            None => Ok(None),
            Some(map) => Ok(Some(from_attributes(map)?).filter(|item| !item.is_expired(now))),
        }
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        for key in keys {
            key.check()?;
        }
        // BatchGetItem refuses a key twice in one request: ask each once, answer each asked.
        let mut unique: Vec<&ItemKey> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found: HashMap<ItemKey, Item> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(MAX_BATCH_GET) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|k| key_map(k)).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                back_off(attempt).await?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.to_string(), request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for map in out
                    .responses
                    .and_then(|mut r| r.remove(&*self.table))
                    .unwrap_or_default()
                {
                    let item = from_attributes(map)?;
                    found.insert(item.key.clone(), item);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&*self.table))
                    .filter(|left| !left.keys().is_empty());
                attempt += 1;
            }
        }
        let now = self.now();
        Ok(keys
            .iter()
            .map(|key| found.get(key).filter(|i| !i.is_expired(now)).cloned())
            .collect())
    }

    async fn query_partition(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        self.query_ordered(true, pk, sk_prefix, limit, after).await
    }

    async fn query_partition_newest_first(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        self.query_ordered(false, pk, sk_prefix, limit, after).await
    }
}

impl DynamoStore {
    /// One page of a partition's items under a sort key prefix, in either direction.
    async fn query_ordered(
        &self,
        forward: bool,
        pk: &str,
        sk_prefix: &str,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<Item>, StoreError> {
        let start = match after {
            Some(PageToken(sk)) if sk.starts_with(sk_prefix) => {
                Some(key_map(&ItemKey::new(pk, sk)))
            }
            Some(_) => return Err(StoreError::BadPageToken),
            None => None,
        };
        let limit = limit.max(1);
        // DynamoDB refuses begins_with on an empty prefix.
        let (condition, prefix) = if sk_prefix.is_empty() {
            ("pk = :pk", None)
        } else {
            ("pk = :pk AND begins_with(sk, :prefix)", Some(s(sk_prefix)))
        };
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        if let Some(prefix) = prefix {
            values.insert(":prefix".to_owned(), prefix);
        }
        let out = self
            .client
            .query()
            .table_name(&*self.table)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .scan_index_forward(forward)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|sk| sk.as_s().ok())
            .map(|sk| PageToken(sk.clone()));
        let now = self.now();
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attributes)
            .filter(|item| item.as_ref().map_or(true, |i| !i.is_expired(now)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next })
    }
}

#[async_trait]
impl ItemWriter for DynamoStore {
    async fn create(&self, item: Item) -> Result<(), StoreError> {
        item.check_writable()?;
        let c = Condition::absent_or_expired(self.now());
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(to_attributes(&item, 1)))
            .condition_expression(c.expression())
            .set_expression_attribute_names(c.names())
            .set_expression_attribute_values(c.values())
            .send()
            .await
            .map_err(|e| match sdk_error(e) {
                StoreError::ConditionFailed => StoreError::AlreadyExists,
                other => other,
            })?;
        Ok(())
    }

    async fn replace(&self, item: Item, expected_version: u64) -> Result<(), StoreError> {
        item.check_writable()?;
        let c = Condition::at_version(self.now(), expected_version);
        self.client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(to_attributes(&item, expected_version + 1)))
            .condition_expression(c.expression())
            .set_expression_attribute_names(c.names())
            .set_expression_attribute_values(c.values())
            .send()
            .await
            .map_err(|e| match sdk_error(e) {
                StoreError::ConditionFailed => StoreError::StaleVersion {
                    expected: expected_version,
                },
                other => other,
            })?;
        Ok(())
    }

    async fn delete(&self, key: &ItemKey, expected_version: Option<u64>) -> Result<(), StoreError> {
        key.check()?;
        let c = expected_version.map(|v| Condition::at_version(self.now(), v));
        self.client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(c.as_ref().map(Condition::expression))
            .set_expression_attribute_names(c.as_ref().and_then(Condition::names))
            .set_expression_attribute_values(c.as_ref().and_then(Condition::values))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn delete_many(&self, keys: Vec<ItemKey>) -> Result<(), StoreError> {
        for key in &keys {
            key.check()?;
        }
        for chunk in keys.chunks(MAX_BATCH_WRITE) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key_map(key)))
                        .build()
                        .map_err(build_error)?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, StoreError>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                back_off(attempt).await?;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(self.table.to_string(), pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&*self.table))
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ItemTransactor for DynamoStore {
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        TxOp::check_all(&ops)?;
        let now = self.now();
        let items = ops
            .into_iter()
            .map(|op| transact_item(&self.table, op, now))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service))
                if service.err().is_transaction_canceled_exception() =>
            {
                let reasons = match service.err() {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => e.cancellation_reasons().to_vec(),
                    _ => Vec::new(),
                };
                let codes: Vec<Option<&str>> = reasons.iter().map(|r| r.code()).collect();
                if codes.contains(&Some("TransactionConflict")) {
                    return Err(StoreError::TransactionConflict);
                }
                let failed: Vec<usize> = codes
                    .iter()
                    .enumerate()
                    .filter(|(_, code)| **code == Some("ConditionalCheckFailed"))
                    .map(|(index, _)| index)
                    .collect();
                if failed.is_empty()
                    && codes
                        .iter()
                        .any(|c| c.is_some_and(|c| c.contains("Throttl")))
                {
                    return Err(StoreError::Throttled);
                }
                Err(StoreError::TransactionCancelled { failed })
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}

/// The continuation of a sharded deadline query.
#[derive(Serialize, Deserialize)]
struct DueCursor {
    shard: u8,
    after: Option<(String, String, i64)>,
}

#[async_trait]
impl DeadlineIndex for DynamoStore {
    async fn due(
        &self,
        now_epoch: i64,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<DueItem>, StoreError> {
        let mut cursor = match after {
            None => DueCursor {
                shard: 0,
                after: None,
            },
            Some(PageToken(token)) => {
                serde_json::from_str(&token).map_err(|_| StoreError::BadPageToken)?
            }
        };
        if cursor.shard >= DUE_SHARDS {
            return Err(StoreError::BadPageToken);
        }
        let limit = limit.max(1);
        let mut items = Vec::with_capacity(limit);
        while items.len() < limit {
            let start = cursor.after.as_ref().map(|(pk, sk, due)| {
                let mut key = key_map(&ItemKey::new(pk.clone(), sk.clone()));
                key.insert("due_shard".into(), s(&cursor.shard.to_string()));
                key.insert("due_at".into(), n(*due));
                key
            });
            let out = self
                .client
                .query()
                .table_name(&*self.table)
                .index_name(DEADLINE_INDEX)
                .key_condition_expression("due_shard = :shard AND due_at <= :now")
                .expression_attribute_values(":shard", s(&cursor.shard.to_string()))
                .expression_attribute_values(":now", n(now_epoch))
                .set_exclusive_start_key(start)
                .limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(sdk_error)?;
            for entry in out.items.unwrap_or_default() {
                items.push(due_item(&entry)?);
            }
            match out.last_evaluated_key {
                Some(last) => {
                    // The continuation key is an index entry's keys too.
                    let last = due_item(&last)?;
                    cursor.after = Some((last.key.pk, last.key.sk, last.pii_deadline));
                }
                None if cursor.shard + 1 < DUE_SHARDS => {
                    cursor = DueCursor {
                        shard: cursor.shard + 1,
                        after: None,
                    };
                }
                None => return Ok(Page { items, next: None }),
            }
        }
        let token = serde_json::to_string(&cursor).map_err(|_| StoreError::BadPageToken)?;
        Ok(Page {
            items,
            next: Some(PageToken(token)),
        })
    }

    async fn partition_deadlines(
        &self,
        pk: &str,
        sk_prefix: &str,
        until_epoch: Option<i64>,
        limit: usize,
        after: Option<&DueItem>,
    ) -> Result<Vec<DueItem>, StoreError> {
        let limit = limit.max(1);
        let mut start = after.map(|a| {
            let mut key = key_map(&a.key);
            key.insert("due_at".into(), n(a.pii_deadline));
            key
        });
        let condition = match until_epoch {
            Some(_) => "pk = :pk AND due_at <= :until",
            None => "pk = :pk",
        };
        let mut values = HashMap::from([
            (":pk".to_owned(), s(pk)),
            (":prefix".to_owned(), s(sk_prefix)),
        ]);
        if let Some(until) = until_epoch {
            values.insert(":until".to_owned(), n(until));
        }
        let mut items = Vec::with_capacity(limit);
        // The filter runs after `Limit`, so a page may come back short: ask again from where it
        // stopped until the page is full or the partition's index is read to its end.
        while items.len() < limit {
            let out = self
                .client
                .query()
                .table_name(&*self.table)
                .index_name(PARTITION_DEADLINE_INDEX)
                .key_condition_expression(condition)
                .filter_expression("begins_with(sk, :prefix)")
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(sdk_error)?;
            for entry in out.items.unwrap_or_default() {
                items.push(due_item(&entry)?);
            }
            match out.last_evaluated_key {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        Ok(items)
    }
}

#[cfg(feature = "test-util")]
pub use crate::dynamo_tables::{TableShape, create_table};
