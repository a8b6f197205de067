//! Publishing messages for work that can wait. Messages carry ids only: [`OrderEvent`] has no
//! field that could hold PII, so a queue never does.

use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};

/// SQS takes at most 10 messages per `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;

/// Something happened to an order; consumers read the order by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// `order.stored` or `order.updated`.
    pub kind: String,
    pub merchant: String,
    pub order: String,
    /// The order item's version after the change: consumers skip versions they have seen.
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("{0} of the messages were not accepted")]
    Partial(usize),
}

#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, events: &[OrderEvent]) -> Result<(), PublishError>;
}

/// SQS: `SendMessageBatch` in chunks of 10; messages the queue refuses are reported.
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsPublisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl Publisher for SqsPublisher {
    async fn publish(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        for chunk in events.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, event)| {
                    let body = serde_json::to_string(event)
                        .map_err(|_| PublishError::Unavailable("event does not encode".into()))?;
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| PublishError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    PublishError::Unavailable(match e.code() {
                        Some(code) => format!("sqs: {code}"),
                        None => format!("sqs: {}", DisplayErrorContext(&e)),
                    })
                })?;
            if !out.failed.is_empty() {
                return Err(PublishError::Partial(out.failed.len()));
            }
        }
        Ok(())
    }
}

/// In-process: keeps what was published (the local host logs it; tests inspect it).
#[derive(Default)]
pub struct MemoryPublisher {
    published: Mutex<Vec<OrderEvent>>,
}

impl MemoryPublisher {
    pub fn published(&self) -> Vec<OrderEvent> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        for event in events {
            tracing::info!(kind = %event.kind, merchant = %event.merchant, order = %event.order, version = event.version, "order event published");
        }
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(events);
        Ok(())
    }
}
