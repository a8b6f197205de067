//! Backorders: orders waiting for stock, retried when stock of what they lack comes in (a
//! receipt, a return, a cancellation giving units back). They cross two crates' data — the
//! order's status (orders) and its reservation (inventory) — so the service lives with the jobs
//! that drive both.

use std::collections::BTreeSet;
use std::sync::Arc;

use rc_domain::{MerchantId, OrderId, OrderStatus, Sku};
use rc_fulfillment::ShipmentPlanner;
use rc_inventory::{Reservation, ReservationState, Reservations, RouteRequest};
use rc_orders::{OrderRepository, OrderView, RepoError};

use crate::ProcessError;

/// Retries backordered orders when stock of what they lack comes in (a receipt, a return, a
/// cancellation giving units back).
pub struct Backorders {
    orders: Arc<OrderRepository>,
    reservations: Arc<Reservations>,
    planner: Arc<ShipmentPlanner>,
}

/// Backordered orders retried per SKU and occasion (the rest wait for the next).
const BACKORDERS_PER_SKU: usize = 100;

impl Backorders {
    pub fn new(
        orders: Arc<OrderRepository>,
        reservations: Arc<Reservations>,
        planner: Arc<ShipmentPlanner>,
    ) -> Self {
        Self {
            orders,
            reservations,
            planner,
        }
    }

    /// Tries again every order backordered for `skus`, oldest first; returns the SKUs whose
    /// stock the newly reserved orders took.
    pub async fn retry(
        &self,
        merchant: &MerchantId,
        skus: &[Sku],
    ) -> Result<Vec<Sku>, ProcessError> {
        let mut taken = BTreeSet::new();
        for sku in skus {
            for order in self
                .reservations
                .backordered_for(merchant, sku, BACKORDERS_PER_SKU)
                .await?
            {
                let Some(view) = self.orders.view(merchant, &order).await? else {
                    continue;
                };
                if !matches!(
                    view.status,
                    OrderStatus::Received | OrderStatus::Backordered
                ) {
                    continue;
                }
                let to = route_request(&self.orders, merchant, &order, &view).await?;
                let reservation = self
                    .reservations
                    .reserve(merchant, &order, &view.lines, &to)
                    .await?;
                if reservation.state == ReservationState::Reserved {
                    move_to(
                        &self.orders,
                        &self.reservations,
                        merchant,
                        &order,
                        status_after(&reservation),
                    )
                    .await?;
                    plan_shipments(&self.planner, merchant, &order, &reservation).await?;
                    taken.extend(skus_of(&reservation));
                }
            }
        }
        Ok(taken.into_iter().collect())
    }
}

/// What routing needs of the order: its channel and coarse destination (nothing is opened).
pub(crate) async fn route_request(
    orders: &OrderRepository,
    merchant: &MerchantId,
    order: &OrderId,
    view: &OrderView,
) -> Result<RouteRequest, ProcessError> {
    Ok(RouteRequest {
        destination: orders.destination(merchant, order, view).await?,
        channel: view.channel,
    })
}

/// Plans the shipments of a reserved, routed order (nothing for one that needs attention, or
/// was reserved before routing existed).
pub(crate) async fn plan_shipments(
    planner: &ShipmentPlanner,
    merchant: &MerchantId,
    order: &OrderId,
    reservation: &Reservation,
) -> Result<(), ProcessError> {
    if reservation.state != ReservationState::Reserved {
        return Ok(());
    }
    if let Some(decision) = &reservation.routing {
        planner.plan(merchant, order, decision).await?;
    }
    Ok(())
}

/// The order's status once its reservation is decided.
pub(crate) fn status_after(reservation: &Reservation) -> OrderStatus {
    if reservation.needs_attention() {
        OrderStatus::NeedsAttention
    } else if reservation.state == ReservationState::Reserved {
        OrderStatus::Reserved
    } else {
        OrderStatus::Backordered
    }
}

pub(crate) fn skus_of(reservation: &Reservation) -> impl Iterator<Item = Sku> + '_ {
    reservation.allocations.iter().map(|a| a.sku.clone())
}

/// Moves the order to `status` after a reservation.
pub(crate) async fn move_to(
    orders: &OrderRepository,
    reservations: &Reservations,
    merchant: &MerchantId,
    order: &OrderId,
    status: OrderStatus,
) -> Result<(), ProcessError> {
    match orders.advance_status(merchant, order, status).await {
        Ok(_) => Ok(()),
        // Cancelled while we reserved: its own event may have found nothing to release, so
        // give the units back here (release is idempotent).
        Err(RepoError::Refused(_)) => {
            reservations.release(merchant, order).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
