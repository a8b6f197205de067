//! Account cancellation. The merchant's key is destroyed first, so all of its PII is unreadable
//! at once, everywhere (table backups included: the key table has none). Then, in bounded steps
//! that any later run resumes, its connections are removed, every registered copy is erased, its
//! partition is emptied (orders are moved out as anonymized records: no PII, no channel
//! reference), its data keys are deleted, its API keys are closed, and a final receipt closes its
//! receipt chain. Requesting it again returns the same receipt.

use std::sync::Arc;

use rc_domain::{Clock, MerchantId, PiiRule};
use rc_inventory::StockRepository;
use rc_orders::{ApiKeyRepository, ConnectionRepository, keys};
use rc_store::{Item, ItemKey, Store, StoreError, TxOp, Value};
use rc_vault::Vault;
use serde::Serialize;

use crate::receipts::{Receipt, ReceiptDraft, ReceiptScope, Removal};
use crate::{PiiCopies, PrivacyError, ReceiptLedger};

/// Cancellations not yet finished, across merchants.
const PENDING: &str = "CANCELLATIONS#pending";
/// Partition items handled per transaction: each is at most two operations (an order: its
/// anonymized copy and its delete; an item owning one outside the partition: both deletes), and
/// the counters one more, within DynamoDB's 100.
const WALK_PAGE: usize = 49;
/// Attributes of an order that survive as its anonymized record.
const ANONYMIZED: [&str; 10] = [
    "channel",
    "channel_tax",
    "status",
    "placed_at",
    "shipped_at",
    "cancelled_at",
    "currency",
    "lines",
    "totals",
    "ship_to",
];
/// The counters kept on the cancellation's state item, for its receipt.
const COUNTERS: [&str; 7] = [
    "orders_anonymized",
    "pii_items",
    "copies",
    "connections",
    "other_items",
    "data_keys",
    "inventory_records",
];

/// Attributes of a merchant-partition item naming an item outside the partition that it owns
/// (the cancellation deletes that one with it).
pub const OWNS_PK: &str = "owns_pk";
pub const OWNS_SK: &str = "owns_sk";

fn state_key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(format!("CANCELLATION#{merchant}"), "STATE")
}

fn pending_key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(PENDING, merchant.as_str())
}

