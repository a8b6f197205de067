//! The local stand-in for the SQS notification queue: batches of up to 10, failed messages
//! redelivered after a delay, dead-lettered after 5 receives (as `template.yaml` configures SQS).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rc_jobs::{AmazonNotifications, QueueMessage};
use tokio::sync::mpsc;

const MAX_RECEIVES: u32 = 5;
const BATCH: usize = 10;
const REDELIVERY_DELAY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct LocalQueue {
    sender: mpsc::UnboundedSender<(QueueMessage, u32)>,
    in_flight: Arc<AtomicUsize>,
}

impl LocalQueue {
    pub fn start(consumer: AmazonNotifications) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<(QueueMessage, u32)>();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let queue = Self {
            sender: sender.clone(),
            in_flight: Arc::clone(&in_flight),
        };
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let receives: Vec<(String, u32)> =
                    batch.iter().map(|(m, r)| (m.id.clone(), *r)).collect();
                let messages: Vec<QueueMessage> = batch.iter().map(|(m, _)| m.clone()).collect();
                let failed = consumer.handle_batch(messages.clone()).await;
                for message in messages {
                    let received = receives
                        .iter()
                        .find(|(id, _)| *id == message.id)
                        .map_or(1, |(_, r)| *r);
                    if !failed.contains(&message.id) {
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    } else if received >= MAX_RECEIVES {
                        tracing::warn!(message_id = %message.id, "dead-lettered after {MAX_RECEIVES} receives");
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    } else {
                        let sender = sender.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(REDELIVERY_DELAY).await;
                            let _ = sender.send((message, received + 1));
                        });
                    }
                }
            }
        });
        queue
    }

    pub fn send(&self, message: QueueMessage) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.sender.send((message, 1)).is_err() {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Waits until every message sent so far is processed or dead-lettered.
    pub async fn drain(&self) {
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
