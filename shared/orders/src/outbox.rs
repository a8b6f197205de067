//! The transactional outbox: an order change and the event announcing it are written in the same
//! transaction, so an event is never lost (a crash after the write leaves the entry) and never
//! invented (a failed write leaves none). Entries are published right after the write, and any
//! left behind are published by the scheduled relay. Consumers may see an event twice, never zero
//! times; they skip versions they have seen.

use std::sync::Arc;

use rc_domain::Clock;
use rc_queue::{OrderEvent, Publisher};
use rc_store::{Item, ItemKey, Store, StoreError, TxOp, Value};
use time::Duration;

use crate::RepoError;

/// Outbox partitions, so one busy hour does not land on one DynamoDB partition.
const SHARDS: u32 = 4;
/// Entries relayed per partition and round trip.
const RELAY_PAGE: usize = 100;

pub struct Outbox {
    data: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    clock: Arc<dyn Clock>,
}

fn shard(event: &OrderEvent) -> u32 {
    // FNV-1a: stable across processes.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in event.merchant.bytes().chain([0]).chain(event.order.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % SHARDS
}

impl Outbox {
    pub fn new(data: Arc<dyn Store>, publisher: Arc<dyn Publisher>, clock: Arc<dyn Clock>) -> Self {
        Self {
            data,
            publisher,
            clock,
        }
    }

    /// The outbox item for `event`, to put in the same transaction as the change it announces.
    pub(crate) fn entry(&self, event: &OrderEvent) -> Result<Item, RepoError> {
        let at = self.clock.now();
        let millis = at.unix_timestamp_nanos() / 1_000_000;
        let key = ItemKey::new(
            format!("OUTBOX#{}", shard(event)),
            format!(
                "{millis:013}#{}#{}#{}",
                event.merchant, event.order, event.version
            ),
        );
        let body = serde_json::to_string(event).map_err(|_| RepoError::Corrupt("order event"))?;
        Ok(Item::new(key)
            .with("event", Value::S(body))
            .with("created_at", Value::N(at.unix_timestamp())))
    }

    /// Transact-then-publish: commits `ops` together with the outbox entry announcing `event`,
    /// then publishes it. The change and its event exist together or not at all; a failed
    /// publish leaves the entry for the relay. Errors are the transaction's, untouched (callers
    /// tell a duplicate or a lost race from its cancellation reasons).
    pub(crate) async fn commit_with(
        &self,
        mut ops: Vec<TxOp>,
        event: OrderEvent,
    ) -> Result<(), StoreError> {
        let entry = self
            .entry(&event)
            .map_err(|_| StoreError::Backend("order event does not encode".into()))?;
        let key = entry.key.clone();
        ops.push(TxOp::Create(entry));
        self.data.transact(ops).await?;
        self.deliver(vec![(key, event)]).await;
        Ok(())
    }

    /// Publishes entries just written, then removes them. A failure leaves them for the relay.
    pub(crate) async fn deliver(&self, entries: Vec<(ItemKey, OrderEvent)>) {
        let (keys, events): (Vec<_>, Vec<_>) = entries.into_iter().unzip();
        match self.publisher.publish(&events).await {
            Ok(()) => {
                if let Err(error) = self.data.delete_many(keys).await {
                    tracing::warn!(%error, "published events stay in the outbox; the relay will republish them");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "order events not published yet; the relay will publish them");
            }
        }
    }

    /// Publishes every entry older than `min_age` (younger ones are still being delivered by the
    /// request that wrote them), and removes it. Returns how many were published.
    pub async fn relay(&self, min_age: Duration) -> Result<usize, RepoError> {
        let cutoff = (self.clock.now() - min_age).unix_timestamp();
        let mut relayed = 0;
        for shard in 0..SHARDS {
            let partition = format!("OUTBOX#{shard}");
            loop {
                let page = self
                    .data
                    .query_partition(&partition, "", RELAY_PAGE, None)
                    .await?;
                let due: Vec<(ItemKey, OrderEvent)> = page
                    .items
                    .iter()
                    .filter(|item| item.number("created_at").is_some_and(|t| t <= cutoff))
                    .filter_map(|item| {
                        let event = serde_json::from_str(item.string("event")?).ok()?;
                        Some((item.key.clone(), event))
                    })
                    .collect();
                if due.is_empty() {
                    break;
                }
                let (keys, events): (Vec<_>, Vec<_>) = due.into_iter().unzip();
                self.publisher
                    .publish(&events)
                    .await
                    .map_err(|_| RepoError::Corrupt("event queue unavailable"))?;
                self.data.delete_many(keys).await?;
                relayed += events.len();
            }
        }
        Ok(relayed)
    }
}
