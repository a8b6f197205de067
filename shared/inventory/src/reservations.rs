//! Reservations: all of an order's lines are reserved in one conditional transaction, or none
//! are and the order is backordered with its shortfall recorded. Released on cancellation,
//! consumed on shipment. The reservation record is written in the same transaction as the stock
//! changes, so a re-delivered message finds it and changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{LineItem, MerchantId, OrderId, Sku, WarehouseId};
use rc_store::{Item, StoreError, TxOp, Value};
use serde::{Deserialize, Serialize};

use crate::ledger::StockChange;
use crate::stock::{ATTEMPTS, back_off};
use crate::{InventoryError, StockRepository, keys};

/// Stock items one reservation may touch: the transaction also holds the reservation record and
/// the ledger entry, within DynamoDB's 100 operations.
pub const MAX_STOCK_ITEMS_PER_ORDER: usize = 98;

const ACTOR: &str = "order-processor";

/// Units of one SKU taken from one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub sku: Sku,
    pub warehouse: WarehouseId,
    pub quantity: i64,
}

/// What an order lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    pub sku: Sku,
    pub needed: i64,
    pub available: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Reserved,
    Backordered,
    Released,
    Consumed,
    /// Shipped by the channel while backordered here: no stock was taken (count it).
    ShippedUnreserved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub state: ReservationState,
    pub allocations: Vec<Allocation>,
    pub shortfall: Vec<Shortfall>,
    /// Why it is backordered, when it is not simply a shortfall.
    pub note: Option<String>,
}

pub struct Reservations {
    stock: Arc<StockRepository>,
}

fn record_item(
    merchant: &MerchantId,
    order: &OrderId,
    reservation: &Reservation,
) -> Result<Item, InventoryError> {
    let body =
        serde_json::to_string(reservation).map_err(|_| InventoryError::Corrupt("reservation"))?;
    Ok(Item::new(keys::reservation(merchant, order)).with("reservation", Value::S(body)))
}

fn parse_record(item: &Item) -> Result<Reservation, InventoryError> {
    item.string("reservation")
        .and_then(|body| serde_json::from_str(body).ok())
        .ok_or(InventoryError::Corrupt("reservation"))
}

/// Takes `needed` units from the warehouses with the most free stock first.
fn allocate(
    sku: &Sku,
    needed: i64,
    levels: &BTreeMap<WarehouseId, crate::StockLevel>,
) -> Result<Vec<Allocation>, Shortfall> {
    let mut free: Vec<(&WarehouseId, i64)> = levels
        .iter()
        .map(|(w, l)| (w, l.available))
        .filter(|(_, a)| *a > 0)
        .collect();
    free.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let total: i64 = free.iter().map(|(_, a)| a).sum();
    if total < needed {
        return Err(Shortfall {
            sku: sku.clone(),
            needed,
            available: total,
        });
    }
    let mut left = needed;
    let mut allocations = Vec::new();
    for (warehouse, available) in free {
        if left == 0 {
            break;
        }
        let take = left.min(available);
        allocations.push(Allocation {
            sku: sku.clone(),
            warehouse: warehouse.clone(),
            quantity: take,
        });
        left -= take;
    }
    Ok(allocations)
}

impl Reservations {
    pub fn new(stock: Arc<StockRepository>) -> Self {
        Self { stock }
    }

