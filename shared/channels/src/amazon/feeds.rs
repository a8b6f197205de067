//! The Feeds API (2021-06-30): submitting a feed (`createFeedDocument`, the upload, `createFeed`),
//! its status (`getFeed`) and its processing report (`getFeedDocument`, then the document). Errors
//! name the operation that failed.

use std::sync::Arc;

use bytes::Bytes;
use rc_domain::{MarketplaceId, SellerId};

use std::collections::BTreeMap;

use super::client::{Credentials, FetchError, Request, SpApiClient, encode_path, redact};
use super::listings::{ListingQuantity, availability_patch};
use super::rate_limit::TokenBucket;

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
impl SpApiClient {
    async fn feed_limiter(&self, operation: &'static str, seller: &SellerId) -> Arc<TokenBucket> {
        let (rate, burst) = match operation {
            "createFeedDocument" => (FEED_DOCUMENT_RATE, FEEDS_BURST),
            "createFeed" => (CREATE_FEED_RATE, FEEDS_BURST),
            "getFeed" => (GET_FEED_RATE, FEEDS_BURST),
            _ => (GET_FEED_DOCUMENT_RATE, GET_FEED_DOCUMENT_BURST),
        };
        let mut limiters = self.feed_limiters.lock().await;
        Arc::clone(
            limiters
                .entry((operation, seller.clone()))
                .or_insert_with(|| Arc::new(TokenBucket::new(rate, burst))),
        )
    }

    async fn feeds_call(
        &self,
        operation: &'static str,
        seller: &SellerId,
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
            headers: &[],
            error_codes: false,
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
        seller: &SellerId,
        credentials: &Credentials,
        feed_type: &str,
        marketplace_id: &MarketplaceId,
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
        seller: &SellerId,
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
        seller: &SellerId,
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

    /// Submits one `JSON_LISTINGS_FEED` setting each listing's quantity (at most
    /// [`MAX_FEED_MESSAGES`]); message `i + 1` carries `listings[i]`. Returns the feed id. Three
    /// calls however many listings.
    pub async fn submit_quantities_feed(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        marketplace_id: &MarketplaceId,
        listings: &[ListingQuantity<'_>],
    ) -> Result<String, FetchError> {
        if listings.is_empty() || listings.len() > MAX_FEED_MESSAGES {
            return Err(FetchError::Unavailable(format!(
                "a listings feed carries 1 to {MAX_FEED_MESSAGES} messages"
            )));
        }
        let messages: Vec<serde_json::Value> = listings
            .iter()
            .enumerate()
            .map(|(i, listing)| {
                serde_json::json!({
                    "messageId": i + 1,
                    "sku": listing.seller_sku,
                    "operationType": "PATCH",
                    "productType": listing.product_type,
                    "patches": [availability_patch(listing.quantity)],
                })
            })
            .collect();
        let feed = serde_json::json!({
            "header": { "sellerId": seller, "version": "2.0", "issueLocale": "en_US" },
            "messages": messages,
        });
        let content = serde_json::to_vec(&feed)
            .map_err(|_| FetchError::Unavailable("feed does not encode".into()))?;
        self.submit_feed(
            seller,
            credentials,
            "JSON_LISTINGS_FEED",
            marketplace_id,
            content,
        )
        .await
    }

    /// Where a submitted feed stands: `getFeed`, and once done its processing report. Returns
    /// the state and the number of calls made (one or two).
    pub async fn feed_state(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        feed_id: &str,
    ) -> (FeedState, u64) {
        match self.feed_status(seller, credentials, feed_id).await {
            Ok((status, _)) if status == "IN_QUEUE" || status == "IN_PROGRESS" => {
                (FeedState::Processing, 1)
            }
            Ok((status, Some(document))) if status == "DONE" => {
                let state = match self.feed_document(seller, credentials, &document).await {
                    Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                        Ok(processing) => FeedState::Done(errors_by_message(&processing)),
                        Err(_) => FeedState::Failed("feed report is not JSON".into()),
                    },
                    // Read again by the next run: the feed stays pending.
                    Err(e) if e.is_retryable() => FeedState::Processing,
                    // Never readable: the listings are re-sent rather than left waiting.
                    Err(e) => FeedState::Failed(format!("feed report: {e}")),
                };
                (state, 2)
            }
            Ok((status, _)) => (FeedState::Failed(format!("feed {status}")), 1),
            Err(e) if e.is_retryable() => (FeedState::Processing, 1),
            Err(e) => (FeedState::Failed(format!("feed: {e}")), 1),
        }
    }
}

/// The most messages one listings feed carries.
pub const MAX_FEED_MESSAGES: usize = 25_000;

/// A submitted feed's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedState {
    /// Not processed yet (or its report could not be read this time): ask again later.
    Processing,
    /// Processed: the issue codes of each refused message, by message id.
    Done(BTreeMap<u32, String>),
    /// Never going to be processed or read: re-send its listings.
    Failed(String),
}

/// Issue codes of the messages a processing report refused (severity ERROR).
fn errors_by_message(processing: &serde_json::Value) -> BTreeMap<u32, String> {
    let mut errors: BTreeMap<u32, String> = BTreeMap::new();
    for issue in processing["issues"].as_array().into_iter().flatten() {
        if issue["severity"] != "ERROR" {
            continue;
        }
        let (Some(message), Some(code)) = (issue["messageId"].as_u64(), issue["code"].as_str())
        else {
            continue;
        };
        let entry = errors.entry(message as u32).or_default();
        if !entry.is_empty() {
            entry.push(',');
        }
        entry.push_str(code);
    }
    errors
}
