//! The order processor: order events from SQS (ids only) -> stock. A new order reserves its
//! lines (or is backordered), a cancelled one releases them, a shipped one consumes them; the
//! order's status follows. The SKUs whose stock changed in a batch are coalesced and pushed to
//! the channels once per batch. Then the order's tax record is brought up to date: computed once
//! per order version, and again when the warehouses its lines ship from changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rc_domain::{MerchantId, OrderId, OrderStatus, Sku};
use rc_fulfillment::ShipmentPlanner;
use rc_inventory::{InventoryError, ReservationState, Reservations};
use rc_orders::{OrderRepository, RepoError};
use rc_queue::OrderEvent;
use rc_tax_records::TaxRecorder;

use crate::backorders::{move_to, plan_shipments, route_request, skus_of, status_after};
use crate::{Backorders, InventorySync, QueueMessage};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("not an order event")]
    Malformed,
    #[error("orders: {0}")]
    Repo(#[from] RepoError),
    #[error("inventory: {0}")]
    Inventory(#[from] InventoryError),
    #[error("fulfillment: {0}")]
    Fulfillment(#[from] rc_fulfillment::FulfillmentError),
    #[error("tax: {0}")]
    Tax(#[from] rc_tax_records::TaxRecordError),
}

impl ProcessError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Malformed => false,
            Self::Repo(e) => e.is_retryable(),
            Self::Inventory(e) => e.is_retryable(),
            Self::Fulfillment(e) => e.is_retryable(),
            Self::Tax(e) => e.is_retryable(),
        }
    }
}

pub struct OrderProcessor {
    orders: Arc<OrderRepository>,
    reservations: Arc<Reservations>,
    sync: Arc<InventorySync>,
    planner: Arc<ShipmentPlanner>,
    backorders: Backorders,
    tax: Arc<TaxRecorder>,
}

impl OrderProcessor {
    pub fn new(
        orders: Arc<OrderRepository>,
        reservations: Arc<Reservations>,
        sync: Arc<InventorySync>,
        planner: Arc<ShipmentPlanner>,
        tax: Arc<TaxRecorder>,
    ) -> Self {
        Self {
            tax,
            backorders: Backorders::new(orders.clone(), reservations.clone(), planner.clone()),
            orders,
            reservations,
            sync,
            planner,
        }
    }

    /// Processes a batch; returns the ids of messages that failed (partial batch failure). A
    /// message that can never succeed fails too, so the queue's redrive policy dead-letters it
    /// after its receives instead of it vanishing.
    pub async fn handle_batch(&self, messages: Vec<QueueMessage>) -> Vec<String> {
        let mut failed = Vec::new();
        let mut changed: BTreeMap<MerchantId, BTreeSet<Sku>> = BTreeMap::new();
        let mut freed: BTreeMap<MerchantId, BTreeSet<Sku>> = BTreeMap::new();
        for message in messages {
            match self.process(&message.body).await {
                Ok(Some((merchant, skus, released))) => {
                    if released {
                        freed
                            .entry(merchant.clone())
                            .or_default()
                            .extend(skus.clone());
                    }
                    changed.entry(merchant).or_default().extend(skus);
                }
                Ok(None) => {}
                Err(error) if error.is_retryable() => {
                    tracing::warn!(message_id = %message.id, %error, "order event will be retried");
                    failed.push(message.id);
                }
                // Never dropped: reported as failed, it is received again and then lands in the
                // dead-letter queue, where an operator sees it (`rc-ops redrive-order-events`).
                Err(error) => {
                    tracing::error!(message_id = %message.id, %error, "order event cannot be processed; it goes to the dead-letter queue");
                    failed.push(message.id);
                }
            }
        }
        // Units a cancellation gave back may complete a backordered order.
        for (merchant, skus) in freed {
            let skus: Vec<Sku> = skus.into_iter().collect();
            match self.backorders.retry(&merchant, &skus).await {
                Ok(taken) => changed.entry(merchant).or_default().extend(taken),
                Err(error) => {
                    tracing::warn!(%merchant, %error, "backorders not retried now; the next stock change retries them")
                }
            }
        }
        for (merchant, skus) in changed {
            let skus: Vec<Sku> = skus.into_iter().collect();
            match self.sync.sync(&merchant, &skus).await {
                Ok(report) => {
                    tracing::info!(%merchant, pushed = report.pushed, failed = report.failed.len(), "inventory pushed")
                }
                // Pushes are retried by the scheduled full sync; the stock change itself is done.
                Err(error) => {
                    tracing::warn!(%merchant, %error, "inventory push failed; the scheduled sync retries")
                }
            }
        }
        failed
    }

    /// One event: the merchant, the SKUs whose stock changed, and whether units were given
    /// back (a release), if anything changed. The stock first (it decides the warehouses), then
    /// the tax record (which reads them); both are idempotent, so a retry of either is safe.
    async fn process(
        &self,
        body: &str,
    ) -> Result<Option<(MerchantId, Vec<Sku>, bool)>, ProcessError> {
        let event: OrderEvent = serde_json::from_str(body).map_err(|_| ProcessError::Malformed)?;
        let merchant = MerchantId::parse(&event.merchant).map_err(|_| ProcessError::Malformed)?;
        let order = OrderId::parse(&event.order).map_err(|_| ProcessError::Malformed)?;
        let changed = self.stock(&merchant, &order).await?;
        self.tax.record(&merchant, &order, false).await?;
        Ok(changed)
    }

    async fn stock(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<(MerchantId, Vec<Sku>, bool)>, ProcessError> {
        let (merchant, order) = (merchant.clone(), order.clone());
        let Some(view) = self.orders.view(&merchant, &order).await? else {
            // Gone (the account was cancelled): nothing to reserve.
            return Ok(None);
        };
        let reservation = match view.status {
            OrderStatus::Received | OrderStatus::Backordered => {
                let to = route_request(&self.orders, &merchant, &order, &view).await?;
                let reservation = self
                    .reservations
                    .reserve(&merchant, &order, &view.lines, &to)
                    .await?;
                let status = status_after(&reservation);
                move_to(&self.orders, &self.reservations, &merchant, &order, status).await?;
                plan_shipments(&self.planner, &merchant, &order, &reservation).await?;
                reservation
            }
            OrderStatus::Cancelled => match self.reservations.release(&merchant, &order).await? {
                Some(reservation) => reservation,
                None => return Ok(None),
            },
            OrderStatus::Shipped | OrderStatus::Delivered => {
                if self.reservations.get(&merchant, &order).await?.is_none() {
                    // Shipped before we saw it: reserve what it took, then consume it.
                    let to = route_request(&self.orders, &merchant, &order, &view).await?;
                    self.reservations
                        .reserve(&merchant, &order, &view.lines, &to)
                        .await?;
                }
                match self.reservations.consume(&merchant, &order).await? {
                    Some(reservation) => reservation,
                    None => return Ok(None),
                }
            }
            OrderStatus::Reserved => {
                // Redelivered, perhaps after a crash between the reservation and its shipments:
                // planning is idempotent.
                if let Some(reservation) = self.reservations.get(&merchant, &order).await? {
                    plan_shipments(&self.planner, &merchant, &order, &reservation).await?;
                }
                return Ok(None);
            }
            OrderStatus::NeedsAttention | OrderStatus::LabelCreated => {
                return Ok(None);
            }
        };
        let released = reservation.state == ReservationState::Released;
        Ok(Some((merchant, skus_of(&reservation).collect(), released)))
    }
}
