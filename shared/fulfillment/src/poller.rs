//! The polling fallback, on a schedule: a lost webhook must never leave a shipment stuck. Every
//! tracked shipment (labelled, not at the end of its journey) not heard of for the merchant's
//! `poll_after_hours` is read from its courier (EasyPost's shipment tracker, Shiprocket's
//! track-by-AWB, Amazon Shipping's `getTracking`) and recorded like a webhook. Polls are paced
//! per courier account and capped per run, so one merchant's backlog cannot exhaust a
//! courier's rate limit. Confirmations whose retry is due are handed back to the fulfillment
//! worker.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rc_channels::amazon::TokenBucket;
use rc_couriers::Tracked;
use rc_domain::{CourierAccountRef, EventSource, MerchantId, ShipmentStatus};
use rc_orders::ConnectionRepository;
use rc_queue::{ShipmentEvent, ShipmentEvents};

use crate::{
    CourierAccountRepository, Couriers, FulfillmentError, FulfillmentSettingsRepository, Recorded,
    Shipment, ShipmentRepository, TrackingRecorder,
};

/// Polls per courier account per run, and their pace (requests per second).
pub const MAX_POLLS_PER_ACCOUNT: usize = 200;
const POLLS_PER_SECOND: f64 = 5.0;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PollReport {
    pub merchants: usize,
    pub polled: usize,
    pub moved: usize,
    pub failed: usize,
    /// Shipments whose confirmation retry was due, handed to the worker.
    pub confirmations_due: usize,
}

pub struct TrackingPoller {
    shipments: Arc<ShipmentRepository>,
    accounts: Arc<CourierAccountRepository>,
    settings: Arc<FulfillmentSettingsRepository>,
    connections: Arc<ConnectionRepository>,
    recorder: TrackingRecorder,
    couriers: Couriers,
    events: Arc<dyn ShipmentEvents>,
}

impl TrackingPoller {
    pub fn new(
        shipments: Arc<ShipmentRepository>,
        accounts: Arc<CourierAccountRepository>,
        settings: Arc<FulfillmentSettingsRepository>,
        connections: Arc<ConnectionRepository>,
        couriers: Couriers,
        events: Arc<dyn ShipmentEvents>,
    ) -> Self {
        Self {
            recorder: TrackingRecorder::new(Arc::clone(&shipments)),
            shipments,
            accounts,
            settings,
            connections,
            couriers,
            events,
        }
    }

    /// One scheduled run over every merchant with a channel connection.
    pub async fn run(&self) -> Result<PollReport, FulfillmentError> {
        let mut merchants = BTreeSet::new();
        let mut after = None;
        loop {
            let page = self.connections.all(100, after).await?;
            merchants.extend(page.items.into_iter().map(|c| c.merchant));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut report = PollReport::default();
        for merchant in merchants {
            report.merchants += 1;
            if let Err(error) = self.run_merchant(&merchant, &mut report).await {
                // One merchant's failure does not stop the others; the next run retries.
                tracing::warn!(%merchant, %error, "tracking poll failed for a merchant");
                report.failed += 1;
            }
        }
        tracing::info!(?report, "tracking poll done");
        Ok(report)
    }

    /// Polls one merchant's silent shipments and hands back due confirmations.
    pub async fn run_merchant(
        &self,
        merchant: &MerchantId,
        report: &mut PollReport,
    ) -> Result<(), FulfillmentError> {
        let settings = self.settings.get(merchant).await?;
        let now = self.shipments.now();
        let silent_since = now - i64::from(settings.poll_after_hours) * 3600;
        let mut pace: HashMap<CourierAccountRef, (Arc<TokenBucket>, usize)> = HashMap::new();
        let mut onward = Vec::new();
        for status in ShipmentStatus::ALL
            .into_iter()
            .filter(ShipmentStatus::is_tracked)
        {
            let mut after = None;
            loop {
                let (page, next) = self
                    .shipments
                    .by_status(merchant, status, after.as_ref())
                    .await?;
                for shipment in page {
                    if shipment.heard_at.is_some_and(|t| t > silent_since) {
                        continue;
                    }
                    let Some(purchase) = &shipment.purchase else {
                        continue;
                    };
                    let (bucket, used) = pace
                        .entry(purchase.courier.clone())
                        .or_insert_with(|| (Arc::new(TokenBucket::new(POLLS_PER_SECOND, 5)), 0));
                    if *used >= MAX_POLLS_PER_ACCOUNT {
                        continue;
                    }
                    *used += 1;
                    bucket.acquire().await;
                    report.polled += 1;
                    match self.poll(merchant, &shipment).await {
                        Ok(true) => {
                            report.moved += 1;
                            onward.push(ShipmentEvent {
                                merchant: merchant.to_string(),
                                shipment: shipment.id.to_string(),
                            });
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::warn!(%merchant, shipment = %shipment.id, %error, "tracking poll failed; the next run retries");
                            report.failed += 1;
                        }
                    }
                }
                match next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        for id in self.shipments.confirmations_due(merchant, now).await? {
            report.confirmations_due += 1;
            onward.push(ShipmentEvent {
                merchant: merchant.to_string(),
                shipment: id.to_string(),
            });
        }
        if !onward.is_empty() {
            self.events.send(&onward).await?;
        }
        Ok(())
    }

    /// Reads one shipment's tracking from its courier and records it. Whether it moved.
    async fn poll(
        &self,
        merchant: &MerchantId,
        shipment: &Shipment,
    ) -> Result<bool, FulfillmentError> {
        let Some(purchase) = &shipment.purchase else {
            return Ok(false);
        };
        // A lost index entry would keep webhooks from finding it: written again (idempotent).
        self.shipments
            .index_tracking(merchant, &purchase.tracking_code, &shipment.id)
            .await?;
        let Some(credentials) = self
            .accounts
            .credentials(merchant, &purchase.courier)
            .await?
        else {
            return Ok(false);
        };
        let courier = self.couriers.get(purchase.courier.kind)?;
        let update = courier
            .track(
                &credentials,
                &Tracked {
                    courier_shipment: &purchase.courier_shipment,
                    tracking_code: &purchase.tracking_code,
                    carrier: &purchase.carrier,
                },
            )
            .await?;
        if update.tracking_code != purchase.tracking_code {
            return Err(FulfillmentError::Courier(
                rc_couriers::CourierError::Answer("tracking_code"),
            ));
        }
        match self
            .recorder
            .record(
                merchant,
                Some(&purchase.courier),
                &update,
                EventSource::Poll,
            )
            .await?
        {
            Recorded::Applied { moved, .. } => Ok(moved),
            Recorded::Duplicate { .. } => {
                // Nothing new, but the courier answered: not silent any more.
                self.shipments.heard(merchant, &shipment.id).await?;
                Ok(false)
            }
            Recorded::UnknownShipment => Ok(false),
        }
    }
}
