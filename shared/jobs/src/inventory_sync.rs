//! Pushing available-to-sell quantities to the channels. For changed SKUs (and the kits made of
//! them): compute each listing's quantity, and send only those that differ from what was last
//! pushed — to Shopify with `inventorySetQuantities`, 250 levels per call, guarded by
//! `changeFromQuantity` and recovered once when Shopify holds something else; to Amazon with
//! `patchListingsItem` on `fulfillment_availability`, paced at its 5 requests per second — or,
//! when at least [`FEED_THRESHOLD`] listings of one seller and marketplace change at once, one
//! `JSON_LISTINGS_FEED` (three calls for up to 25,000 listings), whose processing report a later
//! run reads before marking the quantities pushed. Each
//! channel (and each shop or seller) is pushed on its own: one failing never blocks another, and
//! a failure is recorded on the listing and retried by the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rc_channels::amazon::{FeedState, ListingQuantity, PatchOutcome};
use rc_channels::port::{AmazonInventorySink, SellerAccount, ShopAccount, ShopifyInventorySink};
use rc_channels::shopify::{InventoryLevelRef, MAX_QUANTITIES_PER_CALL, QuantityToSet, SetOutcome};
use rc_domain::{MarketplaceId, MerchantId, SellerId, ShopDomain, Sku};
use rc_inventory::{
    InventoryError, Listing, ListingRepository, ListingTarget, PendingFeed, StockRepository,
};
use rc_orders::ConnectionRepository;
use serde::Serialize;

/// Changed Amazon listings of one seller and marketplace from which a feed is sent instead of
/// one `patchListingsItem` each: 50 patches take 10 s at 5 per second; a feed takes 3 calls.
pub const FEED_THRESHOLD: usize = 50;
pub use rc_channels::amazon::MAX_FEED_MESSAGES;

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub skus: u64,
    pub listings: u64,
    pub unchanged: u64,
    pub pushed: u64,
    pub shopify_calls: u64,
    pub amazon_calls: u64,
    /// Listings submitted in feeds, awaiting their processing report.
    pub in_feeds: u64,
    /// (sku, channel, problem): recorded on the listing, retried next run.
    pub failed: Vec<(String, String, String)>,
}

/// One listing whose channel quantity must change.
struct Push {
    listing: Listing,
    quantity: i64,
}

pub struct InventorySync {
    stock: Arc<StockRepository>,
    listings: Arc<ListingRepository>,
    connections: Arc<ConnectionRepository>,
    shopify: Arc<dyn ShopifyInventorySink>,
    amazon: Arc<dyn AmazonInventorySink>,
}

impl InventorySync {
    pub fn new(
        stock: Arc<StockRepository>,
        listings: Arc<ListingRepository>,
        connections: Arc<ConnectionRepository>,
        shopify: Arc<dyn ShopifyInventorySink>,
        amazon: Arc<dyn AmazonInventorySink>,
    ) -> Self {
        Self {
            stock,
            listings,
            connections,
            shopify,
            amazon,
        }
    }

    /// Pushes what changed for `skus` of one merchant (and every kit made of them).
    pub async fn sync(
        &self,
        merchant: &MerchantId,
        skus: &[Sku],
    ) -> Result<SyncReport, InventoryError> {
        let mut all: BTreeSet<Sku> = skus.iter().cloned().collect();
        for sku in skus {
            all.extend(self.stock.kits_containing(merchant, sku).await?);
        }
        let mut report = SyncReport {
            skus: all.len() as u64,
            ..SyncReport::default()
        };
        let mut shopify: BTreeMap<ShopDomain, Vec<Push>> = BTreeMap::new();
        let mut amazon: BTreeMap<(SellerId, MarketplaceId), Vec<Push>> = BTreeMap::new();
        let mut feeds = FeedReports::default();
        for sku in &all {
            let free = self.stock.available(merchant, sku).await?;
            for listing in self.listings.of_sku(merchant, sku).await? {
                report.listings += 1;
                let listing = match self
                    .settle_feed(merchant, listing, &mut feeds, &mut report)
                    .await?
                {
                    Settled::Ready(listing) => *listing,
                    // Still in a feed being processed: its report decides.
                    Settled::Waiting => {
                        report.in_feeds += 1;
                        continue;
                    }
                };
                let quantity = listing.allocation.available_to_sell(free);
                if listing.last_pushed == Some(quantity) && listing.last_error.is_none() {
                    report.unchanged += 1;
                    continue;
                }
                let push = Push { listing, quantity };
                match &push.listing.target {
                    ListingTarget::Shopify { shop, .. } => {
                        shopify.entry(shop.clone()).or_default().push(push)
                    }
                    ListingTarget::Amazon {
                        seller_id,
                        marketplace_id,
                        ..
                    } => amazon
                        .entry((seller_id.clone(), marketplace_id.clone()))
                        .or_default()
                        .push(push),
                }
            }
        }
        for (shop, pushes) in shopify {
            self.push_shopify(merchant, &shop, pushes, &mut report)
                .await?;
        }
        for ((seller, marketplace), pushes) in amazon {
            if pushes.len() >= FEED_THRESHOLD {
                self.feed_amazon(merchant, &seller, &marketplace, pushes, &mut report)
                    .await?;
            } else {
                self.push_amazon(merchant, &seller, pushes, &mut report)
                    .await?;
            }
        }
        Ok(report)
    }

