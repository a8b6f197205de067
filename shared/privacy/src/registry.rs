//! The registry of PII copies. The sealed PII item is an order's primary copy; anything else that
//! ever holds an order's PII (a courier label, an export file, a cache) is a *copy*, and must be
//! registered here before it is written: the feature records a pointer (kind + location) in the
//! order's merchant partition, and registers an eraser for its kind at wiring time. The purger
//! erases every pointed-to copy of an order, and account cancellation every copy of a merchant.
//!
//! Writing the pointer *before* the copy means a crash can leave a pointer to nothing (erasing
//! nothing is fine), never a copy nobody knows about.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::digest::{SHA256, digest};
use rc_domain::{Clock, MerchantId, OrderId};
use rc_orders::keys;
use rc_store::{Item, ItemKey, Store, StoreError, Value};

use crate::PrivacyError;
use crate::receipts::Removal;

/// Erases one kind of copy. Must be idempotent: erasing an already erased copy succeeds.
#[async_trait]
pub trait CopyEraser: Send + Sync {
    /// The kind this eraser handles (`"label"`, `"export"`, ...).
    fn kind(&self) -> &'static str;
    /// Where copies of this kind live, for receipts (`"s3"`, `"dynamodb"`).
    fn store(&self) -> &'static str;
    /// Erases the copy at `location` (every version of it, where the store keeps versions).
    async fn erase(&self, merchant: &MerchantId, location: &str) -> Result<(), String>;
    /// Erases everything of this kind the merchant has, PII or not (account cancellation: an
    /// export without buyer data is still the merchant's data). Returns how many. Idempotent.
    async fn erase_account(&self, _merchant: &MerchantId) -> Result<u64, String> {
        Ok(0)
    }
}

pub struct PiiCopies {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    erasers: BTreeMap<&'static str, Arc<dyn CopyEraser>>,
}

/// Copy pointers of one order sort together under this prefix.
const POINTER: &str = "PIICOPY#";

fn pointer_key(merchant: &MerchantId, order: &OrderId, kind: &str, location: &str) -> ItemKey {
    // The location may be long or hold any character: the key uses a digest of it.
    let tag = rc_domain::to_hex(&digest(&SHA256, location.as_bytes()).as_ref()[..12]);
    ItemKey::new(
        keys::merchant_partition(merchant),
        format!("{POINTER}{order}#{kind}#{tag}"),
    )
}

impl PiiCopies {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            data,
            clock,
            erasers: BTreeMap::new(),
        }
    }

    /// Registers the eraser of one kind of copy.
    pub fn with_eraser(mut self, eraser: Arc<dyn CopyEraser>) -> Self {
        self.erasers.insert(eraser.kind(), eraser);
        self
    }

    /// Erases every copy of every kind the merchant has (account cancellation). Returns how
    /// many were erased.
    pub async fn erase_account(&self, merchant: &MerchantId) -> Result<u64, PrivacyError> {
        let mut erased = 0;
        for (kind, eraser) in &self.erasers {
            erased +=
                eraser
                    .erase_account(merchant)
                    .await
                    .map_err(|problem| PrivacyError::Erase {
                        kind: (*kind).to_owned(),
                        problem,
                    })?;
        }
        Ok(erased)
    }

    /// The registered kinds.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.erasers.keys().copied().collect()
    }

    /// Records that a copy of `order`'s PII is about to be written at `location`. Call it before
    /// writing the copy. Refuses kinds without an eraser. Idempotent.
    pub async fn record(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        kind: &str,
        location: &str,
    ) -> Result<(), PrivacyError> {
        if !self.erasers.contains_key(kind) {
            return Err(PrivacyError::UnknownCopyKind(kind.to_owned()));
        }
        let item = Item::new(pointer_key(merchant, order, kind, location))
            .with("kind", Value::S(kind.to_owned()))
            .with("location", Value::S(location.to_owned()))
            .with("order", Value::S(order.to_string()))
            .with("recorded_at", Value::N(self.clock.now().unix_timestamp()));
        match self.data.create(item).await {
            Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Erases every registered copy of one order, then its pointer. Returns what was erased,
    /// per kind. A copy whose kind has no eraser fails the whole call (the order stays due).
    pub async fn erase_order(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Vec<Removal>, PrivacyError> {
        let partition = keys::merchant_partition(merchant);
        let prefix = format!("{POINTER}{order}#");
        let mut erased: BTreeMap<String, Removal> = BTreeMap::new();
        loop {
            let page = self
                .data
                .query_partition(&partition, &prefix, 100, None)
                .await?;
            if page.items.is_empty() {
                return Ok(erased.into_values().collect());
            }
            for pointer in page.items {
                let removal = self.erase_pointer(merchant, &pointer).await?;
                erased
                    .entry(removal.what.clone())
                    .and_modify(|r| r.count += 1)
                    .or_insert(removal);
            }
        }
    }

    /// Erases one copy and its pointer (a label voided before the order's PII is due).
    /// Idempotent: a copy already erased, or never written, is fine.
    pub async fn erase_copy(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        kind: &str,
        location: &str,
    ) -> Result<(), PrivacyError> {
        match self
            .data
            .get(&pointer_key(merchant, order, kind, location))
            .await?
        {
            Some(pointer) => {
                self.erase_pointer(merchant, &pointer).await?;
            }
            None => {
                self.erase_at(merchant, kind, location).await?;
            }
        }
        Ok(())
    }

    /// Erases the copy of `kind` at `location` with its eraser; the store it was in.
    async fn erase_at(
        &self,
        merchant: &MerchantId,
        kind: &str,
        location: &str,
    ) -> Result<&'static str, PrivacyError> {
        let eraser = self
            .erasers
            .get(kind)
            .ok_or_else(|| PrivacyError::UnknownCopyKind(kind.to_owned()))?;
        eraser
            .erase(merchant, location)
            .await
            .map_err(|problem| PrivacyError::Erase {
                kind: kind.to_owned(),
                problem,
            })?;
        Ok(eraser.store())
    }

    /// Whether an item of a merchant partition is a copy pointer.
    pub fn is_pointer(item: &Item) -> bool {
        item.key.sk.starts_with(POINTER)
    }

    /// Erases the copy a pointer points to, then deletes the pointer.
    pub async fn erase_pointer(
        &self,
        merchant: &MerchantId,
        pointer: &Item,
    ) -> Result<Removal, PrivacyError> {
        let kind = pointer
            .string("kind")
            .ok_or(PrivacyError::Corrupt("copy pointer kind"))?;
        let location = pointer
            .string("location")
            .ok_or(PrivacyError::Corrupt("copy pointer location"))?;
        let store = self.erase_at(merchant, kind, location).await?;
        self.data.delete(&pointer.key, None).await?;
        Ok(Removal {
            store: store.to_owned(),
            what: format!("{kind} copies"),
            count: 1,
        })
    }
}
