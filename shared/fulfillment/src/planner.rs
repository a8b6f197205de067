//! Planning an order's shipments from its routing decision: one shipment per warehouse, its
//! parcel worked out from the SKUs' parcel defaults, and a label job queued for each shipment
//! still waiting for a label. Idempotent: the ids are the order's id and the shipment's number.

use std::sync::Arc;

use rc_domain::{MerchantId, OrderId, Parcel, ShipmentId};
use rc_inventory::{RoutingDecision, StockRepository};
use rc_queue::{LabelJob, LabelJobs};

use crate::{FulfillmentError, NewShipment, Shipment, ShipmentRepository};

pub struct ShipmentPlanner {
    shipments: Arc<ShipmentRepository>,
    stock: Arc<StockRepository>,
    jobs: Arc<dyn LabelJobs>,
}

impl ShipmentPlanner {
    pub fn new(
        shipments: Arc<ShipmentRepository>,
        stock: Arc<StockRepository>,
        jobs: Arc<dyn LabelJobs>,
    ) -> Self {
        Self {
            shipments,
            stock,
            jobs,
        }
    }

    /// The shipments of a routed order (created if missing), with label jobs queued for those
    /// still waiting. A decision that needs the merchant's attention plans nothing.
    pub async fn plan(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        decision: &RoutingDecision,
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        if decision.attention.is_some() {
            return Ok(Vec::new());
        }
        let mut planned = Vec::with_capacity(decision.shipments.len());
        for (n, routed) in decision.shipments.iter().enumerate() {
            let number = u8::try_from(n + 1).map_err(|_| FulfillmentError::Corrupt("routing"))?;
            let id =
                ShipmentId::new(order, number).map_err(|_| FulfillmentError::Corrupt("routing"))?;
            let mut items = Vec::with_capacity(routed.units.len());
            for (sku, units) in &routed.units {
                let parcel = self.stock.parcel(merchant, sku).await?;
                items.push((parcel, u32::try_from(*units).unwrap_or(u32::MAX)));
            }
            // Every SKU needs its parcel defaults, else the merchant gives the parcel.
            let parcel = if items.iter().all(|(p, _)| p.is_some()) {
                Parcel::packed(
                    items
                        .iter()
                        .filter_map(|(p, n)| p.as_ref().map(|p| (p, *n))),
                )
            } else {
                None
            };
            planned.push(NewShipment {
                id,
                warehouse: routed.warehouse.clone(),
                units: routed.units.clone(),
                parcel,
                external: None,
            });
        }
        let shipments = self.shipments.plan(merchant, order, planned).await?;
        self.queue(merchant, &shipments).await?;
        Ok(shipments)
    }

    /// Queues a label job for each of `shipments` still waiting for its label.
    pub async fn queue(
        &self,
        merchant: &MerchantId,
        shipments: &[Shipment],
    ) -> Result<(), FulfillmentError> {
        let jobs: Vec<LabelJob> = shipments
            .iter()
            .filter(|s| s.status.wants_label() && s.parcel.is_some())
            .map(|s| LabelJob {
                merchant: merchant.to_string(),
                shipment: s.id.to_string(),
            })
            .collect();
        if !jobs.is_empty() {
            self.jobs.send(&jobs).await?;
        }
        Ok(())
    }
}