    /// Every SKU of every merchant with a connection: the scheduled full reconciliation.
    pub async fn sync_all(&self) -> Result<SyncReport, InventoryError> {
        let mut merchants = BTreeSet::new();
        let mut after = None;
        loop {
            let page = self
                .connections
                .all(100, after)
                .await
                .map_err(|_| InventoryError::Corrupt("connection index"))?;
            merchants.extend(page.items.into_iter().map(|c| c.merchant));
            match page.next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        let mut total = SyncReport::default();
        for merchant in merchants {
            let skus = self.stock.skus(&merchant).await?;
            let report = self.sync(&merchant, &skus).await?;
            total.skus += report.skus;
            total.listings += report.listings;
            total.unchanged += report.unchanged;
            total.pushed += report.pushed;
            total.shopify_calls += report.shopify_calls;
            total.amazon_calls += report.amazon_calls;
            total.in_feeds += report.in_feeds;
            total.failed.extend(report.failed);
        }
        Ok(total)
    }

    async fn fail_all(
        &self,
        merchant: &MerchantId,
        pushes: &[Push],
        channel: &str,
        problem: &str,
        report: &mut SyncReport,
    ) -> Result<(), InventoryError> {
        for push in pushes {
            tracing::warn!(%merchant, sku = %push.listing.sku.as_str(), channel, problem, "inventory push failed; retried next run");
            self.listings
                .record_failure(merchant, &push.listing, problem)
                .await?;
            report.failed.push((
                push.listing.sku.as_str().to_owned(),
                channel.to_owned(),
                problem.to_owned(),
            ));
        }
        Ok(())
    }

    async fn push_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
        pushes: Vec<Push>,
        report: &mut SyncReport,
    ) -> Result<(), InventoryError> {
        let read = self.connections.shopify(shop).await;
        let connection = match owned(read, merchant, |c| &c.merchant, "shop_not_connected") {
            Ok(connection) => connection,
            Err(problem) => {
                return self
                    .fail_all(merchant, &pushes, "shopify", problem, report)
                    .await;
            }
        };
        let Some(access_token) = &connection.access_token else {
            return self
                .fail_all(merchant, &pushes, "shopify", "no_access_token", report)
                .await;
        };
        let account = ShopAccount { shop, access_token };
        // Grouped by shop, so every push here is a Shopify listing.
        let (pushes, levels): (Vec<Push>, Vec<InventoryLevelRef>) = pushes
            .into_iter()
            .filter_map(|push| {
                let level = match push.listing.target {
                    ListingTarget::Shopify {
                        location_id,
                        inventory_item_id,
                        ..
                    } => InventoryLevelRef {
                        inventory_item_id,
                        location_id,
                    },
                    ListingTarget::Amazon { .. } => return None,
                };
                Some((push, level))
            })
            .unzip();
        let chunks = pushes
            .chunks(MAX_QUANTITIES_PER_CALL)
            .zip(levels.chunks(MAX_QUANTITIES_PER_CALL));
        for (chunk, chunk_levels) in chunks {
            let mut quantities: Vec<QuantityToSet> = chunk
                .iter()
                .zip(chunk_levels)
                .map(|(push, level)| QuantityToSet {
                    level: *level,
                    quantity: push.quantity,
                    change_from: push.listing.last_pushed,
                })
                .collect();
            let reference = format!("gid://retailcoder/InventorySync/{merchant}");
            let mut outcome = self
                .shopify
                .set_available(account, &quantities, &reference)
                .await;
            report.shopify_calls += 1;
            if matches!(outcome, Ok(SetOutcome::Stale)) {
                // Shopify holds other quantities (a sale there, a manual edit): read them and
                // set ours from there, once.
                let levels: Vec<InventoryLevelRef> = quantities.iter().map(|q| q.level).collect();
                let held = self.shopify.available(account, &levels).await;
                report.shopify_calls += 1;
                outcome = match held {
                    Ok(held) => {
                        for q in &mut quantities {
                            q.change_from = held.get(&q.level).copied();
                        }
                        report.shopify_calls += 1;
                        self.shopify
                            .set_available(account, &quantities, &reference)
                            .await
                    }
                    Err(e) => Err(e),
                };
            }
            match outcome {
                Ok(SetOutcome::Applied) => {
                    for push in chunk {
                        self.listings
                            .record_pushed(merchant, &push.listing, push.quantity)
                            .await?;
                        report.pushed += 1;
                    }
                }
                Ok(SetOutcome::Stale) => {
                    self.fail_all(
                        merchant,
                        chunk,
                        "shopify",
                        "changed_on_shopify_meanwhile",
                        report,
                    )
                    .await?
                }
                Ok(SetOutcome::Refused(codes)) => {
                    let problem = format!("refused: {}", codes.join(","));
                    self.fail_all(merchant, chunk, "shopify", &problem, report)
                        .await?
                }
                Err(e) => {
                    self.fail_all(merchant, chunk, "shopify", &e.to_string(), report)
                        .await?
                }
            }
        }
        Ok(())
    }