/// Where a cancelled merchant's anonymized orders are kept.
pub fn anonymized_partition(merchant: &MerchantId) -> String {
    format!("ANON#{merchant}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CancellationProgress {
    pub orders_anonymized: u64,
    pub pii_items: u64,
    pub copies: u64,
    pub connections: u64,
    pub other_items: u64,
    pub data_keys: u64,
    pub inventory_records: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CancellationStatus {
    /// Keys destroyed (PII unreadable); removal continues (the hourly purger resumes it).
    InProgress {
        progress: CancellationProgress,
    },
    Cancelled {
        receipt: Receipt,
    },
}

/// What a merchant's account holds besides orders and keys, each removed by its own repository.
pub struct AccountRecords {
    pub connections: Arc<ConnectionRepository>,
    pub api_keys: Arc<ApiKeyRepository>,
    /// The merchant's inventory (its layout is the inventory crate's business).
    pub stock: Arc<StockRepository>,
}

pub struct AccountCancellation {
    data: Arc<dyn Store>,
    vault: Arc<Vault>,
    copies: Arc<PiiCopies>,
    ledger: Arc<ReceiptLedger>,
    connections: Arc<ConnectionRepository>,
    api_keys: Arc<ApiKeyRepository>,
    stock: Arc<StockRepository>,
    clock: Arc<dyn Clock>,
}

fn progress_of(state: &Item) -> CancellationProgress {
    let n = |name| state.number(name).unwrap_or(0).max(0) as u64;
    CancellationProgress {
        orders_anonymized: n("orders_anonymized"),
        pii_items: n("pii_items"),
        copies: n("copies"),
        connections: n("connections"),
        other_items: n("other_items"),
        data_keys: n("data_keys"),
        inventory_records: n("inventory_records"),
    }
}

impl AccountCancellation {
    pub fn new(
        data: Arc<dyn Store>,
        vault: Arc<Vault>,
        copies: Arc<PiiCopies>,
        ledger: Arc<ReceiptLedger>,
        records: AccountRecords,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let AccountRecords {
            connections,
            api_keys,
            stock,
        } = records;
        Self {
            stock,
            data,
            vault,
            copies,
            ledger,
            connections,
            api_keys,
            clock,
        }
    }

    /// Records the cancellation (once; a second request changes nothing) and destroys the
    /// merchant's key at once. Then advances the removal by up to `budget` items.
    pub async fn cancel(
        &self,
        merchant: &MerchantId,
        rule: PiiRule,
        budget: usize,
    ) -> Result<CancellationStatus, PrivacyError> {
        let mut state = Item::new(state_key(merchant))
            .with("status", Value::S("cancelling".into()))
            .with("rule", Value::S(rule.as_str().into()))
            .with("requested_at", Value::N(self.clock.now().unix_timestamp()));
        for counter in COUNTERS {
            state.set(counter, Value::N(0));
        }
        let pending = Item::new(pending_key(merchant));
        match self
            .data
            .transact(vec![TxOp::Create(state), TxOp::Create(pending)])
            .await
        {
            Ok(()) | Err(StoreError::TransactionCancelled { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.advance(merchant, budget).await
    }

    /// Closed merchants (by the key table, which is never backed up) whose data came back: a data
    /// table restored from a backup taken before their cancellation holds their orders,
    /// connections and keys again, but no cancellation state. Each such merchant's cancellation is
    /// recorded again and advanced by up to `budget`; the rest goes on as any pending
    /// cancellation. Returns the merchants found.
    pub async fn reclose_restored(&self, budget: usize) -> Result<Vec<MerchantId>, PrivacyError> {
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self.vault.closed_merchants(100, after).await?;
            for merchant in page.items {
                if self.data.get(&state_key(&merchant)).await?.is_some() {
                    continue;
                }
                tracing::warn!(%merchant, "closed merchant's data restored: removing it again");
                self.cancel(&merchant, PiiRule::AccountCancellation, budget)
                    .await?;
                found.push(merchant);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// Merchants whose cancellation is not finished, oldest first.
    pub async fn pending(&self, limit: usize) -> Result<Vec<MerchantId>, PrivacyError> {
        let page = self.data.query_partition(PENDING, "", limit, None).await?;
        Ok(page
            .items
            .iter()
            .filter_map(|item| MerchantId::parse(&item.key.sk).ok())
            .collect())
    }

    /// Where a merchant's cancellation stands, if one was requested.
    pub async fn status(
        &self,
        merchant: &MerchantId,
    ) -> Result<Option<CancellationStatus>, PrivacyError> {
        let Some(state) = self.data.get(&state_key(merchant)).await? else {
            return Ok(None);
        };
        if state.string("status") == Some("cancelled") {
            let receipt = self
                .ledger
                .last(merchant)
                .await?
                .ok_or(PrivacyError::Corrupt("cancelled without a receipt"))?;
            return Ok(Some(CancellationStatus::Cancelled { receipt }));
        }
        Ok(Some(CancellationStatus::InProgress {
            progress: progress_of(&state),
        }))
    }

    /// Continues a requested cancellation by up to `budget` partition items and data keys.
    /// Idempotent and safe to run concurrently with itself.
    pub async fn advance(
        &self,
        merchant: &MerchantId,
        budget: usize,
    ) -> Result<CancellationStatus, PrivacyError> {
        let state = self
            .data
            .get(&state_key(merchant))
            .await?
            .ok_or(PrivacyError::Corrupt("no cancellation was requested"))?;
        if state.string("status") == Some("cancelled") {
            return self
                .status(merchant)
                .await?
                .ok_or(PrivacyError::Corrupt("cancellation state"));
        }
        // First and every time: nothing can be unsealed from here on.
        self.vault.destroy_merchant_key(merchant).await?;
        let disconnected = self.disconnect_all(merchant).await?;
        // Files of the merchant's outside the tables (exports, PII or not): deleted first.
        let files = self.copies.erase_account(merchant).await?;
        self.count(
            merchant,
            &[("connections", disconnected), ("copies", files as i64)],
        )
        .await?;
        let mut used = 0;
        let mut emptied = false;
        while used < budget {
            let page = self
                .data
                .query_partition(&keys::merchant_partition(merchant), "", WALK_PAGE, None)
                .await?;
            if page.items.is_empty() {
                emptied = true;
                break;
            }
            used += page.items.len();
            self.remove_page(merchant, page.items).await?;
        }
        if !emptied {
            return self.current(merchant).await;
        }
        let (removed, inventory_done) = self
            .stock
            .remove_merchant(merchant, budget.saturating_sub(used).max(1))
            .await?;
        self.count(merchant, &[("inventory_records", removed as i64)])
            .await?;
        used += removed as usize;
        if !inventory_done {
            return self.current(merchant).await;
        }
        let (deleted, more) = self
            .vault
            .delete_data_keys(merchant, budget.saturating_sub(used).max(1))
            .await?;
        self.count(merchant, &[("data_keys", deleted as i64)])
            .await?;
        if more {
            return self.current(merchant).await;
        }
        self.finish(merchant).await
    }

    async fn current(&self, merchant: &MerchantId) -> Result<CancellationStatus, PrivacyError> {
        self.status(merchant)
            .await?
            .ok_or(PrivacyError::Corrupt("cancellation state"))
    }

    async fn disconnect_all(&self, merchant: &MerchantId) -> Result<i64, PrivacyError> {
        let mut removed = 0;
        for connection in self.connections.list(merchant).await? {
            if self.connections.disconnect(merchant, &connection).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn count(
        &self,
        merchant: &MerchantId,
        deltas: &[(&str, i64)],
    ) -> Result<(), PrivacyError> {
        let deltas: Vec<(String, i64)> = deltas
            .iter()
            .filter(|(_, d)| *d != 0)
            .map(|(n, d)| ((*n).to_owned(), *d))
            .collect();
        if deltas.is_empty() {
            return Ok(());
        }
        self.data
            .transact(vec![TxOp::Adjust {
                key: state_key(merchant),
                deltas,
                at_least: Vec::new(),
            }])
            .await?;
        Ok(())
    }

    /// Removes one page of the merchant's partition, counting it atomically with the removal.
    async fn remove_page(
        &self,
        merchant: &MerchantId,
        items: Vec<Item>,
    ) -> Result<(), PrivacyError> {
        let mut ops = Vec::with_capacity(2 * items.len() + 1);
        let (mut orders, mut pii, mut copies, mut other) = (0, 0, 0, 0);
        for item in &items {
            if PiiCopies::is_pointer(item) {
                // Erased (and its pointer deleted) right away: erasers are idempotent.
                self.copies.erase_pointer(merchant, item).await?;
                copies += 1;
                continue;
            }
            let delete = TxOp::Delete {
                key: item.key.clone(),
                expected_version: Some(item.version),
            };
            // What the item owns outside the partition goes with it.
            if let (Some(pk), Some(sk)) = (item.string(OWNS_PK), item.string(OWNS_SK)) {
                ops.push(TxOp::Delete {
                    key: ItemKey::new(pk, sk),
                    expected_version: None,
                });
            }
            if item.key.sk.starts_with("ORDER#") {
                ops.push(TxOp::Create(self.anonymized(merchant, item)));
                orders += 1;
            } else if item.key.sk.starts_with("PII#") {
                pii += 1;
            } else {
                other += 1;
            }
            ops.push(delete);
        }
        ops.push(TxOp::Adjust {
            key: state_key(merchant),
            deltas: vec![
                ("orders_anonymized".into(), orders),
                ("pii_items".into(), pii),
                ("copies".into(), copies),
                ("other_items".into(), other),
            ],
            at_least: Vec::new(),
        });
        match self.data.transact(ops).await {
            Ok(()) => Ok(()),
            // Something changed under us (an in-flight write, a concurrent run, an order
            // anonymized before): one item at a time, so each is settled on its own.
            Err(StoreError::TransactionCancelled { .. }) => {
                for item in items.iter().filter(|i| !PiiCopies::is_pointer(i)) {
                    self.remove_one(merchant, item).await?;
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_one(&self, merchant: &MerchantId, item: &Item) -> Result<(), PrivacyError> {
        // An item that owns one outside the partition (a courier account's tracking hook) names
        // it: both go.
        if let (Some(pk), Some(sk)) = (item.string(OWNS_PK), item.string(OWNS_SK)) {
            self.data.delete(&ItemKey::new(pk, sk), None).await?;
        }
        if item.key.sk.starts_with("ORDER#") {
            let moved = self
                .data
                .transact(vec![
                    TxOp::Create(self.anonymized(merchant, item)),
                    TxOp::Delete {
                        key: item.key.clone(),
                        expected_version: None,
                    },
                ])
                .await;
            match moved {
                Ok(()) => return self.count(merchant, &[("orders_anonymized", 1)]).await,
                // Already anonymized once: the original is a late copy; drop it.
                Err(StoreError::TransactionCancelled { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.data.delete(&item.key, None).await?;
        Ok(())
    }

    fn anonymized(&self, merchant: &MerchantId, order: &Item) -> Item {
        let mut item = Item::new(ItemKey::new(
            anonymized_partition(merchant),
            order.key.sk.clone(),
        ));
        for name in ANONYMIZED {
            if let Some(value) = order.attrs.get(name) {
                item.set(name, value.clone());
            }
        }
        item
    }

    async fn finish(&self, merchant: &MerchantId) -> Result<CancellationStatus, PrivacyError> {
        let closed_keys = self.api_keys.close_all(merchant).await?;
        let state = self
            .data
            .get(&state_key(merchant))
            .await?
            .ok_or(PrivacyError::Corrupt("cancellation state"))?;
        if state.string("status") == Some("cancelled") {
            return self.current(merchant).await;
        }
        let progress = progress_of(&state);
        let removal = |store: &str, what: &str, count: u64| Removal {
            store: store.into(),
            what: what.into(),
            count,
        };
        let removed = vec![
            removal("keys", "merchant key (destroyed first)", 1),
            removal("keys", "order and connection data keys", progress.data_keys),
            removal("data", "sealed PII items", progress.pii_items),
            removal(
                "data",
                "orders anonymized (PII and channel references removed)",
                progress.orders_anonymized,
            ),
            removal("copies", "registered PII copies", progress.copies),
            removal(
                "data",
                "channel connections and their secrets",
                progress.connections,
            ),
            removal("data", "other merchant records", progress.other_items),
            removal(
                "data",
                "inventory records (stock, kits, listings, ledger, warehouses)",
                progress.inventory_records,
            ),
            removal("data", "API keys closed", closed_keys),
        ];
        let rule = state
            .string("rule")
            .and_then(PiiRule::parse)
            .unwrap_or(PiiRule::AccountCancellation);
        let mut done = state.clone();
        done.set("status", Value::S("cancelled".into()));
        done.set("cancelled_at", Value::N(self.clock.now().unix_timestamp()));
        let draft = ReceiptDraft {
            scope: ReceiptScope::Account,
            subject: merchant.to_string(),
            rule,
            deadline: None,
            removed,
        };
        let guard = TxOp::Replace {
            item: done,
            expected_version: state.version,
        };
        self.ledger
            .append(merchant, vec![draft], vec![guard])
            .await?;
        self.data.delete(&pending_key(merchant), None).await?;
        self.current(merchant).await
    }
}
