use rc_orders::RepoError;
use rc_store::StoreError;
use rc_vault::VaultError;

/// Privacy lifecycle failures. Ids and codes only, never values.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Inventory(#[from] rc_inventory::InventoryError),
    /// A copy was registered under a kind no eraser handles: the order stays due (and is
    /// reported) until one is registered. Never skipped silently.
    #[error("no eraser is registered for PII copies of kind `{0}`")]
    UnknownCopyKind(String),
    #[error("erasing a `{kind}` copy failed: {problem}")]
    Erase { kind: String, problem: String },
    #[error("a receipt does not encode")]
    Receipt,
    #[error("a stored record is malformed: {0}")]
    Corrupt(&'static str),
}

impl PrivacyError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Repo(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::Inventory(e) => e.is_retryable(),
            Self::Vault(VaultError::Store(e)) => e.is_retryable(),
            Self::Vault(VaultError::RootKeyUnavailable(_)) => true,
            Self::Erase { .. } => true,
            _ => false,
        }
    }
}
