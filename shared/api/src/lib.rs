//! The HTTP handlers shared by the Lambda functions and the local host: the Shopify webhook and
//! the merchant API. (Queue and schedule jobs are in `rc-jobs`.)
//!
//! Handlers take and return `http::Request<Bytes>` / `http::Response<Bytes>`: the Lambda glue
//! converts API Gateway events to these, the local host converts hyper's, and the handler code is
//! the same in both. Handlers are thin: they authenticate, parse, call a repository and map the
//! outcome to a status; every failure is an [`ApiError`] with a documented status and reason.

mod account_routes;
mod connect_routes;
mod connection_routes;
mod courier_webhook;
mod error;
mod export_routes;
mod fulfillment_routes;
mod inventory_routes;
mod key_routes;
mod merchant_api;
pub mod openapi;
mod order_routes;
mod privacy_routes;
mod response;
mod routing_routes;
mod scopes;
mod shopify_webhook;
mod tax_routes;
mod warehouse_routes;

pub use connect_routes::{AMAZON_CALLBACK, ConnectApi, SHOPIFY_CALLBACK, SHOPIFY_WEBHOOKS};
pub use courier_webhook::{CourierWebhook, MAX_TRACKING_BODY};
pub use error::ApiError;
pub use export_routes::ExportApi;
pub use fulfillment_routes::FulfillmentApi;
pub use inventory_routes::InventoryApi;
pub use merchant_api::{AccountApi, MAX_API_BODY, MerchantApi};
pub use privacy_routes::PrivacyApi;
pub use response::json;
pub use scopes::{ROUTE_SCOPES, RouteScope, scope_for, scopes_markdown};
pub use shopify_webhook::{MAX_WEBHOOK_BODY, ShopifyWebhook};
pub use tax_routes::TaxApi;

pub use bytes::Bytes;
pub use http::{Request, Response};
