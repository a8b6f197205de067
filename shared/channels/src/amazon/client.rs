//! The SP-API client: Login with Amazon (LWA) access tokens from the refresh-token grant, cached
//! until shortly before they expire and refreshed once on 401/403; `getOrder` paced by the
//! usage plans (getOrder 0.5 requests per second, burst 30; searchOrders 0.0056/s, burst 20; per
//! selling partner) and retried with
//! exponential backoff on 429 and 5xx.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rc_domain::{RevealPurpose, Secret, SecretText};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use crate::FetchError;

use super::order_payload::INCLUDED_DATA;
use super::rate_limit::TokenBucket;
use super::region::Region;

/// Where the APIs live. Production defaults; tests and the local sandbox point them elsewhere.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// SP-API endpoint per region, e.g. `https://sellingpartnerapi-eu.amazon.com`.
    pub north_america: String,
    pub europe: String,
    pub far_east: String,
    /// e.g. `https://api.amazon.com` (`RC_LWA_ENDPOINT`); the token path is `/auth/o2/token`,
    /// the same for every region.
    pub lwa: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            north_america: Region::NorthAmerica.default_endpoint().into(),
            europe: Region::Europe.default_endpoint().into(),
            far_east: Region::FarEast.default_endpoint().into(),
            lwa: "https://api.amazon.com".into(),
        }
    }
}

impl Endpoints {
    /// One SP-API endpoint for every region (a sandbox or a stand-in).
    pub fn all_at(sp_api: impl Into<String>, lwa: impl Into<String>) -> Self {
        let sp_api = sp_api.into();
        Self {
            north_america: sp_api.clone(),
            europe: sp_api.clone(),
            far_east: sp_api,
            lwa: lwa.into(),
        }
    }

    /// The SP-API endpoint serving `region`.
    pub fn sp_api(&self, region: Region) -> &str {
        match region {
            Region::NorthAmerica => &self.north_america,
            Region::Europe => &self.europe,
            Region::FarEast => &self.far_east,
        }
    }

    fn all(&self) -> [&str; 4] {
        [&self.north_america, &self.europe, &self.far_east, &self.lwa]
    }
}

/// A selling partner's authorization of our application.
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Secret<SecretText>,
    pub refresh_token: Secret<SecretText>,
    /// The region the seller authorized us in: every call goes to its endpoint.
    pub region: Region,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// A token is refreshed this long before Amazon says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Usage plans (orders_2026-01-01.json): getOrder 0.5/s burst 30; searchOrders 0.0056/s burst 20.
const GET_ORDER_RATE: f64 = 0.5;
const GET_ORDER_BURST: u32 = 30;
const SEARCH_RATE: f64 = 0.0056;
const SEARCH_BURST: u32 = 20;
/// Usage plans (feeds_2021-06-30.json): createFeedDocument 0.5/s burst 15, createFeed 0.0083/s
/// burst 15, getFeed 2/s burst 15, getFeedDocument 0.0222/s burst 10.
const FEED_DOCUMENT_RATE: f64 = 0.5;
const CREATE_FEED_RATE: f64 = 0.0083;
const GET_FEED_RATE: f64 = 2.0;
const GET_FEED_DOCUMENT_RATE: f64 = 0.0222;
const FEEDS_BURST: u32 = 15;
const GET_FEED_DOCUMENT_BURST: u32 = 10;
/// The content type of our feed documents.
pub const FEED_CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// Usage plan (listingsItems_2021-08-01.json): patchListingsItem 5/s burst 5.
const LISTINGS_RATE: f64 = 5.0;
const LISTINGS_BURST: u32 = 5;

type Limiters = Mutex<HashMap<String, Arc<TokenBucket>>>;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(500),
        }
    }
}

struct CachedToken {
    token: Secret<SecretText>,
    valid_until: Instant,
}

pub struct SpApiClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    retry: RetryPolicy,
    tokens: Mutex<HashMap<String, Arc<CachedToken>>>,
    get_order_limiters: Limiters,
    search_limiters: Limiters,
    listings_limiters: Limiters,
    feed_limiters: Mutex<HashMap<(&'static str, String), Arc<TokenBucket>>>,
}

impl SpApiClient {
    pub fn new(endpoints: Endpoints) -> Self {
        Self::with_retry(endpoints, RetryPolicy::default())
    }

