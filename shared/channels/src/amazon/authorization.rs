//! A seller authorizing our application (the website authorization workflow) and the
//! notifications that follow: the Seller Central consent URL, the `spapi_oauth_code` exchanged
//! at Login with Amazon for a refresh token, and the Notifications API v1 — one SQS destination
//! per application and region (`getDestinations`/`createDestination`, grantless) and the
//! seller's `ORDER_CHANGE` subscription (`getSubscription`/`createSubscription` with the seller's
//! token, `deleteSubscriptionById` grantless).

use rc_domain::{AmazonApp, MarketplaceId, Region, RevealPurpose, Secret, SecretText, SellerId};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Auth, Request};
use super::{Credentials, FetchError, SpApiClient};

/// The scope of the grantless token the Notifications API's application-level operations take.
pub const NOTIFICATIONS_SCOPE: &str = "sellingpartnerapi::notifications";
/// The notification type orders arrive by, and its payload version.
pub const ORDER_CHANGE: &str = "ORDER_CHANGE";
const ORDER_CHANGE_PAYLOAD_VERSION: &str = "1.0";

/// Where the seller is sent to authorize the application: the consent page of the Seller
/// Central that sells `marketplace` (`None` for a marketplace we do not know), or `base` in a
/// sandbox.
pub fn consent_url(
    marketplace: &MarketplaceId,
    app: &AmazonApp,
    redirect_uri: &str,
    state: &str,
    base_override: Option<&str>,
) -> Option<String> {
    let base = match base_override {
        Some(base) => base.to_owned(),
        None => marketplace.seller_central()?.to_owned(),
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("application_id", &app.application_id)
        .append_pair("state", state)
        .append_pair("redirect_uri", redirect_uri);
    // A draft application can only be authorized in its beta version.
    if app.draft {
        query.append_pair("version", "beta");
    }
    Some(format!("{base}/apps/authorize/consent?{}", query.finish()))
}

#[derive(Deserialize)]
struct CodeGrant {
    refresh_token: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    payload: T,
}

#[derive(Deserialize)]
struct Destination {
    #[serde(rename = "destinationId")]
    destination_id: String,
    #[serde(default)]
    resource: Value,
}

#[derive(Deserialize)]
struct Subscription {
    #[serde(rename = "subscriptionId")]
    subscription_id: String,
    #[serde(rename = "destinationId")]
    destination_id: String,
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, FetchError> {
    serde_json::from_slice::<Envelope<T>>(bytes)
        .map(|e| e.payload)
        .map_err(|_| FetchError::Unavailable(format!("{what} answer is malformed")))
}

impl SpApiClient {
    /// Exchanges the consent page's `spapi_oauth_code` for the seller's refresh token. A code
    /// LWA refuses (expired after five minutes, used, for another client) is
    /// `Refused { code: "invalid_grant" }`. Not retried: the code is single-use.
    pub async fn exchange_authorization_code(
        &self,
        app: &AmazonApp,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Secret<SecretText>, FetchError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", app.client_id.as_str()),
            (
                "client_secret",
                app.client_secret
                    .reveal(RevealPurpose::Authentication)
                    .as_str(),
            ),
        ];
        let response = self.post_token(&form).await?;
        let status = response.status();
        if status.is_client_error() {
            return Err(FetchError::Refused {
                status: status.as_u16(),
                code: "invalid_grant".into(),
            });
        }
        if status != StatusCode::OK {
            return Err(FetchError::Unavailable(format!("LWA answered {status}")));
        }
        let body = crate::read_capped(response, 64 * 1024).await?;
        let grant: CodeGrant = serde_json::from_slice(&body)
            .map_err(|_| FetchError::Unavailable("LWA answer is not a refresh token".into()))?;
        SecretText::parse(&grant.refresh_token)
            .map(Secret::new)
            .map_err(|_| FetchError::Unavailable("LWA answer is not a refresh token".into()))
    }

    fn grantless(app: &AmazonApp, region: Region) -> Auth<'_> {
        Auth::Grantless {
            app,
            scope: NOTIFICATIONS_SCOPE,
            region,
        }
    }

    /// The application's destination for `queue_arn` in `region`: the existing one, or one
    /// created now. Concurrent callers may both create: Amazon refuses the second (409), which
    /// then finds the first's.
    pub async fn ensure_destination(
        &self,
        app: &AmazonApp,
        region: Region,
        queue_arn: &str,
    ) -> Result<String, FetchError> {
        if let Some(id) = self.find_destination(app, region, queue_arn).await? {
            return Ok(id);
        }
        let body = json!({
            "name": "retailcoder-order-change",
            "resourceSpecification": {"sqs": {"arn": queue_arn}},
        });
        let request = Request {
            method: reqwest::Method::POST,
            path: "/notifications/v1/destinations",
            query: &[],
            body: Some(&body),
            headers: &[],
            error_codes: true,
        };
        match self
            .send(
                Self::grantless(app, region),
                request,
                &self.grantless_limiter,
            )
            .await
        {
            Ok(bytes) => Ok(decode::<Destination>(&bytes, "createDestination")?.destination_id),
            Err(FetchError::Refused { status: 409, .. }) => self
                .find_destination(app, region, queue_arn)
                .await?
                .ok_or(FetchError::Operation("createDestination", 409)),
            Err(other) => Err(other),
        }
    }

    async fn find_destination(
        &self,
        app: &AmazonApp,
        region: Region,
        queue_arn: &str,
    ) -> Result<Option<String>, FetchError> {
        let bytes = self
            .send(
                Self::grantless(app, region),
                Request::get("/notifications/v1/destinations", &[]),
                &self.grantless_limiter,
            )
            .await?;
        let destinations: Vec<Destination> = decode(&bytes, "getDestinations")?;
        Ok(destinations
            .into_iter()
            .find(|d| d.resource["sqs"]["arn"] == queue_arn)
            .map(|d| d.destination_id))
    }

    /// The seller's ORDER_CHANGE subscription, if it has one.
    async fn order_change_subscription(
        &self,
        seller: &SellerId,
        credentials: &Credentials,
    ) -> Result<Option<Subscription>, FetchError> {
        let limiter = self
            .limiter(&self.notification_limiters, seller, 1.0, 5)
            .await;
        let path = format!("/notifications/v1/subscriptions/{ORDER_CHANGE}");
        match self
            .call(seller, credentials, Request::get(&path, &[]), &limiter)
            .await
        {
            Ok(bytes) => Ok(Some(decode(&bytes, "getSubscription")?)),
            Err(FetchError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Subscribes the seller's ORDER_CHANGE notifications to `destination_id`, once: an
    /// existing subscription to it is reused; one to another destination (an older queue) is
    /// replaced. Returns the subscription id.
    pub async fn ensure_order_change_subscription(
        &self,
        app: &AmazonApp,
        seller: &SellerId,
        credentials: &Credentials,
        destination_id: &str,
    ) -> Result<String, FetchError> {
        if let Some(existing) = self.order_change_subscription(seller, credentials).await? {
            if existing.destination_id == destination_id {
                return Ok(existing.subscription_id);
            }
            self.delete_order_change_subscription(
                app,
                credentials.region,
                &existing.subscription_id,
            )
            .await?;
        }
        let limiter = self
            .limiter(&self.notification_limiters, seller, 1.0, 5)
            .await;
        let path = format!("/notifications/v1/subscriptions/{ORDER_CHANGE}");
        let body = json!({
            "payloadVersion": ORDER_CHANGE_PAYLOAD_VERSION,
            "destinationId": destination_id,
            "processingDirective": {"eventFilter": {"eventFilterType": ORDER_CHANGE}},
        });
        let request = Request {
            method: reqwest::Method::POST,
            path: &path,
            query: &[],
            body: Some(&body),
            headers: &[],
            error_codes: true,
        };
        match self.call(seller, credentials, request, &limiter).await {
            Ok(bytes) => Ok(decode::<Subscription>(&bytes, "createSubscription")?.subscription_id),
            // Created meanwhile (a concurrent or retried connect): that one is ours.
            Err(FetchError::Refused { status: 409, .. }) => self
                .order_change_subscription(seller, credentials)
                .await?
                .map(|s| s.subscription_id)
                .ok_or(FetchError::Operation("createSubscription", 409)),
            Err(other) => Err(other),
        }
    }

    /// Deletes an ORDER_CHANGE subscription (grantless). One already gone is no error.
    pub async fn delete_order_change_subscription(
        &self,
        app: &AmazonApp,
        region: Region,
        subscription_id: &str,
    ) -> Result<(), FetchError> {
        let path = format!(
            "/notifications/v1/subscriptions/{ORDER_CHANGE}/{}",
            super::client::encode_path(subscription_id)
        );
        let request = Request {
            method: reqwest::Method::DELETE,
            path: &path,
            query: &[],
            body: None,
            headers: &[],
            error_codes: false,
        };
        match self
            .send(
                Self::grantless(app, region),
                request,
                &self.grantless_limiter,
            )
            .await
        {
            Ok(_) | Err(FetchError::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(draft: bool) -> AmazonApp {
        AmazonApp {
            application_id: "amzn1.sp.solution.test".into(),
            client_id: "amzn1.application-oa2-client.test".into(),
            client_secret: Secret::new(SecretText::parse("secret").expect("secret")),
            draft,
            notifications_queue_arn: None,
        }
    }

    #[test]
    fn the_consent_url_is_the_marketplaces_seller_central() {
        let de = MarketplaceId::parse("A1PA6795UKMFR9").expect("id");
        let url = consent_url(&de, &app(true), "https://api.example/cb", "s1", None)
            .expect("known marketplace");
        assert_eq!(
            url,
            "https://sellercentral-europe.amazon.com/apps/authorize/consent?application_id=amzn1.sp.solution.test&state=s1&redirect_uri=https%3A%2F%2Fapi.example%2Fcb&version=beta"
        );
        let india = MarketplaceId::parse("A21TJRUUN4KGV").expect("id");
        let url = consent_url(&india, &app(false), "https://x/cb", "s2", None).expect("known");
        assert!(url.starts_with("https://sellercentral.amazon.in/apps/authorize/consent?"));
        assert!(!url.contains("version=beta"), "a published app has no beta");
    }
}
