//! In-memory channels implementing the ports, for the jobs' unit tests (feature `test-util`).
//!
//! They keep the state the real APIs keep — Shopify's quantity per level with its
//! compare-and-set, Amazon's listing quantities and its feeds processed later — and record every
//! call, so a test asserts what was sent, not just what came back. Faults are scripted per
//! operation and consumed in order: the next `n` calls of that operation fail.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use rc_domain::{MarketplaceId, MerchantId, Order, SellerId, ShopDomain};

use crate::FetchError;
use crate::amazon::{FeedState, ListingQuantity, PatchOutcome};
use crate::port::{
    AmazonInventorySink, AmazonOrdersSource, FetchedOrder, OrdersError, OrdersPage, SellerAccount,
    ShopAccount, ShopifyInventorySink, ShopifyOrdersSource,
};
use crate::shopify::{InventoryLevelRef, QuantityToSet, SetOutcome};

/// A failure the fake answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttled,
    Unavailable,
    Unauthorized,
}

impl Fault {
    fn error(self) -> FetchError {
        match self {
            Self::Throttled => FetchError::Throttled,
            Self::Unavailable => FetchError::Unavailable("fake channel down".into()),
            Self::Unauthorized => FetchError::Unauthorized(401),
        }
    }
}

/// Builds an order for a merchant (orders hold PII and are not `Clone`: the fake makes a new
/// one per read, as a real API answers each call afresh).
pub type OrderMaker = Box<dyn Fn(&MerchantId) -> Order + Send + Sync>;

/// One order per page, the cursor being the next index: every listing call pages.
fn one_per_page(orders: &[&OrderMaker], merchant: &MerchantId, page: Option<&str>) -> OrdersPage {
    let at: usize = page.and_then(|p| p.parse().ok()).unwrap_or(0);
    OrdersPage {
        orders: orders
            .get(at)
            .map(|make| Ok(make(merchant)))
            .into_iter()
            .collect(),
        next: (at + 1 < orders.len()).then(|| (at + 1).to_string()),
    }
}

