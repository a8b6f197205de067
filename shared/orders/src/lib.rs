//! Repositories over the store and the vault: orders (public facts and sealed PII, written
//! atomically), channel connections (sealed secrets) and merchant API keys.

mod api_keys;
mod audit;
mod connect_states;
mod connections;
mod deadlines;
mod error;
pub mod keys;
mod merchants;
mod orders;
mod outbox;
mod pii_purge;
mod privacy_requests;
mod random;
mod view;

pub use api_keys::{
    ApiKey, ApiKeyRepository, KeyInfo, KeyOwner, MAX_KEY_LIFETIME_DAYS, MAX_KEY_NAME, PresentedKey,
    Scope, key_name,
};
pub use audit::{
    AUDIT_RETENTION_DAYS, Actor, AuditChainReport, AuditEntry, AuditEvent, AuditLog, AuditProblem,
    CaseReference, EmfRevealMetrics, LATE_REVEAL_AFTER_SHIPMENT_DAYS, PiiAccess, RevealMetrics,
    emf_line,
};
pub use connect_states::{CONNECT_STATE_TTL_SECONDS, ConnectChannel, ConnectIntent, ConnectStates};
pub use connections::{
    AmazonConnection, ConnectionRef, ConnectionRepository, ConnectionSummary, PendingUnsubscribe,
    ShopifyConnection, ShopifyCredentials,
};
pub use deadlines::{DeadlineCursor, DeadlineEntry};
pub use error::RepoError;
pub use merchants::{MAX_COMPANY_NAME, MerchantRepository, Profile, RawContact, RawProfile};
pub use orders::{DeliveryMark, OrderRepository, PII_TTL_GRACE, SEALED_FIELDS, StoreOutcome};
pub use outbox::Outbox;
pub use pii_purge::{PiiRecord, StrippedPii, order_of_pii_key};
pub use privacy_requests::{PendingPrivacyRequest, PrivacyRequestRepository, PrivacyRequestView};
pub use random::random_hex;
pub use view::{BuyerPiiState, OrderView};
