//! The ports: one trait per remote capability of a channel, with typed requests, answers and
//! errors per operation. Jobs hold `Arc<dyn …>` of these and never see a URL, a JSON body or a
//! status code; the HTTP clients in [`crate::amazon`] and [`crate::shopify`] implement them, and
//! the in-memory channels in `rc_channels::fake` (feature `test-util`) implement them for the
//! jobs' unit tests.
//!
//! | capability        | Amazon (SP-API)                         | Shopify (Admin API)          |
//! |-------------------|-----------------------------------------|------------------------------|
//! | orders source     | [`AmazonOrdersSource`]: getOrder, searchOrders | [`ShopifyOrdersSource`]: orders.json |
//! | inventory sink    | [`AmazonInventorySink`]: patchListingsItem, listings feeds | [`ShopifyInventorySink`]: inventorySetQuantities |
//!
//! | shipment confirmation | [`AmazonShipmentConfirmation`]: confirmShipment (Orders v0) | [`ShopifyFulfillment`]: fulfillment orders, fulfillmentCreate, fulfillmentTrackingInfoUpdate |
//!
//! Label purchase and tracking have their own port, by courier (`rc_couriers::LabelPurchaser`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use rc_domain::{
    LwaCredentials, MarketplaceId, MerchantId, Order, Secret, SecretText, SellerId, ShopDomain,
};

use crate::FetchError;
use crate::amazon::{FeedState, ListingQuantity, PackageConfirmation, PatchOutcome, SpApiClient};
use crate::shopify::{
    FulfillmentOrderLines, FulfillmentOutcome, InventoryLevelRef, OrderFulfillment, PayloadError,
    QuantityToSet, SetOutcome, ShopifyAdmin, TrackingInfo,
};

/// A selling partner as the SP-API addresses it: the seller and its authorization of us.
#[derive(Clone, Copy)]
pub struct SellerAccount<'a> {
    pub seller: &'a SellerId,
    pub credentials: &'a LwaCredentials,
}

/// A shop as the Admin API addresses it: its domain and our access token.
#[derive(Clone, Copy)]
pub struct ShopAccount<'a> {
    pub shop: &'a ShopDomain,
    pub access_token: &'a Secret<SecretText>,
}

/// An order read from a channel, sealed-ready, and the optional PII fields it dropped as
/// malformed (names only).
pub struct FetchedOrder {
    pub order: Order,
    pub dropped: Vec<&'static str>,
}

/// One page of orders changed since a moment. Each order parsed on its own: one a channel sends
/// malformed is refused by reason without losing the page.
pub struct OrdersPage {
    pub orders: Vec<Result<Order, PayloadError>>,
    /// The next page's cursor, if any.
    pub next: Option<String>,
}

/// Why reading orders failed: the call, or an answer that is not what the API documents.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("answer: {0}")]
    Answer(PayloadError),
}

impl OrdersError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Fetch(e) => e.is_retryable(),
            Self::Answer(_) => false,
        }
    }
}

/// Where orders come from on Amazon: the Orders API.
#[async_trait]
pub trait AmazonOrdersSource: Send + Sync {
    /// One order (`getOrder`), as the merchant's.
    async fn order(
        &self,
        merchant: &MerchantId,
        account: SellerAccount<'_>,
        amazon_order_id: &str,
    ) -> Result<FetchedOrder, OrdersError>;

    /// The orders changed since `since` (RFC 3339) in `marketplaces` (`searchOrders`), a page
    /// at a time.
    async fn orders_changed_since(
        &self,
        merchant: &MerchantId,
        account: SellerAccount<'_>,
        marketplaces: &[MarketplaceId],
        since: &str,
        page: Option<&str>,
    ) -> Result<OrdersPage, OrdersError>;
}

/// Where orders come from on Shopify: the Admin API's order list.
#[async_trait]
pub trait ShopifyOrdersSource: Send + Sync {
    /// The orders updated since `since` (RFC 3339), a page at a time.
    async fn orders_changed_since(
        &self,
        merchant: &MerchantId,
        account: ShopAccount<'_>,
        since: &str,
        page: Option<&str>,
    ) -> Result<OrdersPage, OrdersError>;
}