#[derive(Default)]
struct Faults(HashMap<&'static str, VecDeque<Fault>>);

impl Faults {
    fn take(&mut self, operation: &'static str) -> Result<(), FetchError> {
        match self.0.get_mut(operation).and_then(VecDeque::pop_front) {
            Some(fault) => Err(fault.error()),
            None => Ok(()),
        }
    }
}

/// A listing on Amazon: seller, marketplace, seller SKU.
type ListingKey = (SellerId, MarketplaceId, String);

struct Feed {
    seller: SellerId,
    marketplace: MarketplaceId,
    /// (seller SKU, quantity) per message, message `i + 1` at index `i`.
    messages: Vec<(String, i64)>,
    processed: Option<BTreeMap<u32, String>>,
}

#[derive(Default)]
struct AmazonState {
    listings: BTreeMap<ListingKey, i64>,
    refused: BTreeMap<String, String>,
    feeds: BTreeMap<String, Feed>,
    orders: BTreeMap<String, (SellerId, OrderMaker)>,
    calls: Vec<String>,
    faults: Faults,
}

/// Amazon's Orders, Listings Items and Feeds APIs, in memory.
#[derive(Default)]
pub struct FakeAmazon {
    state: Mutex<AmazonState>,
}

impl FakeAmazon {
    fn with<T>(&self, f: impl FnOnce(&mut AmazonState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The next `times` calls of `operation` (`getOrder`, `searchOrders`, `patchListingsItem`,
    /// `createFeed`, `getFeed`) fail with `fault`.
    pub fn fail(&self, operation: &'static str, fault: Fault, times: usize) {
        self.with(|s| {
            s.faults
                .0
                .entry(operation)
                .or_default()
                .extend(std::iter::repeat_n(fault, times))
        });
    }

    /// Amazon refuses quantities for this seller SKU with `code`.
    pub fn refuse(&self, seller_sku: &str, code: &str) {
        self.with(|s| s.refused.insert(seller_sku.into(), code.into()));
    }

    /// An order the seller has on Amazon.
    pub fn add_order(&self, seller: &SellerId, amazon_order_id: &str, make: OrderMaker) {
        self.with(|s| {
            s.orders
                .insert(amazon_order_id.into(), (seller.clone(), make))
        });
    }

    /// The quantity Amazon holds for a listing.
    pub fn quantity(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        seller_sku: &str,
    ) -> Option<i64> {
        self.with(|s| {
            s.listings
                .get(&(seller.clone(), marketplace.clone(), seller_sku.into()))
                .copied()
        })
    }

    /// Every call so far, as `operation` or `operation:detail`.
    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    /// Amazon processes every submitted feed: quantities applied, refusals reported.
    pub fn process_feeds(&self) {
        self.with(|s| {
            let AmazonState {
                feeds,
                listings,
                refused,
                ..
            } = s;
            for feed in feeds.values_mut().filter(|f| f.processed.is_none()) {
                let mut issues = BTreeMap::new();
                for (i, (sku, quantity)) in feed.messages.iter().enumerate() {
                    match refused.get(sku) {
                        Some(code) => {
                            issues.insert(i as u32 + 1, code.clone());
                        }
                        None => {
                            listings.insert(
                                (feed.seller.clone(), feed.marketplace.clone(), sku.clone()),
                                *quantity,
                            );
                        }
                    }
                }
                feed.processed = Some(issues);
            }
        });
    }
}

#[async_trait]
impl AmazonOrdersSource for FakeAmazon {
    async fn order(
        &self,
        merchant: &MerchantId,
        account: SellerAccount<'_>,
        amazon_order_id: &str,
    ) -> Result<FetchedOrder, OrdersError> {
        self.with(|s| {
            s.calls.push(format!("getOrder:{amazon_order_id}"));
            s.faults.take("getOrder")?;
            match s.orders.get(amazon_order_id) {
                Some((seller, make)) if seller == account.seller => Ok(FetchedOrder {
                    order: make(merchant),
                    dropped: Vec::new(),
                }),
                _ => Err(FetchError::NotFound.into()),
            }
        })
    }

    /// Every order of the seller, one per page (pagination is exercised on every call).
    async fn orders_changed_since(
        &self,
        merchant: &MerchantId,
        account: SellerAccount<'_>,
        _marketplaces: &[MarketplaceId],
        _since: &str,
        page: Option<&str>,
    ) -> Result<OrdersPage, OrdersError> {
        self.with(|s| {
            s.calls.push("searchOrders".into());
            s.faults.take("searchOrders")?;
            let mine: Vec<&OrderMaker> = s
                .orders
                .values()
                .filter(|(seller, _)| seller == account.seller)
                .map(|(_, make)| make)
                .collect();
            Ok(one_per_page(&mine, merchant, page))
        })
    }
}

#[async_trait]
impl AmazonInventorySink for FakeAmazon {
    async fn set_listing_quantity(
        &self,
        account: SellerAccount<'_>,
        listing: &ListingQuantity<'_>,
    ) -> Result<PatchOutcome, FetchError> {
        self.with(|s| {
            s.calls
                .push(format!("patchListingsItem:{}", listing.seller_sku));
            s.faults.take("patchListingsItem")?;
            if let Some(code) = s.refused.get(listing.seller_sku) {
                return Ok(PatchOutcome::Refused(vec![code.clone()]));
            }
            s.listings.insert(
                (
                    account.seller.clone(),
                    listing.marketplace_id.clone(),
                    listing.seller_sku.into(),
                ),
                listing.quantity,
            );
            Ok(PatchOutcome::Accepted)
        })
    }

    async fn submit_quantities_feed(
        &self,
        account: SellerAccount<'_>,
        marketplace: &MarketplaceId,
        listings: &[ListingQuantity<'_>],
    ) -> Result<String, FetchError> {
        self.with(|s| {
            s.calls.push(format!("createFeed:{}", listings.len()));
            s.faults.take("createFeed")?;
            let id = format!("FEED{}", s.feeds.len() + 1);
            let messages = listings
                .iter()
                .map(|l| (l.seller_sku.to_owned(), l.quantity))
                .collect();
            s.feeds.insert(
                id.clone(),
                Feed {
                    seller: account.seller.clone(),
                    marketplace: marketplace.clone(),
                    messages,
                    processed: None,
                },
            );
            Ok(id)
        })
    }

    async fn feed_state(&self, account: SellerAccount<'_>, feed_id: &str) -> (FeedState, u64) {
        self.with(|s| {
            s.calls.push(format!("getFeed:{feed_id}"));
            if s.faults.take("getFeed").is_err() {
                return (FeedState::Processing, 1);
            }
            match s.feeds.get(feed_id) {
                Some(feed) if &feed.seller == account.seller => match &feed.processed {
                    Some(issues) => (FeedState::Done(issues.clone()), 2),
                    None => (FeedState::Processing, 1),
                },
                _ => (FeedState::Failed("getFeed answered 404".into()), 1),
            }
        })
    }
}

#[derive(Default)]
struct ShopifyState {
    levels: BTreeMap<(ShopDomain, InventoryLevelRef), i64>,
    refused: BTreeMap<u64, String>,
    orders: Vec<(ShopDomain, OrderMaker)>,
    calls: Vec<String>,
    faults: Faults,
}

/// Shopify's Admin API (orders, inventory levels), in memory.
#[derive(Default)]
pub struct FakeShopify {
    state: Mutex<ShopifyState>,
}

impl FakeShopify {
    fn with<T>(&self, f: impl FnOnce(&mut ShopifyState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The next `times` calls of `operation` (`orders`, `inventorySetQuantities`,
    /// `inventoryLevels`) fail with `fault`.
    pub fn fail(&self, operation: &'static str, fault: Fault, times: usize) {
        self.with(|s| {
            s.faults
                .0
                .entry(operation)
                .or_default()
                .extend(std::iter::repeat_n(fault, times))
        });
    }

    /// Sets what Shopify holds for a level (a sale there, a manual edit).
    pub fn hold(&self, shop: &ShopDomain, level: InventoryLevelRef, quantity: i64) {
        self.with(|s| s.levels.insert((shop.clone(), level), quantity));
    }

    /// What Shopify holds for a level.
    pub fn held(&self, shop: &ShopDomain, level: InventoryLevelRef) -> Option<i64> {
        self.with(|s| s.levels.get(&(shop.clone(), level)).copied())
    }

    /// Shopify refuses quantities for this inventory item with `code`.
    pub fn refuse(&self, inventory_item_id: u64, code: &str) {
        self.with(|s| s.refused.insert(inventory_item_id, code.into()));
    }

    /// An order of the shop.
    pub fn add_order(&self, shop: &ShopDomain, make: OrderMaker) {
        self.with(|s| s.orders.push((shop.clone(), make)));
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }
}

#[async_trait]
impl ShopifyOrdersSource for FakeShopify {
    /// Every order of the shop, one per page.
    async fn orders_changed_since(
        &self,
        merchant: &MerchantId,
        account: ShopAccount<'_>,
        _since: &str,
        page: Option<&str>,
    ) -> Result<OrdersPage, OrdersError> {
        self.with(|s| {
            s.calls.push("orders".into());
            s.faults.take("orders")?;
            let mine: Vec<&OrderMaker> = s
                .orders
                .iter()
                .filter(|(shop, _)| shop == account.shop)
                .map(|(_, make)| make)
                .collect();
            Ok(one_per_page(&mine, merchant, page))
        })
    }
}

#[async_trait]
impl ShopifyInventorySink for FakeShopify {
    /// All or nothing, like `inventorySetQuantities`: refused codes first, then every
    /// `changeFromQuantity` compared, then every quantity applied.
    async fn set_available(
        &self,
        account: ShopAccount<'_>,
        quantities: &[QuantityToSet],
        _reference: &str,
    ) -> Result<SetOutcome, FetchError> {
        self.with(|s| {
            s.calls
                .push(format!("inventorySetQuantities:{}", quantities.len()));
            s.faults.take("inventorySetQuantities")?;
            let codes: Vec<String> = quantities
                .iter()
                .filter_map(|q| s.refused.get(&q.level.inventory_item_id).cloned())
                .collect();
            if !codes.is_empty() {
                return Ok(SetOutcome::Refused(codes));
            }
            let stale = quantities.iter().any(|q| {
                let held = s.levels.get(&(account.shop.clone(), q.level)).copied();
                q.change_from.is_some() && q.change_from != held
            });
            if stale {
                return Ok(SetOutcome::Stale);
            }
            for q in quantities {
                s.levels.insert((account.shop.clone(), q.level), q.quantity);
            }
            Ok(SetOutcome::Applied)
        })
    }

    async fn available(
        &self,
        account: ShopAccount<'_>,
        levels: &[InventoryLevelRef],
    ) -> Result<BTreeMap<InventoryLevelRef, i64>, FetchError> {
        self.with(|s| {
            s.calls.push("inventoryLevels".into());
            s.faults.take("inventoryLevels")?;
            Ok(levels
                .iter()
                .filter_map(|level| {
                    s.levels
                        .get(&(account.shop.clone(), *level))
                        .map(|q| (*level, *q))
                })
                .collect())
        })
    }
}
