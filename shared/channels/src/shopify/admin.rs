//! The Shopify Admin REST API, for reconciliation: orders updated since a moment, a page at a
//! time (`GET /admin/api/{version}/orders.json?status=any&updated_at_min=...`, cursor pagination
//! through the `Link` header's `page_info`).

use std::time::Duration;

use rc_domain::{RevealPurpose, Secret, SecretText};
use reqwest::StatusCode;
use serde::Deserialize;

use super::ShopDomain;
use crate::FetchError;

pub const ADMIN_API_VERSION: &str = "2026-10";
/// Shopify's largest REST page.
const PAGE_SIZE: &str = "250";
pub(crate) const ATTEMPTS: u32 = 4;

pub struct ShopifyAdmin {
    http: crate::HttpClient,
    /// Replaces `https://{shop}` (tests, the local sandbox).
    base_override: Option<String>,
}

#[derive(Deserialize)]
struct OrdersPage {
    orders: Vec<serde_json::Value>,
}

/// The `page_info` of the `rel="next"` link, if any.
fn next_page_info(link: Option<&str>) -> Option<String> {
    link?.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        if !rel.contains(r#"rel="next""#) {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let query = url.split_once('?')?.1;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("page_info="))
            .map(str::to_owned)
    })
}

impl ShopifyAdmin {
    pub fn new(base_override: Option<String>) -> Self {
        // Shops are always https; only a sandbox base on this machine may be plain http.
        let local = base_override.as_deref().is_some_and(crate::is_loopback);
        let http = crate::HttpClient::new(
            Duration::from_secs(15),
            concat!("RetailCoder/", env!("CARGO_PKG_VERSION")),
            local,
        );
        Self {
            http,
            base_override,
        }
    }

    /// One page of orders updated at or after `since` (RFC 3339), each as the raw JSON of the
    /// REST `Order` resource (what `orders/*` webhooks carry), and the next page's cursor.
    pub async fn orders_updated_since(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        since: &str,
        page_info: Option<&str>,
    ) -> Result<(Vec<Vec<u8>>, Option<String>), FetchError> {
        let url = format!(
            "{}/admin/api/{ADMIN_API_VERSION}/orders.json",
            self.base(shop)
        );
        // With page_info, Shopify allows only limit (and fields) beside it.
        let query: Vec<(&str, &str)> = match page_info {
            Some(cursor) => vec![("limit", PAGE_SIZE), ("page_info", cursor)],
            None => vec![
                ("status", "any"),
                ("limit", PAGE_SIZE),
                ("updated_at_min", since),
            ],
        };
        let token = access_token.reveal(RevealPurpose::Authentication).as_str();
        let response = self
            .send(|| {
                self.http
                    .get(&url)
                    .query(&query)
                    .header("x-shopify-access-token", token)
            })
            .await?;
        let next = next_page_info(response.headers().get("link").and_then(|v| v.to_str().ok()));
        let body = crate::read_capped(response, crate::MAX_ANSWER_BYTES).await?;
        let page: OrdersPage = serde_json::from_slice(&body)
            .map_err(|_| FetchError::Unavailable("Shopify answer is not an order list".into()))?;
        let orders = page
            .orders
            .into_iter()
            .map(|order| serde_json::to_vec(&order).unwrap_or_default())
            .collect();
        Ok((orders, next))
    }

    /// The shop's base URL (`https://{shop}`, or the override): its Admin API and its OAuth
    /// pages live under it.
    pub fn shop_base(&self, shop: &ShopDomain) -> String {
        self.base(shop)
    }

    /// The shop's Admin API base (`https://{shop}`, or the override).
    pub(crate) fn base(&self, shop: &ShopDomain) -> String {
        self.base_override
            .clone()
            .unwrap_or_else(|| format!("https://{shop}"))
    }

    pub(crate) fn http(&self) -> &crate::HttpClient {
        &self.http
    }

    /// Sends a request built by `build`, retrying what may succeed later: network failures and
    /// 5xx with exponential backoff, 429 after Shopify's `Retry-After`. A success is returned;
    /// anything else becomes a [`FetchError`].
    pub(crate) async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, FetchError> {
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let response = match build().send().await {
                Ok(response) => response,
                Err(_) if attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(_) => return Err(FetchError::Unavailable("Shopify cannot be reached".into())),
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(FetchError::Unauthorized(status.as_u16()));
                }
                StatusCode::TOO_MANY_REQUESTS if attempt < ATTEMPTS => {
                    // Shopify says how long to wait (seconds, possibly fractional).
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<f64>().ok())
                        .map_or(backoff, |s| Duration::from_secs_f64(s.clamp(0.0, 60.0)));
                    tokio::time::sleep(wait).await;
                    backoff *= 2;
                }
                s if s.is_server_error() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                StatusCode::TOO_MANY_REQUESTS => return Err(FetchError::Throttled),
                s if s.is_server_error() => {
                    return Err(FetchError::Unavailable(format!("Shopify answered {s}")));
                }
                s => return Err(FetchError::Rejected(s.as_u16())),
            }
        }
        Err(FetchError::Throttled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_comes_from_the_link_header() {
        let link = r#"<https://s.myshopify.com/admin/api/2026-10/orders.json?limit=250&page_info=abc>; rel="previous", <https://s.myshopify.com/admin/api/2026-10/orders.json?limit=250&page_info=def>; rel="next""#;
        assert_eq!(next_page_info(Some(link)), Some("def".into()));
        let last = r#"<https://s.myshopify.com/admin/api/2026-10/orders.json?limit=250&page_info=abc>; rel="previous""#;
        assert_eq!(next_page_info(Some(last)), None);
        assert_eq!(next_page_info(None), None);
    }
}
