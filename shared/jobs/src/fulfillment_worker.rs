//! The fulfillment worker: shipment events from SQS (ids only) → the order settled from its
//! shipments (`rc_fulfillment::ShipmentSettler`: stock at pickup, returns, the shipped status
//! and PII clock, confirmations to the marketplace), then the SKUs whose stock moved pushed to
//! the channels once per batch.

use std::sync::Arc;

use rc_domain::Sku;
use rc_fulfillment::ShipmentSettler;

use crate::{InventorySync, QueueMessage};

pub struct FulfillmentWorker {
    settler: Arc<ShipmentSettler>,
    sync: Arc<InventorySync>,
}

impl FulfillmentWorker {
    pub fn new(settler: Arc<ShipmentSettler>, sync: Arc<InventorySync>) -> Self {
        Self { settler, sync }
    }

    /// Processes a batch; returns the ids of messages that failed (partial batch failure): a
    /// confirmation that could not be sent now comes back after the visibility timeout, and
    /// after its receives lands in the dead-letter queue (with its alarm).
    pub async fn handle_batch(&self, messages: Vec<QueueMessage>) -> Vec<String> {
        let batch = messages.into_iter().map(|m| (m.id, m.body)).collect();
        let (failed, moved) = self.settler.handle_batch(batch).await;
        for (merchant, skus) in moved {
            let skus: Vec<Sku> = skus.into_iter().collect();
            // Pushes are retried by the scheduled full sync; the stock change itself is done.
            if let Err(error) = self.sync.sync(&merchant, &skus).await {
                tracing::warn!(%merchant, %error, "inventory push failed; the scheduled sync retries");
            }
        }
        failed
    }
}
