//! Reservations: all of an order's lines are reserved in one conditional transaction, or none
//! are and the order is backordered with its shortfall recorded. Released on cancellation,
//! consumed on shipment. The reservation record is written in the same transaction as the stock
//! changes, so a re-delivered message finds it and changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{
    Candidate, Channel, Demand, Destination, FreeStock, LineItem, MerchantId, OrderId,
    PlannedShipment, Sku, Unroutable, WarehouseId,
};
use rc_store::{Item, StoreError, TxOp, Value};
use serde::{Deserialize, Serialize};

use crate::ledger::StockChange;
use crate::stock::{ATTEMPTS, back_off};
use crate::{InventoryError, RoutingRepository, StockRepository, WarehouseRepository, keys};

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
    /// How the order was routed (absent on reservations made before routing existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingDecision>,
    /// Warehouses whose share already left (a shipment picked up): taken out of stock then,
    /// never again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumed_from: Vec<WarehouseId>,
}

/// Where an order goes and why, recorded on its reservation in the same transaction that takes
/// the units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// The merchant's rule that chose the warehouses; `None`: no rule matched, every active
    /// warehouse was a candidate by priority.
    pub rule: Option<String>,
    /// One shipment per warehouse, with the units it ships (kits as their components).
    pub shipments: Vec<RoutedShipment>,
    /// Set when the order cannot ship as it stands (`address_not_shippable`,
    /// `no_warehouse_serves`): its units are held at `shipments` until the merchant decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutedShipment {
    pub warehouse: WarehouseId,
    pub units: BTreeMap<Sku, i64>,
}

/// What routing needs to know of an order besides its lines.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub destination: Destination,
    pub channel: Channel,
}

impl ReservationState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Backordered => "backordered",
            Self::Released => "released",
            Self::Consumed => "consumed",
            Self::ShippedUnreserved => "shipped_unreserved",
        }
    }
}

impl Reservation {
    /// Reserved, but the merchant must decide where it ships (see [`RoutingDecision::attention`]).
    pub fn needs_attention(&self) -> bool {
        self.state == ReservationState::Reserved
            && self.routing.as_ref().is_some_and(|r| r.attention.is_some())
    }
}

pub struct Reservations {
    stock: Arc<StockRepository>,
    warehouses: Arc<WarehouseRepository>,
    routing: Arc<RoutingRepository>,
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

/// Routing's view of the merchant's warehouses: their records, and stock held under an id
/// without a record (from before warehouse records existed) as an active warehouse preferred
/// last.
fn candidates(
    records: &[(WarehouseId, rc_domain::Warehouse)],
    stock: &FreeStock,
) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = records
        .iter()
        .map(|(id, w)| Candidate {
            id: id.clone(),
            priority: w.priority,
            active: w.active,
        })
        .collect();
    for (warehouse, _) in stock.keys() {
        if !candidates.iter().any(|c| c.id == *warehouse) {
            candidates.push(Candidate {
                id: warehouse.clone(),
                priority: u16::MAX,
                active: true,
            });
        }
    }
    candidates
}

fn allocations_of(shipments: &[PlannedShipment]) -> Vec<Allocation> {
    shipments
        .iter()
        .flat_map(|s| {
            s.units.iter().map(|(sku, quantity)| Allocation {
                sku: sku.clone(),
                warehouse: s.warehouse.clone(),
                quantity: *quantity,
            })
        })
        .collect()
}

fn routed(shipments: &[PlannedShipment]) -> Vec<RoutedShipment> {
    shipments
        .iter()
        .map(|s| RoutedShipment {
            warehouse: s.warehouse.clone(),
            units: s.units.clone(),
        })
        .collect()
}

impl Reservations {
    pub fn new(
        stock: Arc<StockRepository>,
        warehouses: Arc<WarehouseRepository>,
        routing: Arc<RoutingRepository>,
    ) -> Self {
        Self {
            stock,
            warehouses,
            routing,
        }
    }

