//! Pushing available-to-sell quantities to the channels. For changed SKUs (and the kits made of
//! them): compute each listing's quantity, and send only those that differ from what was last
//! pushed — to Shopify with `inventorySetQuantities`, 250 levels per call, guarded by
//! `changeFromQuantity` and recovered once when Shopify holds something else; to Amazon with
//! `patchListingsItem` on `fulfillment_availability`, paced at its 5 requests per second. Each
//! channel (and each shop or seller) is pushed on its own: one failing never blocks another, and
//! a failure is recorded on the listing and retried by the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rc_channels::amazon::SpApiClient;
use rc_channels::shopify::{
    InventoryLevelRef, MAX_QUANTITIES_PER_CALL, QuantityToSet, SetOutcome, ShopDomain, ShopifyAdmin,
};
use rc_domain::{MerchantId, Sku};
use rc_inventory::{InventoryError, Listing, ListingRepository, ListingTarget, StockRepository};
use rc_orders::ConnectionRepository;
use serde::Serialize;

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub skus: u64,
    pub listings: u64,
    pub unchanged: u64,
    pub pushed: u64,
    pub shopify_calls: u64,
    pub amazon_calls: u64,
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
    shopify: Arc<ShopifyAdmin>,
    amazon: Arc<SpApiClient>,
}

impl InventorySync {
    pub fn new(
        stock: Arc<StockRepository>,
        listings: Arc<ListingRepository>,
        connections: Arc<ConnectionRepository>,
        shopify: Arc<ShopifyAdmin>,
        amazon: Arc<SpApiClient>,
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
        let mut shopify: BTreeMap<String, Vec<Push>> = BTreeMap::new();
        let mut amazon: BTreeMap<String, Vec<Push>> = BTreeMap::new();
        for sku in &all {
            let free = self.stock.available(merchant, sku).await?;
            for listing in self.listings.of_sku(merchant, sku).await? {
                report.listings += 1;
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
                    ListingTarget::Amazon { seller_id, .. } => {
                        amazon.entry(seller_id.clone()).or_default().push(push)
                    }
                }
            }
        }
        for (shop, pushes) in shopify {
            self.push_shopify(merchant, &shop, pushes, &mut report)
                .await?;
        }
        for (seller, pushes) in amazon {
            self.push_amazon(merchant, &seller, pushes, &mut report)
                .await?;
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
        shop: &str,
        pushes: Vec<Push>,
        report: &mut SyncReport,
    ) -> Result<(), InventoryError> {
        let connection = match ShopDomain::parse(shop) {
            Ok(domain) => self.connections.shopify(&domain).await.ok().flatten(),
            Err(_) => None,
        };
        let Some(connection) = connection.filter(|c| &c.merchant == merchant) else {
            return self
                .fail_all(merchant, &pushes, "shopify", "shop_not_connected", report)
                .await;
        };
        let Some(token) = &connection.access_token else {
            return self
                .fail_all(merchant, &pushes, "shopify", "no_access_token", report)
                .await;
        };
        for chunk in pushes.chunks(MAX_QUANTITIES_PER_CALL) {
            let level = |push: &Push| match push.listing.target {
                ListingTarget::Shopify {
                    location_id,
                    inventory_item_id,
                    ..
                } => InventoryLevelRef {
                    inventory_item_id,
                    location_id,
                },
                ListingTarget::Amazon { .. } => unreachable!("grouped by channel"),
            };
            let mut quantities: Vec<QuantityToSet> = chunk
                .iter()
                .map(|push| QuantityToSet {
                    level: level(push),
                    quantity: push.quantity,
                    change_from: push.listing.last_pushed,
                })
                .collect();
            let reference = format!("gid://retailcoder/InventorySync/{merchant}");
            let mut outcome = self
                .shopify
                .set_available(&connection.shop, token, &quantities, &reference)
                .await;
            report.shopify_calls += 1;
            if matches!(outcome, Ok(SetOutcome::Stale)) {
                // Shopify holds other quantities (a sale there, a manual edit): read them and
                // set ours from there, once.
                let levels: Vec<InventoryLevelRef> = quantities.iter().map(|q| q.level).collect();
                let held = self
                    .shopify
                    .available(&connection.shop, token, &levels)
                    .await;
                report.shopify_calls += 1;
                outcome = match held {
                    Ok(held) => {
                        for q in &mut quantities {
                            q.change_from = held.get(&q.level).copied();
                        }
                        report.shopify_calls += 1;
                        self.shopify
                            .set_available(&connection.shop, token, &quantities, &reference)
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

    async fn push_amazon(
        &self,
        merchant: &MerchantId,
        seller: &str,
        pushes: Vec<Push>,
        report: &mut SyncReport,
    ) -> Result<(), InventoryError> {
        let connection = self.connections.amazon(seller).await.ok().flatten();
        let Some(connection) = connection.filter(|c| &c.merchant == merchant) else {
            return self
                .fail_all(merchant, &pushes, "amazon", "seller_not_connected", report)
                .await;
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
            let body = serde_json::json!({
                "productType": product_type,
                "patches": [{
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{
                        "fulfillment_channel_code": "DEFAULT",
                        "quantity": push.quantity,
                    }],
                }],
            });
            report.amazon_calls += 1;
            let answer = self
                .amazon
                .patch_listings_item(
                    seller,
                    &connection.credentials,
                    seller_sku,
                    marketplace_id,
                    &body,
                )
                .await;
            let problem = match answer {
                Ok(bytes) => {
                    let submission: serde_json::Value =
                        serde_json::from_slice(&bytes).unwrap_or_default();
                    if submission["status"] == "ACCEPTED" {
                        self.listings
                            .record_pushed(merchant, &push.listing, push.quantity)
                            .await?;
                        report.pushed += 1;
                        continue;
                    }
                    let codes: Vec<&str> = submission["issues"]
                        .as_array()
                        .map(|issues| issues.iter().filter_map(|i| i["code"].as_str()).collect())
                        .unwrap_or_default();
                    format!("refused: {}", codes.join(","))
                }
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
}
