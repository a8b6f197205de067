//! The Listings Items API (2021-08-01): `patchListingsItem`, paced by its usage plan.

use bytes::Bytes;
use rc_domain::{MarketplaceId, SellerId};

use super::client::{Credentials, FetchError, Request, SpApiClient, encode_path};

/// Usage plan (listingsItems_2021-08-01.json): patchListingsItem 5/s burst 5.
const LISTINGS_RATE: f64 = 5.0;
const LISTINGS_BURST: u32 = 5;

impl SpApiClient {
    /// `PATCH /listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=...` with a
    /// `ListingsItemPatchRequest`, paced by its usage plan (5 requests per second, burst 5).
    /// Returns the `ListingsItemSubmissionResponse` body.
    pub async fn patch_listings_item(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        seller_sku: &str,
        marketplace_id: &MarketplaceId,
        body: &serde_json::Value,
    ) -> Result<Bytes, FetchError> {
        let path = format!(
            "/listings/2021-08-01/items/{}/{}",
            encode_path(seller.as_str()),
            encode_path(seller_sku)
        );
        let query = vec![("marketplaceIds", marketplace_id.to_string())];
        let limiter = self
            .limiter(
                &self.listings_limiters,
                seller,
                LISTINGS_RATE,
                LISTINGS_BURST,
            )
            .await;
        let request = Request {
            method: reqwest::Method::PATCH,
            path: &path,
            query: &query,
            body: Some(body),
            headers: &[],
            error_codes: false,
        };
        self.call(seller, credentials, request, &limiter).await
    }

    /// Sets a merchant-fulfilled listing's quantity (`fulfillment_availability`) with one
    /// `patchListingsItem`: accepted, or refused with Amazon's issue codes.
    pub async fn set_listing_quantity(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        listing: &ListingQuantity<'_>,
    ) -> Result<PatchOutcome, FetchError> {
        let body = serde_json::json!({
            "productType": listing.product_type,
            "patches": [availability_patch(listing.quantity)],
        });
        let answer = self
            .patch_listings_item(
                seller,
                credentials,
                listing.seller_sku,
                listing.marketplace_id,
                &body,
            )
            .await?;
        let submission: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        if submission["status"] == "ACCEPTED" {
            return Ok(PatchOutcome::Accepted);
        }
        Ok(PatchOutcome::Refused(
            submission["issues"]
                .as_array()
                .map(|issues| {
                    issues
                        .iter()
                        .filter_map(|i| i["code"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }
}

/// One listing's new quantity, as the Listings Items API and listings feeds address it.
#[derive(Debug, Clone, Copy)]
pub struct ListingQuantity<'a> {
    pub seller_sku: &'a str,
    pub marketplace_id: &'a MarketplaceId,
    /// The listing's Amazon product type (`PRODUCT` when unknown).
    pub product_type: &'a str,
    pub quantity: i64,
}

/// How a `patchListingsItem` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    Accepted,
    /// Refused with these issue codes.
    Refused(Vec<String>),
}

/// The patch that sets a merchant-fulfilled listing's quantity.
pub(super) fn availability_patch(quantity: i64) -> serde_json::Value {
    serde_json::json!({
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": quantity }],
    })
}
