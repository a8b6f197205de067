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
    #[error("conflict: {0}")]
    Conflict(&'static str),
}

impl RepoError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Vault(VaultError::Store(e)) => e.is_retryable(),
            Self::Vault(VaultError::RootKeyUnavailable(_)) => true,
            _ => false,
        }
    }
}
