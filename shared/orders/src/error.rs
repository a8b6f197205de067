use rc_store::StoreError;
use rc_vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("a stored record is malformed: {0}")]
    Corrupt(&'static str),
    /// A change that can never be made (a cancelled order shipped, a shop owned by another
    /// merchant): answered 409.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// Lost a race with concurrent changes every time it tried: retrying later may succeed
    /// (answered 503, a queue message is retried).
    #[error("lost a race: {0}")]
    LostRace(&'static str),
}

impl RepoError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Vault(VaultError::Store(e)) => e.is_retryable(),
            Self::Vault(VaultError::RootKeyUnavailable(_)) => true,
            Self::LostRace(_) => true,
            _ => false,
        }
    }
}
