//! Where a SKU is sold: its listings on each channel (Shopify inventory item at a location,
//! Amazon seller SKU in a marketplace), each with its allocation rule and the last quantity
//! pushed, so only changes are sent.

use std::sync::Arc;

use rc_domain::{MarketplaceId, MerchantId, SellerId, ShopDomain, Sku};
use rc_store::{Item, ItemKey, Store, StoreError, Value};
use serde::{Deserialize, Serialize};

use crate::{ChannelAllocation, InventoryError, keys};

/// A channel listing of a SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum ListingTarget {
    Shopify {
        shop: ShopDomain,
        /// `gid://shopify/Location/<id>`'s number.
        location_id: u64,
        /// `gid://shopify/InventoryItem/<id>`'s number.
        inventory_item_id: u64,
    },
    Amazon {
        seller_id: SellerId,
        marketplace_id: MarketplaceId,
        /// The seller SKU on Amazon (defaults to ours).
        seller_sku: String,
        /// The listing's Amazon product type (`PRODUCT` when unknown), required by the
        /// Listings Items API.
        product_type: String,
    },
}

impl ListingTarget {
    fn sort_key(&self) -> String {
        match self {
            Self::Shopify {
                shop, location_id, ..
            } => format!("LISTING#shopify#{shop}#{location_id}"),
            Self::Amazon {
                seller_id,
                marketplace_id,
                ..
            } => format!("LISTING#amazon#{seller_id}#{marketplace_id}"),
        }
    }
}

/// A quantity submitted in a channel feed (Amazon `JSON_LISTINGS_FEED`) and awaiting its
/// processing report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFeed {
    pub feed_id: String,
    pub message_id: u32,
    pub quantity: i64,
}

/// A listing as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub sku: Sku,
    pub target: ListingTarget,
    pub allocation: ChannelAllocation,
    /// What the channel was last told (and, for Shopify, the quantity it should hold now).
    pub last_pushed: Option<i64>,
    /// The last push failure, until a push succeeds.
    pub last_error: Option<String>,
    /// A bulk feed carrying this listing's quantity, not yet processed by the channel.
    pub pending: Option<PendingFeed>,
    #[serde(skip)]
    pub(crate) version: u64,
}

/// Listings read per round trip.
const LISTING_PAGE: usize = 100;

pub struct ListingRepository {
    data: Arc<dyn Store>,
}

fn parse(sku: &Sku, item: &Item) -> Result<Listing, InventoryError> {
    let target = item
        .string("target")
        .and_then(|t| serde_json::from_str(t).ok())
        .ok_or(InventoryError::Corrupt("listing target"))?;
    let allocation = item
        .string("allocation")
        .and_then(|a| serde_json::from_str(a).ok())
        .ok_or(InventoryError::Corrupt("listing allocation"))?;
    Ok(Listing {
        sku: sku.clone(),
        target,
        allocation,
        last_pushed: item.number("last_pushed"),
        last_error: item.string("last_error").map(str::to_owned),
        pending: item
            .string("pending_feed")
            .and_then(|p| serde_json::from_str(p).ok()),
        version: item.version,
    })
}

impl ListingRepository {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    fn key(merchant: &MerchantId, sku: &Sku, target: &ListingTarget) -> ItemKey {
        ItemKey::new(keys::sku_partition(merchant, sku), target.sort_key())
    }

    /// Creates or updates a listing's target details and allocation; what was pushed is kept.
    pub async fn put(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        target: &ListingTarget,
        allocation: ChannelAllocation,
    ) -> Result<(), InventoryError> {
        allocation.check().map_err(InventoryError::Invalid)?;
        let key = Self::key(merchant, sku, target);
        crate::stock::upsert(self.data.as_ref(), &key, |mut item| {
            item.set("target", Value::S(to_json(target)?));
            item.set("allocation", Value::S(to_json(&allocation)?));
            Ok(item)
        })
        .await?;
        match self
            .data
            .create(Item::new(keys::sku_entry(merchant, sku)))
            .await
        {
            Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The SKU's listings.
    pub async fn of_sku(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<Vec<Listing>, InventoryError> {
        // Every page: a SKU may be listed at more Shopify locations than one page holds.
        let items = rc_store::query_all(
            self.data.as_ref(),
            &keys::sku_partition(merchant, sku),
            "LISTING#",
            LISTING_PAGE,
        )
        .await?;
        items.iter().map(|item| parse(sku, item)).collect()
    }

    /// Records a successful push (only if the listing did not change meanwhile).
    pub async fn record_pushed(
        &self,
        merchant: &MerchantId,
        listing: &Listing,
        quantity: i64,
    ) -> Result<(), InventoryError> {
        self.record(merchant, listing, Some(quantity), None).await
    }

    /// Records a quantity submitted in a feed: pushed once the feed's report says so.
    pub async fn record_feed_submitted(
        &self,
        merchant: &MerchantId,
        listing: &Listing,
        pending: &PendingFeed,
    ) -> Result<(), InventoryError> {
        let key = Self::key(merchant, &listing.sku, &listing.target);
        let Some(mut item) = self.data.get(&key).await? else {
            return Ok(());
        };
        let version = item.version;
        item.set("pending_feed", Value::S(to_json(pending)?));
        match self.data.replace(item, version).await {
            Ok(()) | Err(StoreError::StaleVersion { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a failed push; the next run retries it.
    pub async fn record_failure(
        &self,
        merchant: &MerchantId,
        listing: &Listing,
        problem: &str,
    ) -> Result<(), InventoryError> {
        self.record(merchant, listing, listing.last_pushed, Some(problem))
            .await
    }

    async fn record(
        &self,
        merchant: &MerchantId,
        listing: &Listing,
        pushed: Option<i64>,
        problem: Option<&str>,
    ) -> Result<(), InventoryError> {
        let key = Self::key(merchant, &listing.sku, &listing.target);
        let Some(mut item) = self.data.get(&key).await? else {
            return Ok(());
        };
        let version = item.version;
        // Settled either way: no feed is awaited any more.
        item.attrs.remove("pending_feed");
        match pushed {
            Some(q) => item.set("last_pushed", Value::N(q)),
            None => {
                item.attrs.remove("last_pushed");
            }
        }
        match problem {
            Some(p) => item.set("last_error", Value::S(p.chars().take(300).collect())),
            None => {
                item.attrs.remove("last_error");
            }
        }
        match self.data.replace(item, version).await {
            // Changed meanwhile (a newer push, a new allocation): that state wins.
            Ok(()) | Err(StoreError::StaleVersion { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, InventoryError> {
    serde_json::to_string(value).map_err(|_| InventoryError::Corrupt("listing"))
}
