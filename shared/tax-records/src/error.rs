use rc_store::StoreError;

/// Failures of the tax data layer. Reasons and codes only, never values.
#[derive(Debug, thiserror::Error)]
pub enum TaxRecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("orders: {0}")]
    Orders(#[from] rc_orders::RepoError),
    #[error("inventory: {0}")]
    Inventory(#[from] rc_inventory::InventoryError),
    #[error("a stored record is malformed: {0}")]
    Corrupt(&'static str),
    /// Lost every race with concurrent writers of the same record: retry later.
    #[error("the tax record kept changing concurrently; retry")]
    Contended,
}

impl TaxRecordError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Orders(e) => e.is_retryable(),
            Self::Inventory(e) => e.is_retryable(),
            Self::Contended => true,
            Self::Corrupt(_) => false,
        }
    }
}
