//! Stock per SKU and warehouse, merchant adjustments, and kits.

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{Clock, MerchantId, Sku, WarehouseId};
use rc_store::{Item, Store, StoreError, TxOp, Value};

use crate::ledger::{LedgerEntry, StockChange, entry_item, parse_entry};
use crate::model::{Adjustment, KitComponent, MAX_KIT_COMPONENTS, MAX_UNITS, StockLevel};
use crate::{InventoryError, keys};

/// How long an adjustment's idempotency key is remembered.
const IDEMPOTENCY_MEMORY: time::Duration = time::Duration::hours(24);

/// Attempts at a change that keeps losing races with concurrent changes of the same stock.
pub(crate) const ATTEMPTS: u32 = 64;

/// Items read per round trip when a list is read whole (warehouses, kit memberships).
const READ_PAGE: usize = 100;

pub struct StockRepository {
    pub(crate) data: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
}

pub(crate) fn level_of(item: &Item) -> Result<StockLevel, InventoryError> {
    let n = |name| {
        item.number(name)
            .ok_or(InventoryError::Corrupt("stock level"))
    };
    Ok(StockLevel {
        on_hand: n("on_hand")?,
        reserved: n("reserved")?,
        available: n("available")?,
    })
}

fn level_item(key: rc_store::ItemKey, level: StockLevel) -> Item {
    Item::new(key)
        .with("on_hand", Value::N(level.on_hand))
        .with("reserved", Value::N(level.reserved))
        .with("available", Value::N(level.available))
}

