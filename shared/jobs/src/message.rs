//! What the queue consumers take: one message, transport-neutral (SQS in Lambda, the embedded
//! queue locally).

/// One SQS message, transport-neutral.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
}
