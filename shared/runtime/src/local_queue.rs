//! The embedded defaults' order-event queue, as durable as SQS: events are items in the embedded
//! database, written before the outbox entry that announced them is removed, and deleted only
//! once processed. A process stopped at any moment (Ctrl-C, kill -9) resumes them at its next
//! start. A message that keeps failing moves to a dead-letter partition after
//! [`MAX_RECEIVES`] receives, like the deployed queue's redrive policy, where `rc-ops
//! redrive-order-events` lists it and sends it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use rc_domain::Clock;
use rc_queue::{
    LabelJob, LabelJobs, MemoryPublisher, OrderEvent, PublishError, Publisher, ShipmentEvent,
    ShipmentEvents,
};
use rc_store::{Item, ItemKey, Store, StoreError, TxOp, Value};

/// The queues of the deployed stack, by the name their items are kept under.
pub const ORDER_EVENTS: &str = "order-events";
pub const LABEL_JOBS: &str = "label-jobs";
pub const SHIPMENT_EVENTS: &str = "shipment-events";
pub const EXPORT_JOBS: &str = "export-jobs";
/// Receives before a message is dead-lettered (the template's `maxReceiveCount`).
pub const MAX_RECEIVES: i64 = 5;

/// A message taken from the queue: its id (the item's sort key) and body, in the shape the
/// queue consumers take.
pub use rc_jobs::QueueMessage as LocalMessage;

pub struct LocalQueue {
    /// `LOCALQ#<name>` and `LOCALQ#<name>#dlq`.
    queue: String,
    dead_letters: String,
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// What was published, also kept in memory (the local host logs it; tests inspect it).
    mirror: Arc<MemoryPublisher>,
    sequence: AtomicU64,
}

impl LocalQueue {
    /// The queue `name` ([`ORDER_EVENTS`], [`LABEL_JOBS`]); what is sent to it is also kept in
    /// `mirror` (order events only).
    pub fn new(
        name: &str,
        data: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        mirror: Arc<MemoryPublisher>,
    ) -> Self {
        Self {
            queue: format!("LOCALQ#{name}"),
            dead_letters: format!("LOCALQ#{name}#dlq"),
            data,
            clock,
            mirror,
            sequence: AtomicU64::new(0),
        }
    }

