//! Settling an order after its shipments moved — the fulfillment worker's job, from shipment
//! events on its queue (ids only). Every step is idempotent and recorded on the shipment in the
//! same transaction as its effect, so a repeat, a crash or a concurrent run does each once:
//!
//! 1. **Stock at pickup**: a shipment that left takes its warehouse's share of the order's
//!    reservation out of stock (ledger `consume`), once (`stock_consumed`).
//! 2. **Returns**: a `returned` shipment puts its units back into its warehouse (ledger
//!    `return`), once (`restocked`).
//! 3. **The order**: `shipped` when every shipment left, at the last one's pickup time — the
//!    PII deadline is that time + the retention period (only ever earlier, never extended);
//!    `delivered` when every one is delivered.
//! 4. **Confirmations**: each package that left is confirmed to the marketplace
//!    ([`crate::Confirmer`]); one that could not be sent now fails the message, which comes
//!    back with the queue's backoff and, after its receives, lands in the dead-letter queue.

use std::collections::BTreeSet;
use std::sync::Arc;

use rc_domain::{
    Confirmation, ConfirmationState, CourierKind, MerchantId, OrderId, OrderStatus, ShipmentId,
    ShipmentStatus, Sku, TrackingCode, order_progress,
};
use rc_inventory::{Reservations, StockRepository};
use rc_orders::{OrderRepository, RepoError};
use rc_queue::ShipmentEvent;

use crate::{Confirmer, FulfillmentError, Shipment, ShipmentRepository};

/// What settling did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// SKUs whose stock moved (to push to the channels).
    pub skus: BTreeSet<Sku>,
    pub order_status: Option<OrderStatus>,
    /// Confirmations still pending after this run.
    pub pending: usize,
}

pub struct ShipmentSettler {
    shipments: Arc<ShipmentRepository>,
    orders: Arc<OrderRepository>,
    reservations: Arc<Reservations>,
    stock: Arc<StockRepository>,
    confirmer: Arc<Confirmer>,
}

/// A package's first confirmation: none needed for labels bought through Amazon Shipping.
fn first_confirmation(shipment: &Shipment) -> Option<Confirmation> {
    let (carrier, tracking) = shipment.tracking()?;
    let code = TrackingCode::parse(tracking).ok()?;
    let mut confirmation = Confirmation::pending(carrier, &code);
    if shipment.external.is_none()
        && shipment
            .purchase
            .as_ref()
            .is_some_and(|p| p.courier.kind == CourierKind::AmazonShipping)
    {
        confirmation.state = ConfirmationState::NotNeeded;
    }
    Some(confirmation)
}

impl ShipmentSettler {
    pub fn new(
        shipments: Arc<ShipmentRepository>,
        orders: Arc<OrderRepository>,
        reservations: Arc<Reservations>,
        stock: Arc<StockRepository>,
        confirmer: Arc<Confirmer>,
    ) -> Self {
        Self {
            shipments,
            orders,
            reservations,
            stock,
            confirmer,
        }
    }

    /// Processes a batch of shipment events; returns the ids of messages that failed (partial
    /// batch failure), and the SKUs whose stock moved, per merchant.
    pub async fn handle_batch(
        &self,
        messages: Vec<(String, String)>,
    ) -> (Vec<String>, Vec<(MerchantId, BTreeSet<Sku>)>) {
        let mut failed = Vec::new();
        let mut moved: Vec<(MerchantId, BTreeSet<Sku>)> = Vec::new();
        for (id, body) in messages {
            let parsed = serde_json::from_str::<ShipmentEvent>(&body)
                .ok()
                .and_then(|e| {
                    Some((
                        MerchantId::parse(&e.merchant).ok()?,
                        ShipmentId::parse(&e.shipment).ok()?,
                    ))
                });
            let Some((merchant, shipment)) = parsed else {
                tracing::error!(message_id = %id, "not a shipment event; it goes to the dead-letter queue");
                failed.push(id);
                continue;
            };
            match self.settle(&merchant, shipment.order()).await {
                Ok(settled) => {
                    tracing::info!(message_id = %id, %merchant, %shipment, pending = settled.pending, "shipment settled");
                    if !settled.skus.is_empty() {
                        moved.push((merchant, settled.skus.clone()));
                    }
                    if settled.pending > 0 {
                        failed.push(id);
                    }
                }
                Err(error) => {
                    tracing::warn!(message_id = %id, %error, "shipment event will be retried");
                    failed.push(id);
                }
            }
        }
        (failed, moved)
    }