/// Where Amazon listing quantities go: one listing at a time, or many in a feed.
#[async_trait]
pub trait AmazonInventorySink: Send + Sync {
    /// Sets one merchant-fulfilled listing's quantity.
    async fn set_listing_quantity(
        &self,
        account: SellerAccount<'_>,
        listing: &ListingQuantity<'_>,
    ) -> Result<PatchOutcome, FetchError>;

    /// Submits up to `MAX_FEED_MESSAGES` quantities in one feed; message `i + 1` carries
    /// `listings[i]`. Returns the feed id.
    async fn submit_quantities_feed(
        &self,
        account: SellerAccount<'_>,
        marketplace: &MarketplaceId,
        listings: &[ListingQuantity<'_>],
    ) -> Result<String, FetchError>;

    /// Where a submitted feed stands, and the calls it took to find out.
    async fn feed_state(&self, account: SellerAccount<'_>, feed_id: &str) -> (FeedState, u64);
}

/// Where Shopify inventory quantities go: `available` per inventory item and location.
#[async_trait]
pub trait ShopifyInventorySink: Send + Sync {
    /// Sets up to `MAX_QUANTITIES_PER_CALL` quantities, each guarded by what Shopify should
    /// hold now; all or nothing.
    async fn set_available(
        &self,
        account: ShopAccount<'_>,
        quantities: &[QuantityToSet],
        reference: &str,
    ) -> Result<SetOutcome, FetchError>;

    /// What Shopify holds now for `levels`.
    async fn available(
        &self,
        account: ShopAccount<'_>,
        levels: &[InventoryLevelRef],
    ) -> Result<BTreeMap<InventoryLevelRef, i64>, FetchError>;
}

#[async_trait]
impl AmazonOrdersSource for SpApiClient {
    async fn order(
        &self,
        merchant: &MerchantId,
        account: SellerAccount<'_>,
        amazon_order_id: &str,
    ) -> Result<FetchedOrder, OrdersError> {
        let raw = self
            .get_order(account.seller, account.credentials, amazon_order_id)
            .await?;
        let (order, dropped) =
            crate::amazon::parse_get_order(merchant, &raw).map_err(OrdersError::Answer)?;
        Ok(FetchedOrder { order, dropped })
    }

    async fn orders_changed_since(
        &self,
        merchant: &MerchantId,
        account: SellerAccount<'_>,
        marketplaces: &[MarketplaceId],
        since: &str,
        page: Option<&str>,
    ) -> Result<OrdersPage, OrdersError> {
        let body = self
            .search_orders(
                account.seller,
                account.credentials,
                marketplaces,
                since,
                page,
            )
            .await?;
        let (orders, next) =
            crate::amazon::parse_search_orders(merchant, &body).map_err(OrdersError::Answer)?;
        Ok(OrdersPage {
            orders: orders
                .into_iter()
                .map(|order| order.map(|(order, _)| order))
                .collect(),
            next,
        })
    }
}

#[async_trait]
impl ShopifyOrdersSource for ShopifyAdmin {
    async fn orders_changed_since(
        &self,
        merchant: &MerchantId,
        account: ShopAccount<'_>,
        since: &str,
        page: Option<&str>,
    ) -> Result<OrdersPage, OrdersError> {
        let (raw, next) = self
            .orders_updated_since(account.shop, account.access_token, since, page)
            .await?;
        let orders = raw
            .iter()
            .map(|raw| crate::shopify::parse_order(merchant, raw).map(|parsed| parsed.order))
            .collect();
        Ok(OrdersPage { orders, next })
    }
}

#[async_trait]
impl AmazonInventorySink for SpApiClient {
    async fn set_listing_quantity(
        &self,
        account: SellerAccount<'_>,
        listing: &ListingQuantity<'_>,
    ) -> Result<PatchOutcome, FetchError> {
        SpApiClient::set_listing_quantity(self, account.seller, account.credentials, listing).await
    }

    async fn submit_quantities_feed(
        &self,
        account: SellerAccount<'_>,
        marketplace: &MarketplaceId,
        listings: &[ListingQuantity<'_>],
    ) -> Result<String, FetchError> {
        SpApiClient::submit_quantities_feed(
            self,
            account.seller,
            account.credentials,
            marketplace,
            listings,
        )
        .await
    }

    async fn feed_state(&self, account: SellerAccount<'_>, feed_id: &str) -> (FeedState, u64) {
        SpApiClient::feed_state(self, account.seller, account.credentials, feed_id).await
    }
}

#[async_trait]
impl ShopifyInventorySink for ShopifyAdmin {
    async fn set_available(
        &self,
        account: ShopAccount<'_>,
        quantities: &[QuantityToSet],
        reference: &str,
    ) -> Result<SetOutcome, FetchError> {
        ShopifyAdmin::set_available(
            self,
            account.shop,
            account.access_token,
            quantities,
            reference,
        )
        .await
    }

    async fn available(
        &self,
        account: ShopAccount<'_>,
        levels: &[InventoryLevelRef],
    ) -> Result<BTreeMap<InventoryLevelRef, i64>, FetchError> {
        ShopifyAdmin::available(self, account.shop, account.access_token, levels).await
    }
}

/// Telling Amazon a package shipped: Orders v0 `confirmShipment` (an upsert per
/// `packageReferenceId`).
#[async_trait]
pub trait AmazonShipmentConfirmation: Send + Sync {
    async fn confirm_shipment(
        &self,
        account: SellerAccount<'_>,
        package: &PackageConfirmation,
    ) -> Result<(), FetchError>;
}

#[async_trait]
impl AmazonShipmentConfirmation for SpApiClient {
    async fn confirm_shipment(
        &self,
        account: SellerAccount<'_>,
        package: &PackageConfirmation,
    ) -> Result<(), FetchError> {
        SpApiClient::confirm_shipment(self, account.seller, account.credentials, package).await
    }
}

/// Deleting a seller's notification subscription (Notifications API, grantless): what a
/// removed Amazon connection leaves to do.
#[async_trait]
pub trait AmazonSubscriptions: Send + Sync {
    async fn delete_order_change_subscription(
        &self,
        app: &rc_domain::AmazonApp,
        region: rc_domain::Region,
        subscription_id: &str,
    ) -> Result<(), FetchError>;
}

#[async_trait]
impl AmazonSubscriptions for SpApiClient {
    async fn delete_order_change_subscription(
        &self,
        app: &rc_domain::AmazonApp,
        region: rc_domain::Region,
        subscription_id: &str,
    ) -> Result<(), FetchError> {
        SpApiClient::delete_order_change_subscription(self, app, region, subscription_id).await
    }
}

/// Fulfilling a Shopify order: its fulfillment orders, `fulfillmentCreate`,
/// `fulfillmentTrackingInfoUpdate`.
#[async_trait]
pub trait ShopifyFulfillment: Send + Sync {
    async fn order_fulfillment(
        &self,
        account: ShopAccount<'_>,
        order_id: u64,
    ) -> Result<OrderFulfillment, FetchError>;

    async fn create_fulfillment(
        &self,
        account: ShopAccount<'_>,
        lines: &FulfillmentOrderLines,
        tracking: &TrackingInfo,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome, FetchError>;

    async fn update_tracking(
        &self,
        account: ShopAccount<'_>,
        fulfillment_id: &str,
        tracking: &TrackingInfo,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome, FetchError>;
}

#[async_trait]
impl ShopifyFulfillment for ShopifyAdmin {
    async fn order_fulfillment(
        &self,
        account: ShopAccount<'_>,
        order_id: u64,
    ) -> Result<OrderFulfillment, FetchError> {
        ShopifyAdmin::order_fulfillment(self, account.shop, account.access_token, order_id).await
    }

    async fn create_fulfillment(
        &self,
        account: ShopAccount<'_>,
        lines: &FulfillmentOrderLines,
        tracking: &TrackingInfo,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome, FetchError> {
        ShopifyAdmin::create_fulfillment(
            self,
            account.shop,
            account.access_token,
            lines,
            tracking,
            notify_customer,
        )
        .await
    }

    async fn update_tracking(
        &self,
        account: ShopAccount<'_>,
        fulfillment_id: &str,
        tracking: &TrackingInfo,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome, FetchError> {
        ShopifyAdmin::update_tracking(
            self,
            account.shop,
            account.access_token,
            fulfillment_id,
            tracking,
            notify_customer,
        )
        .await
    }
}
