//! Shopify: webhook authentication and the REST order payload.

mod admin;
mod compliance;
mod fulfillment;
mod inventory;
mod oauth;
mod order_payload;
mod signature;

pub use admin::{ADMIN_API_VERSION, ShopifyAdmin};
pub use compliance::{MAX_ORDERS_PER_REQUEST, parse_compliance};
pub use fulfillment::{
    FULFILLMENT_CREATE, FulfillmentOrder, FulfillmentOrderLine, FulfillmentOrderLines,
    FulfillmentOutcome, ORDER_FULFILLMENT_QUERY, OrderFulfillment, TRACKING_UPDATE, TrackingInfo,
};
pub use inventory::{InventoryLevelRef, MAX_QUANTITIES_PER_CALL, QuantityToSet, SetOutcome};
pub use oauth::{
    Callback, CallbackError, GrantedToken, WEBHOOK_TOPICS, authorize_url, query_pairs,
    scopes_cover, sign_callback, unique_query_pairs, verify_callback,
};
pub use order_payload::{MAX_LINES, ParsedOrder, PayloadError, parse_order};
// The shop's domain is a domain type; re-exported because every Shopify call takes one.
pub use rc_domain::{ComplianceKind, ComplianceRequest, ShopDomain, ShopDomainError};
pub use signature::{sign, verify, verify_for_nobody};

/// Webhook headers Shopify sends (lower case, as HTTP/2 and API Gateway deliver them).
pub mod headers {
    pub const HMAC: &str = "x-shopify-hmac-sha256";
    pub const TOPIC: &str = "x-shopify-topic";
    pub const SHOP_DOMAIN: &str = "x-shopify-shop-domain";
    pub const WEBHOOK_ID: &str = "x-shopify-webhook-id";
    pub const API_VERSION: &str = "x-shopify-api-version";
    pub const TRIGGERED_AT: &str = "x-shopify-triggered-at";
}