/// A short pause before retrying a lost race, growing with the attempt (DynamoDB answers
/// contention with `TransactionConflict`, which wants backoff).
pub(crate) async fn back_off(attempt: u32) {
    let micros = 200 * u64::from(attempt.min(20)) + u64::from(std::process::id() % 97);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// Creates the item at `key` or updates the stored one, as `fill` makes it from what is stored
/// (or a new item): a versioned replace, retried when a concurrent writer got there first.
/// Returns whether it was created.
pub(crate) async fn upsert(
    data: &dyn Store,
    key: &rc_store::ItemKey,
    fill: impl Fn(Item) -> Result<Item, InventoryError>,
) -> Result<bool, InventoryError> {
    for _ in 0..ATTEMPTS {
        let existing = data.get(key).await?;
        let item = fill(existing.clone().unwrap_or_else(|| Item::new(key.clone())))?;
        let op = match &existing {
            Some(old) => TxOp::Replace {
                item,
                expected_version: old.version,
            },
            None => TxOp::Create(item),
        };
        match data.transact(vec![op]).await {
            Ok(()) => return Ok(existing.is_none()),
            Err(StoreError::TransactionCancelled { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(InventoryError::Contended)
}

impl StockRepository {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    fn millis(&self) -> i128 {
        self.clock.now().unix_timestamp_nanos() / 1_000_000
    }

    pub(crate) fn ledger_item(
        &self,
        merchant: &MerchantId,
        kind: &str,
        reason: String,
        actor: &str,
        changes: Vec<StockChange>,
    ) -> Result<Item, InventoryError> {
        entry_item(
            merchant,
            self.millis(),
            &LedgerEntry {
                at: self.clock.now().unix_timestamp(),
                kind: kind.to_owned(),
                reason,
                actor: actor.to_owned(),
                changes,
            },
        )
    }

    /// The operations that put a returned shipment's units back into its warehouse (on hand and
    /// available), with a `return` ledger entry: committed with the shipment's record, which
    /// marks them done, so they happen once.
    pub fn return_ops(
        &self,
        merchant: &MerchantId,
        warehouse: &WarehouseId,
        units: &std::collections::BTreeMap<Sku, i64>,
        reason: String,
    ) -> Result<Vec<TxOp>, InventoryError> {
        let mut ops = Vec::with_capacity(units.len() + 1);
        let mut changes = Vec::with_capacity(units.len());
        for (sku, quantity) in units.iter().filter(|(_, q)| **q > 0) {
            ops.push(TxOp::Adjust {
                key: keys::stock(merchant, sku, warehouse),
                deltas: vec![
                    ("on_hand".into(), *quantity),
                    ("available".into(), *quantity),
                ],
                at_least: Vec::new(),
            });
            changes.push(StockChange {
                sku: sku.clone(),
                warehouse: warehouse.clone(),
                on_hand: *quantity,
                reserved: 0,
            });
        }
        if !changes.is_empty() {
            ops.push(TxOp::Create(self.ledger_item(
                merchant,
                "return",
                reason,
                "fulfillment",
                changes,
            )?));
        }
        Ok(ops)
    }

    /// The SKU's stock in each warehouse.
    pub async fn levels(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<BTreeMap<WarehouseId, StockLevel>, InventoryError> {
        let items = rc_store::query_all(
            self.data.as_ref(),
            &keys::sku_partition(merchant, sku),
            "WH#",
            READ_PAGE,
        )
        .await?;
        items
            .iter()
            .map(|item| {
                let warehouse = item
                    .key
                    .sk
                    .strip_prefix("WH#")
                    .and_then(|w| WarehouseId::parse(w).ok())
                    .ok_or(InventoryError::Corrupt("stock key"))?;
                Ok((warehouse, level_of(item)?))
            })
            .collect()
    }

    /// Applies a merchant's adjustment, recorded in the ledger with `reason` and `actor`. Stock
    /// never goes negative, and on hand never below what is reserved. Returns the new level.
    pub async fn adjust(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        warehouse: &WarehouseId,
        adjustment: Adjustment,
        reason: &str,
        actor: &str,
    ) -> Result<StockLevel, InventoryError> {
        self.adjust_once(merchant, sku, warehouse, adjustment, reason, actor, None)
            .await
    }

    /// [`Self::adjust`], applied at most once per `idempotency_key` (kept 24 hours): a retried
    /// request with the same key answers [`InventoryError::AlreadyApplied`] and changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn adjust_once(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        warehouse: &WarehouseId,
        adjustment: Adjustment,
        reason: &str,
        actor: &str,
        idempotency_key: Option<&str>,
    ) -> Result<StockLevel, InventoryError> {
        adjustment.check().map_err(InventoryError::Invalid)?;
        // What the key was first used for: a reuse for another change is refused, not mistaken
        // for a retry.
        let fingerprint = format!(
            "{}\u{0}{}\u{0}{:?}\u{0}{reason}",
            sku.as_str(),
            warehouse,
            adjustment
        );
        let once = idempotency_key.map(|k| {
            let mut item = Item::new(keys::idempotency(merchant, k))
                .with("request", Value::S(fingerprint.clone()));
            item.expires_at = Some((self.clock.now() + IDEMPOTENCY_MEMORY).unix_timestamp());
            item
        });
        let key = keys::stock(merchant, sku, warehouse);
        for attempt in 0..ATTEMPTS {
            let current = self.data.get(&key).await?;
            let before = current.as_ref().map(level_of).transpose()?;
            let base = before.unwrap_or(StockLevel {
                on_hand: 0,
                reserved: 0,
                available: 0,
            });
            // Checked: every number here came from a request.
            let on_hand = match adjustment {
                Adjustment::Set { on_hand } => Some(on_hand),
                Adjustment::Add { delta } => base.on_hand.checked_add(delta),
                Adjustment::Receive { quantity } | Adjustment::Return { quantity } => {
                    base.on_hand.checked_add(quantity)
                }
            }
            .ok_or(InventoryError::Invalid("quantity out of range"))?;
            if on_hand < base.reserved {
                return Err(InventoryError::Insufficient(
                    "on hand cannot go below what is reserved for orders",
                ));
            }
            if on_hand > MAX_UNITS {
                return Err(InventoryError::Invalid("quantity out of range"));
            }
            let after = StockLevel {
                on_hand,
                reserved: base.reserved,
                available: on_hand - base.reserved,
            };
            let change = StockChange {
                sku: sku.clone(),
                warehouse: warehouse.clone(),
                on_hand: after.on_hand - base.on_hand,
                reserved: 0,
            };
            let entry = self.ledger_item(
                merchant,
                adjustment.name(),
                reason.to_owned(),
                actor,
                vec![change],
            )?;
            let write = match &current {
                Some(item) => TxOp::Replace {
                    item: level_item(key.clone(), after),
                    expected_version: item.version,
                },
                None => {
                    // A new SKU × warehouse: listed for the scheduled full reconciliation first.
                    let entry = Item::new(keys::sku_entry(merchant, sku));
                    match self.data.create(entry).await {
                        Ok(()) | Err(StoreError::AlreadyExists) => {}
                        Err(e) => return Err(e.into()),
                    }
                    TxOp::Create(level_item(key.clone(), after))
                }
            };
            let mut ops = vec![write, TxOp::Create(entry)];
            ops.extend(once.clone().map(TxOp::Create));
            match self.data.transact(ops).await {
                Ok(()) => return Ok(after),
                Err(StoreError::TransactionCancelled { failed }) if failed.contains(&2) => {
                    let first = match &once {
                        Some(item) => self.data.get(&item.key).await?,
                        None => None,
                    };
                    return Err(match first {
                        Some(first) if first.string("request") != Some(fingerprint.as_str()) => {
                            InventoryError::IdempotencyKeyReused
                        }
                        _ => InventoryError::AlreadyApplied,
                    });
                }
                Err(StoreError::TransactionCancelled { .. } | StoreError::TransactionConflict) => {
                    back_off(attempt).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(InventoryError::Contended)
    }

    /// Defines (or redefines) `sku` as a kit of `components`. A kit has no stock of its own: its
    /// availability is the minimum over its components, and reserving it reserves them.
    pub async fn define_kit(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        components: &[KitComponent],
    ) -> Result<(), InventoryError> {
        if components.is_empty() || components.len() > MAX_KIT_COMPONENTS {
            return Err(InventoryError::Invalid("a kit has 1 to 20 components"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for component in components {
            if component.sku == *sku || !seen.insert(component.sku.clone()) {
                return Err(InventoryError::Invalid(
                    "a kit lists each component once, and not itself",
                ));
            }
            if component.quantity == 0 || component.quantity > 10_000 {
                return Err(InventoryError::Invalid("component quantity out of range"));
            }
            if self.kit(merchant, &component.sku).await?.is_some() {
                return Err(InventoryError::Invalid("a kit cannot contain a kit"));
            }
        }
        if !self.levels(merchant, sku).await?.is_empty() {
            return Err(InventoryError::Invalid(
                "this SKU has stock of its own; a kit has none",
            ));
        }
        let body = serde_json::to_string(components).map_err(|_| InventoryError::Corrupt("kit"))?;
        let existing = self.data.get(&keys::kit(merchant, sku)).await?;
        let item = Item::new(keys::kit(merchant, sku)).with("components", Value::S(body));
        let mut ops = vec![match &existing {
            Some(old) => TxOp::Replace {
                item,
                expected_version: old.version,
            },
            None => TxOp::Create(item),
        }];
        for component in components {
            let pointer = keys::part_of(merchant, &component.sku, sku);
            if self.data.get(&pointer).await?.is_none() {
                ops.push(TxOp::Create(Item::new(pointer)));
            }
        }
        match self
            .data
            .create(Item::new(keys::sku_entry(merchant, sku)))
            .await
        {
            Ok(()) | Err(StoreError::AlreadyExists) => {}
            Err(e) => return Err(e.into()),
        }
        self.data.transact(ops).await.map_err(|e| match e {
            StoreError::TransactionCancelled { .. } => InventoryError::Contended,
            other => other.into(),
        })
    }

    /// The kit's components, if `sku` is a kit.
    pub async fn kit(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<Option<Vec<KitComponent>>, InventoryError> {
        let Some(item) = self.data.get(&keys::kit(merchant, sku)).await? else {
            return Ok(None);
        };
        item.string("components")
            .and_then(|c| serde_json::from_str(c).ok())
            .map(Some)
            .ok_or(InventoryError::Corrupt("kit"))
    }

    /// The kits `component` is part of.
    pub async fn kits_containing(
        &self,
        merchant: &MerchantId,
        component: &Sku,
    ) -> Result<Vec<Sku>, InventoryError> {
        let items = rc_store::query_all(
            self.data.as_ref(),
            &keys::sku_partition(merchant, component),
            "PARTOF#",
            READ_PAGE,
        )
        .await?;
        Ok(items
            .iter()
            .filter_map(|item| item.key.sk.strip_prefix("PARTOF#"))
            .filter_map(|sku| Sku::parse(sku).ok())
            .collect())
    }

    /// Units free to sell: the sum over warehouses of on hand − reserved; for a kit, the
    /// minimum over its components of what they allow.
    pub async fn available(&self, merchant: &MerchantId, sku: &Sku) -> Result<i64, InventoryError> {
        match self.kit(merchant, sku).await? {
            None => Ok(self
                .levels(merchant, sku)
                .await?
                .values()
                .map(|l| l.available.max(0))
                .sum()),
            Some(components) => {
                let mut kits = i64::MAX;
                for component in components {
                    let free: i64 = self
                        .levels(merchant, &component.sku)
                        .await?
                        .values()
                        .map(|l| l.available.max(0))
                        .sum();
                    kits = kits.min(free / i64::from(component.quantity));
                }
                Ok(kits)
            }
        }
    }

    /// The merchant's SKUs in order, a page at a time (after the SKU `after`).
    pub async fn skus_page(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<&Sku>,
    ) -> Result<(Vec<Sku>, bool), InventoryError> {
        let after = after.map(|sku| rc_store::PageToken(sku.as_str().to_owned()));
        let page = self
            .data
            .query_partition(&keys::sku_list(merchant), "", limit, after)
            .await?;
        let skus = page
            .items
            .iter()
            .filter_map(|item| Sku::parse(&item.key.sk).ok())
            .collect();
        Ok((skus, page.next.is_some()))
    }

    /// Every SKU with stock or a kit definition.
    pub async fn skus(&self, merchant: &MerchantId) -> Result<Vec<Sku>, InventoryError> {
        let mut skus = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .data
                .query_partition(&keys::sku_list(merchant), "", 1000, after)
                .await?;
            skus.extend(
                page.items
                    .iter()
                    .filter_map(|item| Sku::parse(&item.key.sk).ok()),
            );
            match page.next {
                Some(token) => after = Some(token),
                None => return Ok(skus),
            }
        }
    }

    /// Ledger entries, oldest first, a page at a time.
    pub async fn ledger(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<rc_store::PageToken>,
    ) -> Result<rc_store::Page<LedgerEntry>, InventoryError> {
        let page = self
            .data
            .query_partition(&keys::ledger(merchant), "", limit, after)
            .await?;
        let items = page
            .items
            .iter()
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rc_store::Page {
            items,
            next: page.next,
        })
    }
}
