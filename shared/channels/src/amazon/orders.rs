//! The Orders API (2026-01-01): `getOrder` and `searchOrders`, paced by their usage plans.

use bytes::Bytes;
use rc_domain::{MarketplaceId, SellerId};

use super::client::{Credentials, FetchError, Request, SpApiClient};
use super::order_payload::INCLUDED_DATA;

/// Usage plans (orders_2026-01-01.json): getOrder 0.5/s burst 30; searchOrders 0.0056/s burst 20.
const GET_ORDER_RATE: f64 = 0.5;
const GET_ORDER_BURST: u32 = 30;
const SEARCH_RATE: f64 = 0.0056;
const SEARCH_BURST: u32 = 20;
impl SpApiClient {
    /// `GET /orders/2026-01-01/orders/{orderId}?includedData=BUYER,RECIPIENT,FULFILLMENT,PROCEEDS`.
    /// Returns the raw JSON body (it holds PII: parse it straight into sealed types).
    pub async fn get_order(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        amazon_order_id: &str,
    ) -> Result<Bytes, FetchError> {
        let path = format!("/orders/2026-01-01/orders/{amazon_order_id}");
        let query = vec![("includedData", INCLUDED_DATA.join(","))];
        let limiter = self
            .limiter(
                &self.get_order_limiters,
                seller,
                GET_ORDER_RATE,
                GET_ORDER_BURST,
            )
            .await;
        self.call(seller, credentials, Request::get(&path, &query), &limiter)
            .await
    }

    /// `GET /orders/2026-01-01/orders?lastUpdatedAfter=...&marketplaceIds=...`: one page of the
    /// orders changed since `updated_after` (the next page with `pagination_token`).
    pub async fn search_orders(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        marketplace_ids: &[MarketplaceId],
        updated_after: &str,
        pagination_token: Option<&str>,
    ) -> Result<Bytes, FetchError> {
        let mut query = vec![
            ("lastUpdatedAfter", updated_after.to_owned()),
            (
                "marketplaceIds",
                marketplace_ids
                    .iter()
                    .map(MarketplaceId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("includedData", INCLUDED_DATA.join(",")),
            ("maxResultsPerPage", "100".to_owned()),
        ];
        if let Some(token) = pagination_token {
            query.push(("paginationToken", token.to_owned()));
        }
        let limiter = self
            .limiter(&self.search_limiters, seller, SEARCH_RATE, SEARCH_BURST)
            .await;
        self.call(
            seller,
            credentials,
            Request::get("/orders/2026-01-01/orders", &query),
            &limiter,
        )
        .await
    }
}