    /// Settles the order's stock, status, PII clock and confirmations from its shipments.
    pub async fn settle(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Settled, FulfillmentError> {
        let mut settled = Settled::default();
        let Some(view) = self.orders.view(merchant, order).await? else {
            // Gone (the account was cancelled): nothing to settle.
            return Ok(settled);
        };
        let mut shipments = self.shipments.for_order(merchant, order).await?;
        for shipment in shipments.iter_mut() {
            self.settle_stock(merchant, order, shipment, &mut settled)
                .await?;
        }
        let progress =
            order_progress(&shipments.iter().map(Shipment::progress).collect::<Vec<_>>());
        let advance = |to, at| self.orders.advance_status_at(merchant, order, to, at);
        if let Some(at) = progress.shipped_at {
            match advance(OrderStatus::Shipped, at).await {
                Ok(_) => settled.order_status = Some(OrderStatus::Shipped),
                // Cancelled meanwhile: the order's own status stands.
                Err(RepoError::Refused(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if progress.delivered {
                match advance(OrderStatus::Delivered, self.orders_now()).await {
                    Ok(_) => settled.order_status = Some(OrderStatus::Delivered),
                    Err(RepoError::Refused(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Confirmations: what left and has none yet gets one, then what is due is tried.
        let now = self.shipments.now();
        let before: Vec<Option<Confirmation>> =
            shipments.iter().map(|s| s.confirmation.clone()).collect();
        for shipment in shipments.iter_mut() {
            if shipment.confirmation.is_none() && shipment.progress().left_at.is_some() {
                shipment.confirmation = first_confirmation(shipment);
            }
        }
        self.confirmer
            .confirm_due(merchant, &view, &mut shipments, now)
            .await?;
        for (shipment, before) in shipments.iter_mut().zip(before) {
            if shipment.confirmation != before {
                let was = shipment.status;
                // A conflict: a courier event landed meanwhile; the next run records it.
                match self.shipments.save(merchant, shipment, was).await {
                    Ok(()) | Err(FulfillmentError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        settled.pending = shipments
            .iter()
            .filter(|s| {
                s.confirmation
                    .as_ref()
                    .is_some_and(|c| c.state == ConfirmationState::Pending)
            })
            .count();
        Ok(settled)
    }

    fn orders_now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(self.shipments.now())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// Steps 1 and 2 for one shipment, each in one transaction with the shipment's record.
    async fn settle_stock(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        shipment: &mut Shipment,
        settled: &mut Settled,
    ) -> Result<(), FulfillmentError> {
        let left = shipment.progress().left_at.is_some();
        if left && !shipment.stock_consumed {
            let ops = if shipment.external.is_some() {
                // Left outside RetailCoder: the order's reservation is consumed as a whole.
                Vec::new()
            } else {
                self.reservations
                    .consume_at_ops(merchant, order, &shipment.warehouse, shipment.id.as_str())
                    .await?
                    .unwrap_or_default()
            };
            let was = shipment.status;
            shipment.stock_consumed = true;
            let took = !ops.is_empty();
            self.shipments
                .save_with(merchant, shipment, was, ops)
                .await?;
            if took {
                settled.skus.extend(shipment.units.keys().cloned());
            }
        }
        if shipment.status == ShipmentStatus::Returned && !shipment.restocked {
            let ops = self.stock.return_ops(
                merchant,
                &shipment.warehouse,
                &shipment.units,
                format!("shipment {} returned", shipment.id),
            )?;
            let was = shipment.status;
            shipment.restocked = true;
            self.shipments
                .save_with(merchant, shipment, was, ops)
                .await?;
            settled.skus.extend(shipment.units.keys().cloned());
        }
        Ok(())
    }
}
