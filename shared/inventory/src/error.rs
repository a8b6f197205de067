use rc_store::StoreError;

/// Inventory failures. SKUs and warehouse ids only (not PII), never buyer data.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown SKU or warehouse")]
    UnknownStock,
    /// The change would take stock below zero (or on hand below what is reserved).
    #[error("not enough stock: {0}")]
    Insufficient(&'static str),
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// Lost too many races with concurrent changes of the same stock: retry later (a queue
    /// message is redelivered).
    #[error("the stock kept changing concurrently; retry")]
    Contended,
    /// A request with this idempotency key was applied already.
    #[error("already applied")]
    AlreadyApplied,
    /// The idempotency key was first used for a different change.
    #[error("idempotency key reused for a different request")]
    IdempotencyKeyReused,
    #[error("a stored record is malformed: {0}")]
    Corrupt(&'static str),
}

impl InventoryError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Contended => true,
            _ => false,
        }
    }
}