    /// The merchant's connection of `seller`; when there is none (or it cannot be read), every
    /// push is recorded as failed and `None` returned.
    async fn seller(
        &self,
        merchant: &MerchantId,
        seller: &SellerId,
        pushes: &[Push],
        report: &mut SyncReport,
    ) -> Result<Option<Arc<rc_orders::AmazonConnection>>, InventoryError> {
        let read = self.connections.amazon(seller).await;
        match owned(read, merchant, |c| &c.merchant, "seller_not_connected") {
            Ok(connection) => Ok(Some(connection)),
            Err(problem) => {
                self.fail_all(merchant, pushes, "amazon", problem, report)
                    .await?;
                Ok(None)
            }
        }
    }

    async fn push_amazon(
        &self,
        merchant: &MerchantId,
        seller: &SellerId,
        pushes: Vec<Push>,
        report: &mut SyncReport,
    ) -> Result<(), InventoryError> {
        let Some(connection) = self.seller(merchant, seller, &pushes, report).await? else {
            return Ok(());
        };
        for push in pushes {
            let ListingTarget::Amazon {
                marketplace_id,
                seller_sku,
                product_type,
                ..
            } = &push.listing.target
            else {
                continue;
            };
            report.amazon_calls += 1;
            let listing = ListingQuantity {
                seller_sku,
                marketplace_id,
                product_type,
                quantity: push.quantity,
            };
            let problem = match self
                .amazon
                .set_listing_quantity(
                    SellerAccount {
                        seller,
                        credentials: &connection.credentials,
                    },
                    &listing,
                )
                .await
            {
                Ok(PatchOutcome::Accepted) => {
                    self.listings
                        .record_pushed(merchant, &push.listing, push.quantity)
                        .await?;
                    report.pushed += 1;
                    continue;
                }
                Ok(PatchOutcome::Refused(codes)) => format!("refused: {}", codes.join(",")),
                Err(e) => e.to_string(),
            };
            self.fail_all(
                merchant,
                std::slice::from_ref(&push),
                "amazon",
                &problem,
                report,
            )
            .await?;
        }
        Ok(())
    }
    /// A listing whose quantity went out in a feed: settled from the feed's processing report
    /// once Amazon has processed it (pushed, or failed with the report's issue codes).
    async fn settle_feed(
        &self,
        merchant: &MerchantId,
        mut listing: Listing,
        feeds: &mut FeedReports,
        report: &mut SyncReport,
    ) -> Result<Settled, InventoryError> {
        let (Some(pending), ListingTarget::Amazon { seller_id, .. }) =
            (listing.pending.clone(), &listing.target)
        else {
            return Ok(Settled::Ready(Box::new(listing)));
        };
        let outcome = match feeds.0.get(&pending.feed_id) {
            Some(outcome) => outcome.clone(),
            None => {
                let outcome = self
                    .read_feed(merchant, seller_id, &pending.feed_id, report)
                    .await;
                feeds.0.insert(pending.feed_id.clone(), outcome.clone());
                outcome
            }
        };
        let problem = match outcome {
            FeedState::Processing => return Ok(Settled::Waiting),
            FeedState::Done(issues) => match issues.get(&pending.message_id) {
                Some(codes) => format!("refused in feed: {codes}"),
                None => {
                    self.listings
                        .record_pushed(merchant, &listing, pending.quantity)
                        .await?;
                    report.pushed += 1;
                    listing.last_pushed = Some(pending.quantity);
                    listing.last_error = None;
                    listing.pending = None;
                    return Ok(Settled::Ready(Box::new(listing)));
                }
            },
            FeedState::Failed(problem) => problem,
        };
        self.listings
            .record_failure(merchant, &listing, &problem)
            .await?;
        report.failed.push((
            listing.sku.as_str().to_owned(),
            "amazon".into(),
            problem.clone(),
        ));
        listing.last_error = Some(problem);
        listing.pending = None;
        Ok(Settled::Ready(Box::new(listing)))
    }