    /// The order's reservation record, if it was processed.
    pub async fn get(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<Reservation>, InventoryError> {
        self.stock
            .data
            .get(&keys::reservation(merchant, order))
            .await?
            .as_ref()
            .map(parse_record)
            .transpose()
    }

    /// Units needed per stock SKU, kits expanded into their components.
    async fn needs(
        &self,
        merchant: &MerchantId,
        lines: &[LineItem],
    ) -> Result<BTreeMap<Sku, i64>, InventoryError> {
        let mut needs: BTreeMap<Sku, i64> = BTreeMap::new();
        for line in lines {
            let units = i64::from(line.quantity.get());
            match self.stock.kit(merchant, &line.sku).await? {
                Some(components) => {
                    for component in components {
                        *needs.entry(component.sku).or_default() +=
                            units * i64::from(component.quantity);
                    }
                }
                None => *needs.entry(line.sku.clone()).or_default() += units,
            }
        }
        Ok(needs)
    }

    /// Reserves every line of the order at once, or backorders it. Idempotent: an order already
    /// reserved (or released, consumed) is returned as it is; a backordered one is tried again.
    pub async fn reserve(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        lines: &[LineItem],
    ) -> Result<Reservation, InventoryError> {
        let key = keys::reservation(merchant, order);
        let needs = self.needs(merchant, lines).await?;
        for attempt in 0..ATTEMPTS {
            let existing = self.stock.data.get(&key).await?;
            if let Some(item) = &existing {
                let record = parse_record(item)?;
                if record.state != ReservationState::Backordered {
                    return Ok(record);
                }
            }
            let mut allocations = Vec::new();
            let mut shortfall = Vec::new();
            for (sku, needed) in &needs {
                let levels = self.stock.levels(merchant, sku).await?;
                match allocate(sku, *needed, &levels) {
                    Ok(mut taken) => allocations.append(&mut taken),
                    Err(short) => shortfall.push(short),
                }
            }
            let too_many = allocations.len() > MAX_STOCK_ITEMS_PER_ORDER;
            let reservation = if shortfall.is_empty() && !too_many && !needs.is_empty() {
                Reservation {
                    state: ReservationState::Reserved,
                    allocations,
                    shortfall: Vec::new(),
                    note: None,
                }
            } else {
                Reservation {
                    state: ReservationState::Backordered,
                    allocations: Vec::new(),
                    shortfall,
                    note: if too_many {
                        Some("more stock items than one atomic reservation can hold; allocate by hand".into())
                    } else if needs.is_empty() {
                        Some("no lines to reserve".into())
                    } else {
                        None
                    },
                }
            };
            if reservation.state == ReservationState::Backordered && existing.is_some() {
                // Still short: nothing to write (the recorded shortfall may be older).
                return Ok(reservation);
            }
            let record = record_item(merchant, order, &reservation)?;
            let mut ops = vec![match &existing {
                Some(item) => TxOp::Replace {
                    item: record,
                    expected_version: item.version,
                },
                None => TxOp::Create(record),
            }];
            if reservation.state == ReservationState::Backordered {
                // Listed under each short SKU, so stock arriving retries the order.
                for short in &reservation.shortfall {
                    ops.push(TxOp::Create(Item::new(keys::backorder(
                        merchant, &short.sku, order,
                    ))));
                }
            } else if existing.is_some() {
                // A backorder now reserved: off every list it was on.
                for sku in needs.keys() {
                    ops.push(TxOp::Delete {
                        key: keys::backorder(merchant, sku, order),
                        expected_version: None,
                    });
                }
            }
            if reservation.state == ReservationState::Reserved {
                for allocation in &reservation.allocations {
                    ops.push(TxOp::Adjust {
                        key: keys::stock(merchant, &allocation.sku, &allocation.warehouse),
                        deltas: vec![
                            ("reserved".into(), allocation.quantity),
                            ("available".into(), -allocation.quantity),
                        ],
                        at_least: vec![("available".into(), allocation.quantity)],
                    });
                }
                ops.push(TxOp::Create(self.stock.ledger_item(
                    merchant,
                    "reserve",
                    format!("order {order} reserved"),
                    ACTOR,
                    changes(&reservation.allocations, 0, 1),
                )?));
            }
            match self.stock.data.transact(ops).await {
                Ok(()) => return Ok(reservation),
                // The record changed (a concurrent delivery) or stock moved under us: look again.
                Err(StoreError::TransactionCancelled { .. } | StoreError::TransactionConflict) => {
                    back_off(attempt).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(InventoryError::Contended)
    }

    /// Orders backordered for want of `sku`, oldest id first.
    pub async fn backordered_for(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        limit: usize,
    ) -> Result<Vec<OrderId>, InventoryError> {
        let page = self
            .stock
            .data
            .query_partition(&keys::backorders(merchant, sku), "", limit, None)
            .await?;
        Ok(page
            .items
            .iter()
            .filter_map(|item| OrderId::parse(&item.key.sk).ok())
            .collect())
    }

    /// Takes an order off the backorder lists (it was cancelled, or shipped elsewhere).
    async fn unlist(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        record: &Reservation,
    ) -> Result<(), InventoryError> {
        let keys: Vec<_> = record
            .shortfall
            .iter()
            .map(|s| keys::backorder(merchant, &s.sku, order))
            .collect();
        if !keys.is_empty() {
            self.stock.data.delete_many(keys).await?;
        }
        Ok(())
    }

    /// Gives a cancelled order's reserved units back. Idempotent.
    pub async fn release(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<Reservation>, InventoryError> {
        self.finish(merchant, order, ReservationState::Released)
            .await
    }

    /// Takes a shipped order's reserved units out of stock. Idempotent.
    pub async fn consume(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<Reservation>, InventoryError> {
        self.finish(merchant, order, ReservationState::Consumed)
            .await
    }

    async fn finish(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        to: ReservationState,
    ) -> Result<Option<Reservation>, InventoryError> {
        let key = keys::reservation(merchant, order);
        for attempt in 0..ATTEMPTS {
            let Some(item) = self.stock.data.get(&key).await? else {
                return Ok(None);
            };
            let mut record = parse_record(&item)?;
            let next = match (record.state, to) {
                (ReservationState::Reserved, _) => to,
                (ReservationState::Backordered, ReservationState::Released) => to,
                (ReservationState::Backordered, _) => ReservationState::ShippedUnreserved,
                // Already released, consumed or shipped: nothing more to do.
                _ => return Ok(Some(record)),
            };
            let moved = record.state == ReservationState::Reserved;
            record.state = next;
            let mut ops = vec![TxOp::Replace {
                item: record_item(merchant, order, &record)?,
                expected_version: item.version,
            }];
            if moved {
                for allocation in &record.allocations {
                    let q = allocation.quantity;
                    let (deltas, at_least) = if to == ReservationState::Released {
                        (
                            vec![("reserved".into(), -q), ("available".into(), q)],
                            vec![("reserved".into(), q)],
                        )
                    } else {
                        (
                            vec![("reserved".into(), -q), ("on_hand".into(), -q)],
                            vec![("reserved".into(), q), ("on_hand".into(), q)],
                        )
                    };
                    ops.push(TxOp::Adjust {
                        key: keys::stock(merchant, &allocation.sku, &allocation.warehouse),
                        deltas,
                        at_least,
                    });
                }
                let (kind, on_hand) = if to == ReservationState::Released {
                    ("release", 0)
                } else {
                    ("consume", -1)
                };
                ops.push(TxOp::Create(self.stock.ledger_item(
                    merchant,
                    kind,
                    format!(
                        "order {order} {}",
                        if on_hand == 0 { "cancelled" } else { "shipped" }
                    ),
                    ACTOR,
                    changes(&record.allocations, on_hand, -1),
                )?));
            }
            match self.stock.data.transact(ops).await {
                Ok(()) => {
                    if !moved {
                        self.unlist(merchant, order, &record).await?;
                    }
                    return Ok(Some(record));
                }
                Err(StoreError::TransactionCancelled { .. } | StoreError::TransactionConflict) => {
                    back_off(attempt).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(InventoryError::Contended)
    }
}

/// Ledger changes for allocations: `on_hand` and `reserved` are signs (−1, 0, 1) per unit.
fn changes(allocations: &[Allocation], on_hand: i64, reserved: i64) -> Vec<StockChange> {
    allocations
        .iter()
        .map(|a| StockChange {
            sku: a.sku.clone(),
            warehouse: a.warehouse.clone(),
            on_hand: on_hand * a.quantity,
            reserved: reserved * a.quantity,
        })
        .collect()
}
