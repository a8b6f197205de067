/// Storage failures. Messages never carry attribute values (which may be sealed PII or secrets),
/// only keys' shapes and backend error codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the item already exists")]
    AlreadyExists,
    #[error("the item was changed by someone else (expected version {expected})")]
    StaleVersion { expected: u64 },
    #[error("the item does not exist or a condition on it failed")]
    ConditionFailed,
    #[error("the transaction was cancelled: conditions failed on operations {failed:?}")]
    TransactionCancelled { failed: Vec<usize> },
    #[error("a concurrent transaction touched the same items; retry")]
    TransactionConflict,
    #[error("a transaction may hold at most {max} operations, got {got}")]
    TooManyTransactionItems { max: usize, got: usize },
    #[error("the transaction's items total {size} bytes, over the {max} byte limit")]
    TransactionTooLarge { size: usize, max: usize },
    #[error("a transaction touches the same item twice")]
    DuplicateItemInTransaction,
    #[error("the item is {size} bytes, over the {max} byte limit")]
    ItemTooLarge { size: usize, max: usize },
    #[error("attribute name `{0}` is reserved by the store")]
    ReservedAttribute(String),
    #[error("key part is empty or too long")]
    BadKey,
    #[error("the page token is not one this store issued")]
    BadPageToken,
    #[error("a stored item is malformed: {0}")]
    Corrupt(&'static str),
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("storage was throttled; retry later")]
    Throttled,
}

impl StoreError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::TransactionConflict | Self::Throttled | Self::Backend(_)
        )
    }
}