    /// A feed's state: processing, done with its issues per message, or failed.
    async fn read_feed(
        &self,
        merchant: &MerchantId,
        seller: &SellerId,
        feed_id: &str,
        report: &mut SyncReport,
    ) -> FeedState {
        let read = self.connections.amazon(seller).await;
        let connection = match owned(read, merchant, |c| &c.merchant, "seller_not_connected") {
            Ok(connection) => connection,
            // Unreadable now: the feed stays pending and is read again next run.
            Err(UNREADABLE) => return FeedState::Processing,
            Err(problem) => return FeedState::Failed(problem.into()),
        };
        let (state, calls) = self
            .amazon
            .feed_state(
                SellerAccount {
                    seller,
                    credentials: &connection.credentials,
                },
                feed_id,
            )
            .await;
        report.amazon_calls += calls;
        state
    }

    /// One `JSON_LISTINGS_FEED` per 25,000 changed listings of a seller in a marketplace.
    async fn feed_amazon(
        &self,
        merchant: &MerchantId,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        pushes: Vec<Push>,
        report: &mut SyncReport,
    ) -> Result<(), InventoryError> {
        let Some(connection) = self.seller(merchant, seller, &pushes, report).await? else {
            return Ok(());
        };
        for chunk in pushes.chunks(MAX_FEED_MESSAGES) {
            let listings: Vec<ListingQuantity> = chunk
                .iter()
                .filter_map(|push| match &push.listing.target {
                    ListingTarget::Amazon {
                        seller_sku,
                        product_type,
                        ..
                    } => Some(ListingQuantity {
                        seller_sku,
                        marketplace_id: marketplace,
                        product_type,
                        quantity: push.quantity,
                    }),
                    ListingTarget::Shopify { .. } => None,
                })
                .collect();
            report.amazon_calls += 3;
            let submitted = self
                .amazon
                .submit_quantities_feed(
                    SellerAccount {
                        seller,
                        credentials: &connection.credentials,
                    },
                    marketplace,
                    &listings,
                )
                .await;
            match submitted {
                Ok(feed_id) => {
                    for (i, push) in chunk.iter().enumerate() {
                        let pending = PendingFeed {
                            feed_id: feed_id.clone(),
                            message_id: i as u32 + 1,
                            quantity: push.quantity,
                        };
                        self.listings
                            .record_feed_submitted(merchant, &push.listing, &pending)
                            .await?;
                        report.in_feeds += 1;
                    }
                }
                Err(e) => {
                    self.fail_all(merchant, chunk, "amazon", &e.to_string(), report)
                        .await?
                }
            }
        }
        Ok(())
    }
}

/// What became of a listing that may be in a feed.
enum Settled {
    /// Not in a feed, its feed applied it, or its feed refused it (recorded, and sent again
    /// alone: a patch gets the listing its own verdict).
    Ready(Box<Listing>),
    /// Its feed is still being processed.
    Waiting,
}

/// Feeds read in this run (one `getFeed` per feed, not per listing).
#[derive(Default)]
struct FeedReports(BTreeMap<String, FeedState>);

/// A connection read failed (throttled, store down): never taken for "not connected".
const UNREADABLE: &str = "connection_unreadable";

/// The connection, if it is the merchant's; otherwise why not: `missing` when there is none (or
/// it is another merchant's), [`UNREADABLE`] when it could not be read (retried next run).
fn owned<C>(
    read: Result<Option<Arc<C>>, rc_orders::RepoError>,
    merchant: &MerchantId,
    owner: impl Fn(&C) -> &MerchantId,
    missing: &'static str,
) -> Result<Arc<C>, &'static str> {
    match read {
        Ok(Some(connection)) if owner(&connection) == merchant => Ok(connection),
        Ok(_) => Err(missing),
        Err(error) => {
            tracing::warn!(%merchant, %error, "connection unreadable; the push is retried next run");
            Err(UNREADABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Conn(MerchantId);

    #[test]
    fn a_failed_read_is_never_taken_for_not_connected() {
        let (mine, theirs) = (
            MerchantId::parse("m1").expect("id"),
            MerchantId::parse("m2").expect("id"),
        );
        let throttled = || Err(rc_orders::RepoError::Store(rc_store::StoreError::Throttled));
        type Read = Result<Option<Arc<Conn>>, rc_orders::RepoError>;
        let cases: Vec<(Read, Result<(), &str>)> = vec![
            (Ok(Some(Arc::new(Conn(mine.clone())))), Ok(())),
            (
                Ok(Some(Arc::new(Conn(theirs)))),
                Err("seller_not_connected"),
            ),
            (Ok(None), Err("seller_not_connected")),
            (throttled(), Err(UNREADABLE)),
        ];
        for (read, expected) in cases {
            let got = owned(read, &mine, |c: &Conn| &c.0, "seller_not_connected").map(|_| ());
            assert_eq!(got, expected);
        }
    }
}
