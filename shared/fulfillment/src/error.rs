use rc_couriers::CourierError;

/// Why a fulfillment step failed. Texts name fields and kinds, never values.
#[derive(Debug, thiserror::Error)]
pub enum FulfillmentError {
    #[error("store: {0}")]
    Store(#[from] rc_store::StoreError),
    #[error("vault: {0}")]
    Vault(#[from] rc_vault::VaultError),
    #[error("orders: {0}")]
    Orders(#[from] rc_orders::RepoError),
    #[error("inventory: {0}")]
    Inventory(#[from] rc_inventory::InventoryError),
    #[error("privacy: {0}")]
    Privacy(#[from] rc_privacy::PrivacyError),
    #[error(transparent)]
    Labels(#[from] crate::LabelStoreError),
    #[error("queue: {0}")]
    Queue(#[from] rc_queue::PublishError),
    #[error("courier: {0}")]
    Courier(#[from] CourierError),
    #[error("marketplace: {0}")]
    Marketplace(#[from] rc_channels::FetchError),
    /// A confirmation could not be sent now (throttled, unavailable); it is tried again.
    #[error("{0} confirmation(s) still pending")]
    ConfirmationsPending(usize),
    /// Changed by someone else since it was read.
    #[error("changed concurrently")]
    Conflict,
    /// Another label worker holds the shipment; this delivery comes back later.
    #[error("another worker holds the shipment")]
    Busy,
    #[error("stored {0} is corrupt")]
    Corrupt(&'static str),
    #[error("not a fulfillment message")]
    Malformed,
}

impl FulfillmentError {
    /// Whether a later attempt may succeed (the message goes back to the queue).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Malformed | Self::Corrupt(_))
    }
}
