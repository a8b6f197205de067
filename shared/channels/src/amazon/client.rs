//! The SP-API client's core: endpoints per region, Login with Amazon (LWA) access tokens from the
//! refresh-token grant (cached until shortly before they expire, refreshed once on 401/403), one
//! token bucket per selling partner and operation, and the request loop (backoff on 429 and
//! 5xx). Each API's operations live in their own module: `orders`, `listings`, `feeds`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rc_domain::{AmazonApp, Region, RevealPurpose, Secret, SecretText, SellerId};

pub(crate) use rc_domain::LwaCredentials as Credentials;
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use crate::FetchError;

use super::rate_limit::TokenBucket;

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

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// A token is refreshed this long before Amazon says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
pub(super) type Limiters = Mutex<HashMap<SellerId, Arc<TokenBucket>>>;

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
    pub(super) http: crate::HttpClient,
    endpoints: Endpoints,
    retry: RetryPolicy,
    tokens: Mutex<HashMap<SellerId, Arc<CachedToken>>>,
    /// Grantless tokens (`client_credentials`), by LWA client and scope.
    grantless: Mutex<HashMap<(String, &'static str), Arc<CachedToken>>>,
    pub(super) get_order_limiters: Limiters,
    pub(super) search_limiters: Limiters,
    pub(super) listings_limiters: Limiters,
    pub(super) shipping_limiters: Limiters,
    pub(super) confirm_limiters: Limiters,
    /// Notifications API: 1 request per second, burst 5 — per seller, and for the
    /// application's own (grantless) calls.
    pub(super) notification_limiters: Limiters,
    pub(super) grantless_limiter: TokenBucket,
    pub(super) feed_limiters: Mutex<HashMap<(&'static str, SellerId), Arc<TokenBucket>>>,
}

impl SpApiClient {
    pub fn new(endpoints: Endpoints) -> Self {
        Self::with_retry(endpoints, RetryPolicy::default())
    }

    pub fn with_retry(endpoints: Endpoints, retry: RetryPolicy) -> Self {
        let http = crate::HttpClient::new(
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
            grantless: Mutex::new(HashMap::new()),
            get_order_limiters: Mutex::new(HashMap::new()),
            search_limiters: Mutex::new(HashMap::new()),
            listings_limiters: Mutex::new(HashMap::new()),
            shipping_limiters: Mutex::new(HashMap::new()),
            confirm_limiters: Mutex::new(HashMap::new()),
            notification_limiters: Mutex::new(HashMap::new()),
            grantless_limiter: TokenBucket::new(1.0, 5),
            feed_limiters: Mutex::new(HashMap::new()),
        }
    }

    /// The seller's bucket for one operation: usage plans are per selling partner and operation.
    pub(super) async fn limiter(
        &self,
        limiters: &Limiters,
        seller: &SellerId,
        rate: f64,
        burst: u32,
    ) -> Arc<TokenBucket> {
        let mut limiters = limiters.lock().await;
        Arc::clone(
            limiters
                .entry(seller.clone())
                .or_insert_with(|| Arc::new(TokenBucket::new(rate, burst))),
        )
    }

    /// A valid access token for the seller: cached, or fetched with the refresh-token grant.
    async fn access_token(
        &self,
        seller: &SellerId,
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
        let cached = Arc::new(self.fetch_token(&form).await?);
        tokens.insert(seller.clone(), Arc::clone(&cached));
        Ok(cached)
    }

    /// A grantless access token of the application for `scope` (the `client_credentials`
    /// grant): cached like a seller's.
    async fn grantless_token(
        &self,
        app: &AmazonApp,
        scope: &'static str,
        force_refresh: bool,
    ) -> Result<Arc<CachedToken>, FetchError> {
        let mut tokens = self.grantless.lock().await;
        let key = (app.client_id.clone(), scope);
        if !force_refresh
            && let Some(cached) = tokens.get(&key)
            && Instant::now() < cached.valid_until
        {
            return Ok(Arc::clone(cached));
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_id", app.client_id.as_str()),
            (
                "client_secret",
                app.client_secret
                    .reveal(RevealPurpose::Authentication)
                    .as_str(),
            ),
        ];
        let cached = Arc::new(self.fetch_token(&form).await?);
        tokens.insert(key, Arc::clone(&cached));
        Ok(cached)
    }

    /// Posts a grant to LWA's token endpoint. A refused grant (400/401) is `Unauthorized`.
    async fn fetch_token(&self, form: &[(&str, &str)]) -> Result<CachedToken, FetchError> {
        let response = self.post_token(form).await?;
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
        Ok(CachedToken {
            token: Secret::new(token),
            valid_until: Instant::now() + lifetime,
        })
    }

    /// One form POST to LWA's token endpoint (`/auth/o2/token`, the same for every region).
    pub(super) async fn post_token(
        &self,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, FetchError> {
        let url = format!("{}/auth/o2/token", self.endpoints.lwa.trim_end_matches('/'));
        self.http
            .post(&url)
            .form(form)
            .send()
            .await
            .map_err(|e| FetchError::Unavailable(format!("LWA: {}", redact(&e))))
    }

    /// One request with the seller's access token: paced by `limiter`, retried with backoff on
    /// 429 and 5xx, the token refreshed once on 401/403.
    pub(super) async fn call(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
        request: Request<'_>,
        limiter: &TokenBucket,
    ) -> Result<Bytes, FetchError> {
        self.send(Auth::Seller(seller, credentials), request, limiter)
            .await
    }

    /// One request as [`Self::call`], with the token `auth` names.
    pub(super) async fn send(
        &self,
        auth: Auth<'_>,
        request: Request<'_>,
        limiter: &TokenBucket,
    ) -> Result<Bytes, FetchError> {
        let region = match auth {
            Auth::Seller(_, credentials) => credentials.region,
            Auth::Grantless { region, .. } => region,
        };
        let url = format!(
            "{}{}",
            self.endpoints.sp_api(region).trim_end_matches('/'),
            request.path
        );
        let mut refreshed = false;
        let mut backoff = self.retry.first_backoff;
        for attempt in 1..=self.retry.attempts {
            let token = self.token(&auth, false).await?;
            limiter.acquire().await;
            let mut builder = self
                .http
                .request(request.method.clone(), &url)
                .query(request.query);
            if let Some(body) = request.body {
                builder = builder.json(body);
            }
            for (name, value) in request.headers {
                builder = builder.header(*name, value);
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
                    self.token(&auth, true).await?;
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
                s if request.error_codes => {
                    let body = crate::read_capped(response, 64 * 1024)
                        .await
                        .unwrap_or_default();
                    return Err(match error_code(&body) {
                        Some(code) => FetchError::Refused {
                            status: s.as_u16(),
                            code,
                        },
                        None => FetchError::Rejected(s.as_u16()),
                    });
                }
                s => return Err(FetchError::Rejected(s.as_u16())),
            }
        }
        Err(FetchError::Throttled)
    }
}

/// Whose token a request carries: the seller's (from its refresh token) or the application's
/// own (grantless operations: notification destinations, deleting subscriptions).
#[derive(Clone, Copy)]
pub(super) enum Auth<'a> {
    Seller(&'a SellerId, &'a Credentials),
    Grantless {
        app: &'a AmazonApp,
        scope: &'static str,
        region: Region,
    },
}

impl SpApiClient {
    async fn token(&self, auth: &Auth<'_>, force: bool) -> Result<Arc<CachedToken>, FetchError> {
        match *auth {
            Auth::Seller(seller, credentials) => {
                self.access_token(seller, credentials, force).await
            }
            Auth::Grantless { app, scope, .. } => self.grantless_token(app, scope, force).await,
        }
    }
}

/// One SP-API request's shape.
pub(super) struct Request<'a> {
    pub(super) method: reqwest::Method,
    pub(super) path: &'a str,
    pub(super) query: &'a [(&'a str, String)],
    pub(super) body: Option<&'a serde_json::Value>,
    /// Extra headers (`x-amzn-IdempotencyKey`, `x-amzn-shipping-business-id`).
    pub(super) headers: &'a [(&'static str, String)],
    /// Answer a refusal with Amazon's error code (`FetchError::Refused`), not only its status.
    pub(super) error_codes: bool,
}

impl<'a> Request<'a> {
    pub(super) fn get(path: &'a str, query: &'a [(&'a str, String)]) -> Self {
        Self {
            method: reqwest::Method::GET,
            path,
            query,
            body: None,
            headers: &[],
            error_codes: false,
        }
    }
}

/// The first error code of an SP-API error list (`{"errors": [{"code", "message"}]}`), if it
/// looks like one (letters, digits, `_`, `.`): never a value we sent.
fn error_code(body: &[u8]) -> Option<String> {
    let list: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = list["errors"][0]["code"].as_str()?;
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    ok.then(|| code.to_owned())
}

/// A path segment percent-encoded (seller SKUs may hold spaces, slashes, '#').
pub(super) fn encode_path(segment: &str) -> String {
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
pub(super) fn redact(e: &reqwest::Error) -> String {
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