    /// Routes the order and decides its reservation from the stock read now (pure but for the
    /// reads; nothing is written).
    async fn decide(
        &self,
        merchant: &MerchantId,
        needs: &Demand,
        to: &RouteRequest,
        records: &[(WarehouseId, rc_domain::Warehouse)],
        settings: &rc_domain::RoutingSettings,
        held: &[Allocation],
    ) -> Result<Reservation, InventoryError> {
        let backordered = |shortfall, note: Option<&str>| Reservation {
            state: ReservationState::Backordered,
            allocations: Vec::new(),
            shortfall,
            note: note.map(str::to_owned),
            routing: None,
            consumed_from: Vec::new(),
        };
        if needs.is_empty() {
            return Ok(backordered(Vec::new(), Some("no lines to reserve")));
        }
        let mut free = FreeStock::new();
        for sku in needs.keys() {
            for (warehouse, level) in self.stock.levels(merchant, sku).await? {
                free.insert((warehouse, sku.clone()), level.available);
            }
        }
        // Units this order already holds are its own to route again.
        for allocation in held {
            *free
                .entry((allocation.warehouse.clone(), allocation.sku.clone()))
                .or_default() += allocation.quantity;
        }
        let warehouses = candidates(records, &free);
        let (shipments, rule, attention) = match rc_domain::route(
            needs,
            &to.destination,
            to.channel,
            &settings.rules,
            &warehouses,
            &free,
            settings.allow_split,
        ) {
            Ok(routed) => (Ok(routed.shipments), routed.rule, None),
            Err(Unroutable::NoStock(short)) => (Err(short), None, None),
            Err(why) => (
                rc_domain::hold(needs, &warehouses, &free),
                None,
                Some(why.reason().to_owned()),
            ),
        };
        let shipments = match shipments {
            Ok(shipments) => shipments,
            Err(short) => {
                let active: Vec<&Candidate> = warehouses.iter().filter(|w| w.active).collect();
                let shortfall = short
                    .into_iter()
                    .map(|sku| Shortfall {
                        needed: needs.get(&sku).copied().unwrap_or(0),
                        available: active
                            .iter()
                            .map(|w| {
                                free.get(&(w.id.clone(), sku.clone()))
                                    .copied()
                                    .unwrap_or(0)
                                    .max(0)
                            })
                            .sum(),
                        sku,
                    })
                    .collect();
                return Ok(backordered(shortfall, None));
            }
        };
        let allocations = allocations_of(&shipments);
        if allocations.len() > MAX_STOCK_ITEMS_PER_ORDER {
            return Ok(backordered(
                Vec::new(),
                Some("more stock items than one atomic reservation can hold; allocate by hand"),
            ));
        }
        Ok(Reservation {
            state: ReservationState::Reserved,
            allocations,
            shortfall: Vec::new(),
            note: None,
            routing: Some(RoutingDecision {
                rule,
                shipments: routed(&shipments),
                attention,
            }),
            consumed_from: Vec::new(),
        })
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

    /// Routes the order by the merchant's rules and reserves every line at the warehouses
    /// routing chose, at once, or backorders it. The stock read for routing is the stock the
    /// transaction's conditions check: if it moved, the order is routed again. Idempotent: an
    /// order already reserved (or released, consumed) is returned as it is; a backordered one is
    /// tried again.
    pub async fn reserve(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        lines: &[LineItem],
        to: &RouteRequest,
    ) -> Result<Reservation, InventoryError> {
        let key = keys::reservation(merchant, order);
        let needs = self.needs(merchant, lines).await?;
        let records = self.warehouses.list(merchant).await?;
        let settings = self.routing.get(merchant).await?;
        for attempt in 0..ATTEMPTS {
            let existing = self.stock.data.get(&key).await?;
            if let Some(item) = &existing {
                let record = parse_record(item)?;
                if record.state != ReservationState::Backordered {
                    return Ok(record);
                }
            }
            let reservation = self
                .decide(merchant, &needs, to, &records, &settings, &[])
                .await?;
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

    /// Routes again an order whose units are held while it needs attention (the merchant fixed
    /// its address, a warehouse or a rule): the held units count as its own, and the move from
    /// the old warehouses to the new is one conditional transaction of net changes per SKU ×
    /// warehouse. `Ok(None)`: the order holds no units waiting for a decision. `Ok(Some(r))`
    /// with `r.needs_attention()` or backordered: still not routable, nothing changed.
    pub async fn reroute(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        lines: &[LineItem],
        to: &RouteRequest,
    ) -> Result<Option<Reservation>, InventoryError> {
        let key = keys::reservation(merchant, order);
        let needs = self.needs(merchant, lines).await?;
        let records = self.warehouses.list(merchant).await?;
        let settings = self.routing.get(merchant).await?;
        for attempt in 0..ATTEMPTS {
            let Some(item) = self.stock.data.get(&key).await? else {
                return Ok(None);
            };
            let held = parse_record(&item)?;
            if !held.needs_attention() {
                return Ok(None);
            }
            let routed = self
                .decide(merchant, &needs, to, &records, &settings, &held.allocations)
                .await?;
            if routed.state != ReservationState::Reserved || routed.needs_attention() {
                return Ok(Some(routed));
            }
            // Net change per SKU × warehouse: one operation per stock item.
            let mut net: BTreeMap<(Sku, WarehouseId), i64> = BTreeMap::new();
            for a in &routed.allocations {
                *net.entry((a.sku.clone(), a.warehouse.clone())).or_default() += a.quantity;
            }
            for a in &held.allocations {
                *net.entry((a.sku.clone(), a.warehouse.clone())).or_default() -= a.quantity;
            }
            let mut ops = vec![TxOp::Replace {
                item: record_item(merchant, order, &routed)?,
                expected_version: item.version,
            }];
            let mut changes = Vec::new();
            for ((sku, warehouse), delta) in net.into_iter().filter(|(_, d)| *d != 0) {
                let at_least = if delta > 0 {
                    vec![("available".into(), delta)]
                } else {
                    vec![("reserved".into(), -delta)]
                };
                ops.push(TxOp::Adjust {
                    key: keys::stock(merchant, &sku, &warehouse),
                    deltas: vec![("reserved".into(), delta), ("available".into(), -delta)],
                    at_least,
                });
                changes.push(StockChange {
                    sku,
                    warehouse,
                    on_hand: 0,
                    reserved: delta,
                });
            }
            ops.push(TxOp::Create(self.stock.ledger_item(
                merchant,
                "reroute",
                format!("order {order} routed again"),
                "merchant-api",
                changes,
            )?));
            match self.stock.data.transact(ops).await {
                Ok(()) => return Ok(Some(routed)),
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

    /// The operations that take one warehouse's share of a reserved order out of stock (its
    /// shipment left), to commit in one transaction with the shipment's record; `None` when
    /// there is nothing to take (not reserved, or taken already).
    pub async fn consume_at_ops(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        warehouse: &WarehouseId,
        shipment: &str,
    ) -> Result<Option<Vec<TxOp>>, InventoryError> {
        let key = keys::reservation(merchant, order);
        let Some(item) = self.stock.data.get(&key).await? else {
            return Ok(None);
        };
        let mut record = parse_record(&item)?;
        if record.state != ReservationState::Reserved || record.consumed_from.contains(warehouse) {
            return Ok(None);
        }
        let taken: Vec<Allocation> = record
            .allocations
            .iter()
            .filter(|a| a.warehouse == *warehouse)
            .cloned()
            .collect();
        record.consumed_from.push(warehouse.clone());
        if record
            .allocations
            .iter()
            .all(|a| record.consumed_from.contains(&a.warehouse))
        {
            record.state = ReservationState::Consumed;
        }
        let mut ops = vec![TxOp::Replace {
            item: record_item(merchant, order, &record)?,
            expected_version: item.version,
        }];
        for allocation in &taken {
            let q = allocation.quantity;
            ops.push(TxOp::Adjust {
                key: keys::stock(merchant, &allocation.sku, &allocation.warehouse),
                deltas: vec![("reserved".into(), -q), ("on_hand".into(), -q)],
                at_least: vec![("reserved".into(), q), ("on_hand".into(), q)],
            });
        }
        if !taken.is_empty() {
            ops.push(TxOp::Create(self.stock.ledger_item(
                merchant,
                "consume",
                format!("shipment {shipment} picked up"),
                "fulfillment",
                changes(&taken, -1, -1),
            )?));
        }
        Ok(Some(ops))
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
            // What already left with a shipment is out of stock already: not again.
            let pending: Vec<Allocation> = record
                .allocations
                .iter()
                .filter(|a| !record.consumed_from.contains(&a.warehouse))
                .cloned()
                .collect();
            let mut ops = vec![TxOp::Replace {
                item: record_item(merchant, order, &record)?,
                expected_version: item.version,
            }];
            if moved && !pending.is_empty() {
                for allocation in &pending {
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
                    changes(&pending, on_hand, -1),
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
