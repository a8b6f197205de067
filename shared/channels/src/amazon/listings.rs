//! The Listings Items API (2021-08-01): `patchListingsItem`, paced by its usage plan.

use bytes::Bytes;

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
        seller: &str,
        credentials: &Credentials,
        seller_sku: &str,
        marketplace_id: &str,
        body: &serde_json::Value,
    ) -> Result<Bytes, FetchError> {
        let path = format!(
            "/listings/2021-08-01/items/{}/{}",
            encode_path(seller),
            encode_path(seller_sku)
        );
        let query = vec![("marketplaceIds", marketplace_id.to_owned())];
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
        };
        self.call(seller, credentials, request, &limiter).await
    }
}
