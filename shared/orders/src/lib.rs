//! Repositories over the store and the vault: orders (public facts and sealed PII, written
//! atomically), channel connections (sealed secrets) and merchant API keys.

mod api_keys;
mod connections;
mod error;
mod keys;
mod orders;
mod outbox;
mod privacy_requests;
mod view;

pub use api_keys::{ApiKey, ApiKeyRepository};
pub use connections::{
    AmazonConnection, ConnectionRef, ConnectionRepository, ConnectionSummary, ShopifyConnection,
    ShopifyCredentials,
};
pub use error::RepoError;
pub use orders::{DeliveryMark, OrderRepository, StoreOutcome};
pub use outbox::Outbox;
pub use privacy_requests::{PendingPrivacyRequest, PrivacyRequestRepository};
pub use view::{BuyerPiiState, OrderView};
