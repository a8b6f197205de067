//! Amazon Selling Partner API: ORDER_CHANGE notifications, the Orders API v2026-01-01 `getOrder`
//! (which returns buyer and recipient PII with `includedData`, no Restricted Data Token needed),
//! and Login with Amazon access tokens.

mod authorization;
mod client;
mod confirm;
mod feeds;
mod listings;
mod notification;
mod order_payload;
mod orders;
mod rate_limit;
mod shipping;

pub use authorization::{NOTIFICATIONS_SCOPE, ORDER_CHANGE, consent_url};
pub use client::{Endpoints, FetchError, RetryPolicy, SpApiClient};
pub use confirm::PackageConfirmation;
// Value types of the domain, re-exported because every SP-API call takes them.
pub use feeds::{FEED_CONTENT_TYPE, FeedState, MAX_FEED_MESSAGES};
pub use listings::{ListingQuantity, PatchOutcome};
pub use notification::{OrderChange, parse_notification};
pub use order_payload::{INCLUDED_DATA, SearchedOrder, parse_get_order, parse_search_orders};
pub use rate_limit::TokenBucket;
pub use rc_domain::{LwaCredentials as Credentials, MarketplaceId, Region, SellerId};
pub use shipping::{ShippingCall, shipping_business};
