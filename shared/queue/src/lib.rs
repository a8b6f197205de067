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

/// A shipment whose label is to be bought: the label generator reads the shipment by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelJob {
    pub merchant: String,
    pub shipment: String,
}

/// A shipment moved (a courier event, a pickup, a return) or its confirmation is due: the
/// fulfillment worker settles its order (stock, status, PII clock) and confirms it to the
/// marketplace. Ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentEvent {
    pub merchant: String,
    pub shipment: String,
}

/// An export to write (or to go on writing): the export worker reads it by id. Ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    pub merchant: String,
    pub export: String,
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

/// Label jobs go to the label generator's queue.
#[async_trait]
pub trait LabelJobs: Send + Sync {
    async fn send(&self, jobs: &[LabelJob]) -> Result<(), PublishError>;
}

/// Shipment events go to the fulfillment worker's queue.
#[async_trait]
pub trait ShipmentEvents: Send + Sync {
    async fn send(&self, events: &[ShipmentEvent]) -> Result<(), PublishError>;
}

/// Export jobs go to the export worker's queue.
#[async_trait]
pub trait ExportJobs: Send + Sync {
    async fn send(&self, jobs: &[ExportJob]) -> Result<(), PublishError>;
}

impl SqsPublisher {
    /// Sends messages of any kind (ids only), 10 per `SendMessageBatch`.
    async fn send_all<T: Serialize + Sync>(&self, messages: &[T]) -> Result<(), PublishError> {
        for chunk in messages.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, message)| {
                    let body = serde_json::to_string(message)
                        .map_err(|_| PublishError::Unavailable("message does not encode".into()))?;
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

#[async_trait]
impl Publisher for SqsPublisher {
    async fn publish(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        self.send_all(events).await
    }
}

#[async_trait]
impl LabelJobs for SqsPublisher {
    async fn send(&self, jobs: &[LabelJob]) -> Result<(), PublishError> {
        self.send_all(jobs).await
    }
}

#[async_trait]
impl ExportJobs for SqsPublisher {
    async fn send(&self, jobs: &[ExportJob]) -> Result<(), PublishError> {
        self.send_all(jobs).await
    }
}

#[async_trait]
impl ShipmentEvents for SqsPublisher {
    async fn send(&self, events: &[ShipmentEvent]) -> Result<(), PublishError> {
        self.send_all(events).await
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

/// In-process label jobs: kept (tests and the bench take them from here).
#[derive(Default)]
pub struct MemoryLabelJobs {
    sent: Mutex<Vec<LabelJob>>,
}

impl MemoryLabelJobs {
    /// Every job sent so far.
    pub fn sent(&self) -> Vec<LabelJob> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl LabelJobs for MemoryLabelJobs {
    async fn send(&self, jobs: &[LabelJob]) -> Result<(), PublishError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(jobs);
        Ok(())
    }
}

/// In-process shipment events: kept (tests take them from here).
#[derive(Default)]
pub struct MemoryShipmentEvents {
    sent: Mutex<Vec<ShipmentEvent>>,
}

impl MemoryShipmentEvents {
    /// Every event sent so far.
    pub fn sent(&self) -> Vec<ShipmentEvent> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes every event sent so far.
    pub fn take(&self) -> Vec<ShipmentEvent> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl ShipmentEvents for MemoryShipmentEvents {
    async fn send(&self, events: &[ShipmentEvent]) -> Result<(), PublishError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(events);
        Ok(())
    }
}

/// A message found in a dead-letter queue (ids only, like every message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The queue's id of the message.
    pub message_id: String,
    /// The order event it carries, if it is one (a malformed message is listed without one).
    pub event: Option<OrderEvent>,
    /// How often it was received before it was dead-lettered.
    pub receives: u32,
    /// Whether it was sent back to the source queue (false in a dry run).
    pub redriven: bool,
}

/// Lists up to `max` messages of the dead-letter queue and, unless `dry_run`, sends each back
/// to `queue_url` and then deletes it from the dead letters (a crash between the two leaves a
/// duplicate, which consumers skip, never a loss). A dry run makes the messages visible again at
/// once.
pub async fn redrive_dead_letters(
    client: &aws_sdk_sqs::Client,
    dead_letters_url: &str,
    queue_url: &str,
    max: usize,
    dry_run: bool,
) -> Result<Vec<DeadLetter>, PublishError> {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let unavailable = |e: &dyn ProvideErrorMetadata| {
        PublishError::Unavailable(format!("sqs: {}", e.code().unwrap_or("error")))
    };
    let mut found = Vec::new();
    let mut listed_only = Vec::new();
    while found.len() < max {
        let batch = (max - found.len()).min(MAX_BATCH) as i32;
        let out = client
            .receive_message()
            .queue_url(dead_letters_url)
            .max_number_of_messages(batch)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let body = message.body.clone().unwrap_or_default();
            let receives = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let receipt = message.receipt_handle.clone().unwrap_or_default();
            if dry_run {
                // Hidden while the rest is listed, then made visible again below.
                listed_only.push(receipt);
            } else {
                client
                    .send_message()
                    .queue_url(queue_url)
                    .message_body(&body)
                    .send()
                    .await
                    .map_err(|e| unavailable(&e))?;
                client
                    .delete_message()
                    .queue_url(dead_letters_url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                    .map_err(|e| unavailable(&e))?;
            }
            found.push(DeadLetter {
                message_id: message.message_id.unwrap_or_default(),
                event: serde_json::from_str(&body).ok(),
                receives,
                redriven: !dry_run,
            });
        }
    }
    for receipt in listed_only {
        client
            .change_message_visibility()
            .queue_url(dead_letters_url)
            .receipt_handle(&receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
    }
    Ok(found)
}

/// In-process export jobs: kept (tests and the local host take them from here).
#[derive(Default)]
pub struct MemoryExportJobs {
    sent: Mutex<Vec<ExportJob>>,
}

impl MemoryExportJobs {
    /// Takes every job sent so far.
    pub fn take(&self) -> Vec<ExportJob> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl ExportJobs for MemoryExportJobs {
    async fn send(&self, jobs: &[ExportJob]) -> Result<(), PublishError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(jobs);
        Ok(())
    }
}
