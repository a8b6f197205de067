//! "Shipped outside RetailCoder": the merchant says the order left by other means, optionally
//! with the carrier and tracking number — which are then confirmed to the marketplace like any
//! package. Shipments still waiting for a label are cancelled (`shipped_outside`), so none is
//! bought for an order already gone. Saying it again with the same tracking changes nothing;
//! with another tracking number, the marketplace is told the new one (Amazon edits the same
//! package, Shopify's fulfillment gets `fulfillmentTrackingInfoUpdate`).

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{Confirmation, MerchantId, OrderId, ShipmentId, ShipmentStatus, TrackingCode};
use rc_orders::{OrderRepository, OrderView};
use rc_queue::{ShipmentEvent, ShipmentEvents};

use crate::{
    ExternalPackage, FulfillmentError, NewShipment, SHIPPED_OUTSIDE, Shipment, ShipmentRepository,
};

/// A package's carrier and tracking number, as the merchant gives them (parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideTracking {
    pub carrier: String,
    pub tracking_code: TrackingCode,
}

pub struct OutsideShipments {
    shipments: Arc<ShipmentRepository>,
    orders: Arc<OrderRepository>,
    events: Arc<dyn ShipmentEvents>,
}

impl OutsideShipments {
    pub fn new(
        shipments: Arc<ShipmentRepository>,
        orders: Arc<OrderRepository>,
        events: Arc<dyn ShipmentEvents>,
    ) -> Self {
        Self {
            shipments,
            orders,
            events,
        }
    }

    /// Marks the order shipped now (its PII clock starts) and records the package; `None` for
    /// an unknown order. A cancelled order is refused (`RepoError::Refused`).
    pub async fn ship(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        tracking: Option<&OutsideTracking>,
    ) -> Result<Option<(OrderView, Option<Shipment>)>, FulfillmentError> {
        let Some(view) = self.orders.mark_shipped(merchant, order).await? else {
            return Ok(None);
        };
        let now = self.shipments.now();
        let mut shipments = self.shipments.for_order(merchant, order).await?;
        for shipment in shipments.iter_mut() {
            let waiting = matches!(
                shipment.status,
                ShipmentStatus::AwaitingLabel | ShipmentStatus::LabelFailed
            );
            if waiting {
                let was = shipment.status;
                shipment.status = ShipmentStatus::Cancelled;
                shipment.reason = Some(SHIPPED_OUTSIDE.to_owned());
                match self.shipments.save(merchant, shipment, was).await {
                    // A label worker took it meanwhile: its purchase stands (void it if unused).
                    Ok(()) | Err(FulfillmentError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let Some(tracking) = tracking else {
            return Ok(Some((view, None)));
        };
        let package = match shipments.iter().find(|s| s.external.is_some()).cloned() {
            Some(mut existing) => {
                let same = existing.external.as_ref().is_some_and(|e| {
                    e.tracking_code == tracking.tracking_code.as_str()
                        && e.carrier == tracking.carrier
                });
                if !same {
                    if let Some(external) = existing.external.as_mut() {
                        external.carrier = tracking.carrier.clone();
                        external.tracking_code = tracking.tracking_code.as_str().to_owned();
                    }
                    // Told again: Amazon edits the same package, Shopify updates its tracking.
                    let mut confirmation =
                        Confirmation::pending(&tracking.carrier, &tracking.tracking_code);
                    if let Some(before) = &existing.confirmation {
                        confirmation.fulfillment_ids = before.fulfillment_ids.clone();
                        confirmation.confirmed_tracking = before.confirmed_tracking.clone();
                    }
                    existing.confirmation = Some(confirmation);
                    let was = existing.status;
                    self.shipments.save(merchant, &mut existing, was).await?;
                }
                existing
            }
            None => {
                let next = shipments
                    .iter()
                    .map(|s| s.id.number())
                    .max()
                    .unwrap_or(0)
                    .checked_add(1)
                    .ok_or(FulfillmentError::Corrupt("shipment numbers"))?;
                let id = ShipmentId::new(order, next)
                    .map_err(|_| FulfillmentError::Corrupt("shipment numbers"))?;
                let warehouse = shipments
                    .first()
                    .map(|s| s.warehouse.clone())
                    .or_else(|| rc_domain::WarehouseId::parse("external").ok())
                    .ok_or(FulfillmentError::Corrupt("warehouse"))?;
                let planned = self
                    .shipments
                    .plan(
                        merchant,
                        order,
                        vec![NewShipment {
                            id,
                            warehouse,
                            // Its lines are the order's: a package sent outside carries what
                            // the merchant sent, which we do not know unit by unit.
                            units: BTreeMap::new(),
                            parcel: None,
                            external: Some(ExternalPackage {
                                carrier: tracking.carrier.clone(),
                                tracking_code: tracking.tracking_code.as_str().to_owned(),
                                shipped_at: now,
                            }),
                        }],
                    )
                    .await?;
                planned
                    .into_iter()
                    .next()
                    .ok_or(FulfillmentError::Corrupt("shipment"))?
            }
        };
        self.events
            .send(&[ShipmentEvent {
                merchant: merchant.to_string(),
                shipment: package.id.to_string(),
            }])
            .await?;
        Ok(Some((view, Some(package))))
    }
}