    pub fn with_retry(endpoints: Endpoints, retry: RetryPolicy) -> Self {
        let http = crate::http_client(
            Duration::from_secs(10),
            concat!(
                "RetailCoder/",
                env!("CARGO_PKG_VERSION"),
                " (Language=Rust)"
            ),
            endpoints.all().iter().all(|url| crate::is_loopback(url)),
        );
        Self {
            http,
            endpoints,
            retry,
            tokens: Mutex::new(HashMap::new()),
            get_order_limiters: Mutex::new(HashMap::new()),
            search_limiters: Mutex::new(HashMap::new()),
            listings_limiters: Mutex::new(HashMap::new()),
            feed_limiters: Mutex::new(HashMap::new()),
        }
    }

    /// The seller's bucket for one operation: usage plans are per selling partner and operation.
    async fn limiter(
        &self,
        limiters: &Limiters,
        seller: &str,
        rate: f64,
        burst: u32,
    ) -> Arc<TokenBucket> {
        let mut limiters = limiters.lock().await;
        Arc::clone(
            limiters
                .entry(seller.to_owned())
                .or_insert_with(|| Arc::new(TokenBucket::new(rate, burst))),
        )
    }

    /// A valid access token for the seller: cached, or fetched with the refresh-token grant.
    async fn access_token(
        &self,
        seller: &str,
        credentials: &Credentials,
        force_refresh: bool,
    ) -> Result<Arc<CachedToken>, FetchError> {
        let mut tokens = self.tokens.lock().await;
        if !force_refresh
            && let Some(cached) = tokens.get(seller)
            && Instant::now() < cached.valid_until
        {
            return Ok(Arc::clone(cached));
        }
        let form = [
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                credentials
                    .refresh_token
                    .reveal(RevealPurpose::Authentication)
                    .as_str(),
            ),
            ("client_id", credentials.client_id.as_str()),
            (
                "client_secret",
                credentials
                    .client_secret
                    .reveal(RevealPurpose::Authentication)
                    .as_str(),
            ),
        ];
        let url = format!("{}/auth/o2/token", self.endpoints.lwa.trim_end_matches('/'));
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| FetchError::Unavailable(format!("LWA: {}", redact(&e))))?;
        let status = response.status();
        if status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED {
            return Err(FetchError::Unauthorized(status.as_u16()));
        }
        if !status.is_success() {
            return Err(FetchError::Unavailable(format!("LWA answered {status}")));
        }
        let body = crate::read_capped(response, 64 * 1024).await?;
        let body: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| FetchError::Unavailable("LWA answer is not a token".into()))?;
        let token = SecretText::parse(&body.access_token)
            .map_err(|_| FetchError::Unavailable("LWA answer is not a token".into()))?;
        let lifetime = Duration::from_secs(body.expires_in).saturating_sub(TOKEN_MARGIN);
        let cached = Arc::new(CachedToken {
            token: Secret::new(token),
            valid_until: Instant::now() + lifetime,
        });
        tokens.insert(seller.to_owned(), Arc::clone(&cached));
        Ok(cached)
    }

    /// `GET /orders/2026-01-01/orders/{orderId}?includedData=BUYER,RECIPIENT,FULFILLMENT,PROCEEDS`.
    /// Returns the raw JSON body (it holds PII: parse it straight into sealed types).
    pub async fn get_order(
        &self,
        seller: &str,
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
        seller: &str,
        credentials: &Credentials,
        marketplace_ids: &[String],
        updated_after: &str,
        pagination_token: Option<&str>,
    ) -> Result<Bytes, FetchError> {
        let mut query = vec![
            ("lastUpdatedAfter", updated_after.to_owned()),
            ("marketplaceIds", marketplace_ids.join(",")),
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

    async fn feed_limiter(&self, operation: &'static str, seller: &str) -> Arc<TokenBucket> {
        let (rate, burst) = match operation {
            "createFeedDocument" => (FEED_DOCUMENT_RATE, FEEDS_BURST),
            "createFeed" => (CREATE_FEED_RATE, FEEDS_BURST),
            "getFeed" => (GET_FEED_RATE, FEEDS_BURST),
            _ => (GET_FEED_DOCUMENT_RATE, GET_FEED_DOCUMENT_BURST),
        };
        let mut limiters = self.feed_limiters.lock().await;
        Arc::clone(
            limiters
                .entry((operation, seller.to_owned()))
                .or_insert_with(|| Arc::new(TokenBucket::new(rate, burst))),
        )
    }

    async fn feeds_call(
        &self,
        operation: &'static str,
        seller: &str,
        credentials: &Credentials,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, FetchError> {
        let limiter = self.feed_limiter(operation, seller).await;
        let request = Request {
            method,
            path,
            query: &[],
            body,
        };
        // Errors name the operation: a 404 here is no order "not found".
        let bytes = self
            .call(seller, credentials, request, &limiter)
            .await
            .map_err(|e| match e {
                FetchError::NotFound => FetchError::Operation(operation, 404),
                FetchError::Rejected(status) => FetchError::Operation(operation, status),
                FetchError::Unavailable(problem) => {
                    FetchError::Unavailable(format!("{operation}: {problem}"))
                }
                other => other,
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|_| FetchError::Unavailable(format!("{operation} answer is not JSON")))
    }

    /// Submits a feed: `createFeedDocument`, the upload of `content` to the document's URL, then
    /// `createFeed`. Returns the feed id. Three calls, however many messages the feed holds.
    pub async fn submit_feed(
        &self,
        seller: &str,
        credentials: &Credentials,
        feed_type: &str,
        marketplace_id: &str,
        content: Vec<u8>,
    ) -> Result<String, FetchError> {
        let document = self
            .feeds_call(
                "createFeedDocument",
                seller,
                credentials,
                reqwest::Method::POST,
                "/feeds/2021-06-30/documents",
                Some(&serde_json::json!({ "contentType": FEED_CONTENT_TYPE })),
            )
            .await?;
        let (Some(document_id), Some(url)) = (
            document["feedDocumentId"].as_str(),
            document["url"].as_str(),
        ) else {
            return Err(FetchError::Unavailable(
                "createFeedDocument answer is incomplete".into(),
            ));
        };
        // The URL is presigned: no access token, the content type it was signed for.
        let uploaded = self
            .http
            .put(url)
            .header("content-type", FEED_CONTENT_TYPE)
            .body(content)
            .send()
            .await
            .map_err(|e| FetchError::Unavailable(format!("feed upload: {}", redact(&e))))?;
        if !uploaded.status().is_success() {
            return Err(FetchError::Unavailable(format!(
                "feed upload answered {}",
                uploaded.status()
            )));
        }
        let feed = self
            .feeds_call(
                "createFeed",
                seller,
                credentials,
                reqwest::Method::POST,
                "/feeds/2021-06-30/feeds",
                Some(&serde_json::json!({
                    "feedType": feed_type,
                    "marketplaceIds": [marketplace_id],
                    "inputFeedDocumentId": document_id,
                })),
            )
            .await?;
        feed["feedId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| FetchError::Unavailable("createFeed answer has no feedId".into()))
    }

    /// `getFeed`: the feed's processing status and, once done, its result document id.
    pub async fn feed_status(
        &self,
        seller: &str,
        credentials: &Credentials,
        feed_id: &str,
    ) -> Result<(String, Option<String>), FetchError> {
        let path = format!("/feeds/2021-06-30/feeds/{}", encode_path(feed_id));
        let feed = self
            .feeds_call(
                "getFeed",
                seller,
                credentials,
                reqwest::Method::GET,
                &path,
                None,
            )
            .await?;
        let status = feed["processingStatus"]
            .as_str()
            .ok_or_else(|| FetchError::Unavailable("getFeed answer has no status".into()))?
            .to_owned();
        Ok((
            status,
            feed["resultFeedDocumentId"].as_str().map(str::to_owned),
        ))
    }

    /// `getFeedDocument`, then the document itself (a processing report).
    pub async fn feed_document(
        &self,
        seller: &str,
        credentials: &Credentials,
        document_id: &str,
    ) -> Result<Bytes, FetchError> {
        let path = format!("/feeds/2021-06-30/documents/{}", encode_path(document_id));
        let document = self
            .feeds_call(
                "getFeedDocument",
                seller,
                credentials,
                reqwest::Method::GET,
                &path,
                None,
            )
            .await?;
        let gzip = match document["compressionAlgorithm"].as_str() {
            None => false,
            Some("GZIP") => true,
            Some(_) => {
                return Err(FetchError::Unavailable(
                    "feed document compressed by an unknown algorithm".into(),
                ));
            }
        };
        let url = document["url"]
            .as_str()
            .ok_or_else(|| FetchError::Unavailable("getFeedDocument answer has no url".into()))?;
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| FetchError::Unavailable(format!("feed document: {}", redact(&e))))?;
        if !response.status().is_success() {
            return Err(FetchError::Unavailable(format!(
                "feed document answered {}",
                response.status()
            )));
        }
        let body = crate::read_capped(response, crate::MAX_ANSWER_BYTES).await?;
        if !gzip {
            return Ok(body);
        }
        // Bounded too: a small compressed report must not expand without limit.
        let mut plain = Vec::new();
        let limit = crate::MAX_ANSWER_BYTES as u64;
        std::io::Read::read_to_end(
            &mut std::io::Read::take(flate2::read::GzDecoder::new(&body[..]), limit + 1),
            &mut plain,
        )
        .map_err(|_| FetchError::Unavailable("feed document does not decompress".into()))?;
        if plain.len() as u64 > limit {
            return Err(FetchError::Unavailable(
                "feed document is larger than we read".into(),
            ));
        }
        Ok(Bytes::from(plain))
    }

    /// One request with the seller's access token: paced by `limiter`, retried with backoff on
    /// 429 and 5xx, the token refreshed once on 401/403.
    async fn call(
        &self,
        seller: &str,
        credentials: &Credentials,
        request: Request<'_>,
        limiter: &TokenBucket,
    ) -> Result<Bytes, FetchError> {
        let url = format!(
            "{}{}",
            self.endpoints
                .sp_api(credentials.region)
                .trim_end_matches('/'),
            request.path
        );
        let mut refreshed = false;
        let mut backoff = self.retry.first_backoff;
        for attempt in 1..=self.retry.attempts {
            let token = self.access_token(seller, credentials, false).await?;
            limiter.acquire().await;
            let mut builder = self
                .http
                .request(request.method.clone(), &url)
                .query(request.query);
            if let Some(body) = request.body {
                builder = builder.json(body);
            }
            let sent = builder
                .header(
                    "x-amz-access-token",
                    token.token.reveal(RevealPurpose::Authentication).as_str(),
                )
                .header("accept", "application/json")
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) if attempt < self.retry.attempts => {
                    tracing::warn!(error = %redact(&e), attempt, "SP-API request failed to send; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(e) => return Err(FetchError::Unavailable(redact(&e))),
            };
            let status = response.status();
            match status {
                s if s.is_success() => {
                    return crate::read_capped(response, crate::MAX_ANSWER_BYTES).await;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if !refreshed => {
                    // An access token can be revoked or expire early: refresh once.
                    refreshed = true;
                    self.access_token(seller, credentials, true).await?;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(FetchError::Unauthorized(status.as_u16()));
                }
                StatusCode::NOT_FOUND => return Err(FetchError::NotFound),
                StatusCode::TOO_MANY_REQUESTS
                | StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::SERVICE_UNAVAILABLE
                    if attempt < self.retry.attempts =>
                {
                    tracing::info!(status = status.as_u16(), attempt, "SP-API backing off");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                StatusCode::TOO_MANY_REQUESTS => return Err(FetchError::Throttled),
                s if s.is_server_error() => {
                    return Err(FetchError::Unavailable(format!("SP-API answered {s}")));
                }
                s => return Err(FetchError::Rejected(s.as_u16())),
            }
        }
        Err(FetchError::Throttled)
    }
}

/// One SP-API request's shape.
struct Request<'a> {
    method: reqwest::Method,
    path: &'a str,
    query: &'a [(&'a str, String)],
    body: Option<&'a serde_json::Value>,
}

impl<'a> Request<'a> {
    fn get(path: &'a str, query: &'a [(&'a str, String)]) -> Self {
        Self {
            method: reqwest::Method::GET,
            path,
            query,
            body: None,
        }
    }
}

/// A path segment percent-encoded (seller SKUs may hold spaces, slashes, '#').
fn encode_path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A reqwest error without its URL (which may carry ids) or any body.
fn redact(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_decode() {
        "undecodable body"
    } else {
        "request failed"
    };
    kind.to_owned()
}
