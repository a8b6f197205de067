//! Recording what couriers say about a shipment: each event moves its journey forward only (by
//! event time), is kept in its history without PII, and a notification seen before changes
//! nothing. The shipment's record is written once per notification, versioned: two deliveries
//! of the same notification racing each other record it once.

use std::sync::Arc;

use rc_couriers::TrackingUpdate;
use rc_domain::{
    CourierAccountRef, EventOutcome, EventSource, Journey, MAX_HISTORY, MerchantId, ShipmentId,
    ShipmentStatus, TrackingEntry,
};

use crate::shipments::SEEN_EVENTS;
use crate::{FulfillmentError, Shipment, ShipmentRepository};

const ATTEMPTS: usize = 5;

/// What recording a notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Applied to the shipment; `moved`: its status changed.
    Applied { shipment: ShipmentId, moved: bool },
    /// Seen before: nothing changed.
    Duplicate { shipment: ShipmentId },
    /// No shipment of this merchant (and courier account) has this tracking number.
    UnknownShipment,
}

pub struct TrackingRecorder {
    shipments: Arc<ShipmentRepository>,
}

/// Applies `update` to `shipment` (pure): the journey, the history, the seen notifications.
/// Whether its status moved.
pub fn apply_update(
    shipment: &mut Shipment,
    update: &TrackingUpdate,
    source: EventSource,
    now: i64,
) -> bool {
    let mut journey = shipment.journey.unwrap_or_else(|| {
        let bought = shipment.purchase.as_ref().map_or(now, |p| p.bought_at);
        Journey::new(
            time::OffsetDateTime::from_unix_timestamp(bought)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        )
    });
    // Only a labelled shipment moves; events for a voided or failed label are history only.
    let tracked = shipment.status.tracking().is_some();
    let mut moved = false;
    for event in &update.events {
        let outcome = match event.status {
            None => EventOutcome::Unknown,
            Some(to) if tracked => EventOutcome::from(journey.apply(to, event.at)),
            Some(_) => EventOutcome::Refused,
        };
        moved |= outcome == EventOutcome::Moved;
        let at = event.at.unix_timestamp();
        let known = shipment
            .history
            .iter()
            .any(|h| h.at == at && h.courier_status == event.courier_status);
        if !known {
            shipment.history.push(TrackingEntry {
                at,
                status: event.status,
                courier_status: event.courier_status.clone(),
                source,
                outcome,
            });
        }
    }
    shipment.history.sort_by_key(|h| h.at);
    if shipment.history.len() > MAX_HISTORY {
        let excess = shipment.history.len() - MAX_HISTORY;
        shipment.history.drain(..excess);
    }
    shipment.seen_events.push(update.event_id.clone());
    if shipment.seen_events.len() > SEEN_EVENTS {
        let excess = shipment.seen_events.len() - SEEN_EVENTS;
        shipment.seen_events.drain(..excess);
    }
    shipment.heard_at = Some(now);
    if tracked {
        shipment.journey = Some(journey);
        if moved {
            shipment.status = ShipmentStatus::from(journey.status);
        }
    }
    moved
}

impl TrackingRecorder {
    pub fn new(shipments: Arc<ShipmentRepository>) -> Self {
        Self { shipments }
    }

    /// Records a courier's notification for the merchant's shipment with this tracking number.
    /// With `account`, only a shipment labelled by that courier account is touched (a hook of
    /// one account cannot move another's shipments).
    pub async fn record(
        &self,
        merchant: &MerchantId,
        account: Option<&CourierAccountRef>,
        update: &TrackingUpdate,
        source: EventSource,
    ) -> Result<Recorded, FulfillmentError> {
        for _ in 0..ATTEMPTS {
            let Some(mut shipment) = self
                .shipments
                .by_tracking(merchant, &update.tracking_code)
                .await?
            else {
                return Ok(Recorded::UnknownShipment);
            };
            if let Some(account) = account
                && shipment.purchase.as_ref().map(|p| &p.courier) != Some(account)
            {
                return Ok(Recorded::UnknownShipment);
            }
            if shipment.seen_events.contains(&update.event_id) {
                return Ok(Recorded::Duplicate {
                    shipment: shipment.id,
                });
            }
            let was = shipment.status;
            let moved = apply_update(&mut shipment, update, source, self.shipments.now());
            match self.shipments.save(merchant, &mut shipment, was).await {
                Ok(()) => {
                    return Ok(Recorded::Applied {
                        shipment: shipment.id,
                        moved,
                    });
                }
                // Another delivery (or the label worker) changed it: read it again.
                Err(FulfillmentError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(FulfillmentError::Conflict)
    }
}