    /// Up to `max` messages of one partition, oldest first.
    async fn messages_in(
        &self,
        partition: &str,
        max: usize,
    ) -> Result<Vec<LocalMessage>, StoreError> {
        let page = self.data.query_partition(partition, "", max, None).await?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|item| {
                Some(LocalMessage {
                    body: item.string("event")?.to_owned(),
                    id: item.key.sk,
                })
            })
            .collect())
    }

    /// Up to `max` messages, oldest first.
    pub async fn receive(&self, max: usize) -> Result<Vec<LocalMessage>, StoreError> {
        self.messages_in(&self.queue, max).await
    }

    /// Settles a received batch: processed messages are deleted; failed ones count a receive and
    /// move to the dead letters at [`MAX_RECEIVES`].
    pub async fn settle(
        &self,
        received: &[LocalMessage],
        failed: &[String],
    ) -> Result<(), StoreError> {
        let done: Vec<ItemKey> = received
            .iter()
            .filter(|m| !failed.contains(&m.id))
            .map(|m| ItemKey::new(&self.queue, &m.id))
            .collect();
        if !done.is_empty() {
            self.data.delete_many(done).await?;
        }
        for id in failed {
            let key = ItemKey::new(&self.queue, id);
            let Some(item) = self.data.get(&key).await? else {
                continue;
            };
            let receives = item.number("receives").unwrap_or(0) + 1;
            let ops = if receives >= MAX_RECEIVES {
                tracing::warn!(queue = %self.queue, message_id = %id, "message dead-lettered after {MAX_RECEIVES} receives");
                let mut dead = Item::new(ItemKey::new(&self.dead_letters, id));
                dead.attrs = item.attrs.clone();
                dead.set("receives", Value::N(receives));
                vec![
                    TxOp::Delete {
                        key,
                        expected_version: Some(item.version),
                    },
                    TxOp::Create(dead),
                ]
            } else {
                let version = item.version;
                let mut again = item;
                again.set("receives", Value::N(receives));
                vec![TxOp::Replace {
                    item: again,
                    expected_version: version,
                }]
            };
            match self.data.transact(ops).await {
                Ok(()) | Err(StoreError::TransactionCancelled { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Dead-lettered messages, oldest first (up to `max`).
    pub async fn dead_letters(&self, max: usize) -> Result<Vec<LocalMessage>, StoreError> {
        self.messages_in(&self.dead_letters, max).await
    }

    /// Sends dead-lettered messages back to the queue with a fresh receive count.
    pub async fn redrive(&self, messages: &[LocalMessage]) -> Result<usize, StoreError> {
        let mut moved = 0;
        for message in messages {
            let back = Item::new(ItemKey::new(&self.queue, &message.id))
                .with("event", Value::S(message.body.clone()))
                .with("receives", Value::N(0));
            let ops = vec![
                TxOp::Delete {
                    key: ItemKey::new(&self.dead_letters, &message.id),
                    expected_version: None,
                },
                TxOp::Create(back),
            ];
            match self.data.transact(ops).await {
                Ok(()) => moved += 1,
                Err(StoreError::TransactionCancelled { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(moved)
    }
}

impl LocalQueue {
    /// Enqueues messages (ids only), in order; `tag` names each in its id, for operators.
    async fn enqueue(&self, bodies: Vec<(String, String)>) -> Result<(), PublishError> {
        let millis = self.clock.now().unix_timestamp_nanos() / 1_000_000;
        let mut ops = Vec::with_capacity(bodies.len());
        for (tag, body) in bodies {
            let n = self.sequence.fetch_add(1, Ordering::Relaxed);
            // Unique across processes too: time, then this process's id and sequence.
            let id = format!("{millis:013}#{:08x}{n:08x}#{tag}", std::process::id());
            ops.push(
                Item::new(ItemKey::new(&self.queue, id))
                    .with("event", Value::S(body))
                    .with("receives", Value::N(0)),
            );
        }
        for chunk in ops.chunks(100) {
            let ops = chunk.iter().cloned().map(TxOp::Create).collect();
            self.data
                .transact(ops)
                .await
                .map_err(|e| PublishError::Unavailable(format!("local queue: {e}")))?;
        }
        Ok(())
    }
}

fn encoded<T: serde::Serialize>(message: &T) -> Result<String, PublishError> {
    serde_json::to_string(message)
        .map_err(|_| PublishError::Unavailable("message does not encode".into()))
}

#[async_trait]
impl Publisher for LocalQueue {
    async fn publish(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        let bodies = events
            .iter()
            .map(|e| {
                let tag = format!("{}#{}#{}", e.merchant, e.order, e.version);
                Ok((tag, encoded(e)?))
            })
            .collect::<Result<_, PublishError>>()?;
        self.enqueue(bodies).await?;
        self.mirror.publish(events).await
    }
}

#[async_trait]
impl LabelJobs for LocalQueue {
    async fn send(&self, jobs: &[LabelJob]) -> Result<(), PublishError> {
        let bodies = jobs
            .iter()
            .map(|j| Ok((format!("{}#{}", j.merchant, j.shipment), encoded(j)?)))
            .collect::<Result<_, PublishError>>()?;
        self.enqueue(bodies).await?;
        for job in jobs {
            tracing::info!(merchant = %job.merchant, shipment = %job.shipment, "label job queued");
        }
        Ok(())
    }
}

#[async_trait]
impl rc_queue::ExportJobs for LocalQueue {
    async fn send(&self, jobs: &[rc_queue::ExportJob]) -> Result<(), PublishError> {
        let bodies = jobs
            .iter()
            .map(|j| Ok((format!("{}#{}", j.merchant, j.export), encoded(j)?)))
            .collect::<Result<_, PublishError>>()?;
        self.enqueue(bodies).await
    }
}

#[async_trait]
impl ShipmentEvents for LocalQueue {
    async fn send(&self, events: &[ShipmentEvent]) -> Result<(), PublishError> {
        let bodies = events
            .iter()
            .map(|e| Ok((format!("{}#{}", e.merchant, e.shipment), encoded(e)?)))
            .collect::<Result<_, PublishError>>()?;
        self.enqueue(bodies).await
    }
}
