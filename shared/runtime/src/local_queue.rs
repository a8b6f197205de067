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
use rc_queue::{MemoryPublisher, OrderEvent, PublishError, Publisher};
use rc_store::{Item, ItemKey, Store, StoreError, TxOp, Value};

const QUEUE: &str = "LOCALQ#order-events";
const DEAD_LETTERS: &str = "LOCALQ#order-events#dlq";
/// Receives before a message is dead-lettered (the template's `maxReceiveCount`).
pub const MAX_RECEIVES: i64 = 5;

/// A message taken from the queue: its id (the item's sort key) and body, in the shape the
/// queue consumers take.
pub use rc_jobs::QueueMessage as LocalMessage;

pub struct LocalQueue {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// What was published, also kept in memory (the local host logs it; tests inspect it).
    mirror: Arc<MemoryPublisher>,
    sequence: AtomicU64,
}

impl LocalQueue {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>, mirror: Arc<MemoryPublisher>) -> Self {
        Self {
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
        self.messages_in(QUEUE, max).await
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
            .map(|m| ItemKey::new(QUEUE, &m.id))
            .collect();
        if !done.is_empty() {
            self.data.delete_many(done).await?;
        }
        for id in failed {
            let key = ItemKey::new(QUEUE, id);
            let Some(item) = self.data.get(&key).await? else {
                continue;
            };
            let receives = item.number("receives").unwrap_or(0) + 1;
            let ops = if receives >= MAX_RECEIVES {
                tracing::warn!(message_id = %id, "order event dead-lettered after {MAX_RECEIVES} receives");
                let mut dead = Item::new(ItemKey::new(DEAD_LETTERS, id));
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
        self.messages_in(DEAD_LETTERS, max).await
    }

    /// Sends dead-lettered messages back to the queue with a fresh receive count.
    pub async fn redrive(&self, messages: &[LocalMessage]) -> Result<usize, StoreError> {
        let mut moved = 0;
        for message in messages {
            let back = Item::new(ItemKey::new(QUEUE, &message.id))
                .with("event", Value::S(message.body.clone()))
                .with("receives", Value::N(0));
            let ops = vec![
                TxOp::Delete {
                    key: ItemKey::new(DEAD_LETTERS, &message.id),
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

#[async_trait]
impl Publisher for LocalQueue {
    async fn publish(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        let millis = self.clock.now().unix_timestamp_nanos() / 1_000_000;
        let mut ops = Vec::with_capacity(events.len());
        for event in events {
            let n = self.sequence.fetch_add(1, Ordering::Relaxed);
            let body = serde_json::to_string(event)
                .map_err(|_| PublishError::Unavailable("event does not encode".into()))?;
            // Unique across processes too: time, then this process's id and sequence.
            let id = format!(
                "{millis:013}#{:08x}{n:08x}#{}#{}#{}",
                std::process::id(),
                event.merchant,
                event.order,
                event.version
            );
            ops.push(
                Item::new(ItemKey::new(QUEUE, id))
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
        self.mirror.publish(events).await
    }
}
