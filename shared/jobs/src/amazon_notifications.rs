//! The Amazon notification consumer: ORDER_CHANGE notifications from SQS (ids only, no PII) ->
//! `getOrder` -> sealed, stored exactly once.

use std::sync::Arc;

use rc_channels::amazon::parse_notification;
use rc_channels::port::{AmazonOrdersSource, FetchedOrder, OrdersError, SellerAccount};
use rc_channels::shopify::PayloadError;
use rc_orders::{ConnectionRepository, DeliveryMark, OrderRepository, RepoError, StoreOutcome};

use crate::QueueMessage;

/// Why a message was not processed. None of these carries PII.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("not an ORDER_CHANGE notification: {0}")]
    Malformed(PayloadError),
    #[error("no connection for this selling partner")]
    UnknownSeller,
    #[error("getOrder: {0}")]
    Fetch(#[from] OrdersError),
    #[error("storage: {0}")]
    Repo(#[from] RepoError),
}

impl MessageError {
    /// Retryable failures go back to the queue and are tried again after the visibility timeout;
    /// the others will fail the same way every time, and reach the dead-letter queue after the
    /// queue's maximum receive count.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Fetch(e) => e.is_retryable(),
            Self::Repo(e) => e.is_retryable(),
            // A seller may be connected a moment after Amazon starts notifying.
            Self::UnknownSeller => true,
            Self::Malformed(_) => false,
        }
    }
}

pub struct AmazonNotifications {
    orders: Arc<OrderRepository>,
    connections: Arc<ConnectionRepository>,
    source: Arc<dyn AmazonOrdersSource>,
}

impl AmazonNotifications {
    pub fn new(
        orders: Arc<OrderRepository>,
        connections: Arc<ConnectionRepository>,
        source: Arc<dyn AmazonOrdersSource>,
    ) -> Self {
        Self {
            orders,
            connections,
            source,
        }
    }

    /// Processes a batch; returns the ids of the messages that failed (SQS partial batch
    /// response), so one bad message never re-drives the others.
    pub async fn handle_batch(&self, messages: Vec<QueueMessage>) -> Vec<String> {
        let mut failed = Vec::new();
        for message in messages {
            match self.handle(&message.body).await {
                Ok(outcome) => {
                    tracing::info!(message_id = %message.id, outcome = ?outcome, "amazon notification processed");
                }
                Err(error) => {
                    tracing::warn!(
                        message = %message.id,
                        error = %error,
                        retryable = error.is_retryable(),
                        "amazon notification failed"
                    );
                    failed.push(message.id);
                }
            }
        }
        failed
    }

    pub async fn handle(&self, body: &str) -> Result<StoreOutcome, MessageError> {
        let change = parse_notification(body.as_bytes()).map_err(MessageError::Malformed)?;
        let connection = self
            .connections
            .amazon(&change.seller_id)
            .await?
            .ok_or(MessageError::UnknownSeller)?;
        let mark = DeliveryMark {
            channel: "amazon",
            source: change.seller_id.to_string(),
            delivery_id: change.notification_id.clone(),
        };
        // Checked before calling Amazon: getOrder allows 0.5 requests per second, too few to
        // spend on redeliveries. (The write below carries the mark too, for concurrent ones.)
        if self.orders.seen(&mark).await? {
            return Ok(StoreOutcome::Duplicate);
        }
        let account = SellerAccount {
            seller: &change.seller_id,
            credentials: &connection.credentials,
        };
        let FetchedOrder { order, dropped } = self
            .source
            .order(&connection.merchant, account, &change.amazon_order_id)
            .await?;
        let outcome = self.orders.upsert(&order, Some(&mark)).await?;
        tracing::info!(
            merchant = %order.merchant,
            order = %order.id,
            outcome = ?outcome,
            dropped_fields = ?dropped,
            "amazon order received"
        );
        Ok(outcome)
    }
}
