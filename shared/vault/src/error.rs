use rc_store::StoreError;

/// Vault failures. None carries key material or plaintext; paths and backend error codes only.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("root key file {path}: {problem}")]
    RootKeyFile { path: String, problem: String },
    #[error("root key unavailable: {0}")]
    RootKeyUnavailable(String),
    #[error("the root key refused to unwrap a merchant key (wrong key or encryption context)")]
    RootKeyRefused,
    #[error("the merchant has no key (never created, or destroyed)")]
    MerchantKeyMissing,
    #[error(
        "the merchant's account was cancelled: its keys are destroyed and no new ones are made"
    )]
    MerchantClosed,
    #[error("the data key for this value was destroyed; the value is gone for good")]
    KeyDestroyed,
    #[error(
        "a sealed value failed authentication: tampered, or moved from another merchant, subject or field"
    )]
    Tampered,
    #[error("a sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("the system random number generator failed")]
    Randomness,
    #[error("key table: {0}")]
    Store(#[from] StoreError),
}
