//! The connect flows: a merchant connects a Shopify shop or an Amazon seller account by
//! authorizing our app on the marketplace, never by pasting secrets.
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `GET /v1/connect/shopify?shop=` | key with `connections:manage` | 302 to the shop's authorize page, with a single-use `state` |
//! | `GET /v1/connect/shopify/callback` | Shopify's redirect | HMAC, state, shop checked; code → token; webhooks subscribed; connected |
//! | `GET /v1/connect/amazon?marketplace_id=` | key with `connections:manage` | 302 to Seller Central's consent page |
//! | `GET /v1/connect/amazon/callback` | Amazon's redirect | state checked; code → refresh token; ORDER_CHANGE subscribed; connected |
//!
//! A callback carries no API key: the merchant is the one that started the flow, found from the
//! single-use, expiring `state` (issued to an authenticated key). Every check runs before
//! anything is stored, and a failed callback stores nothing.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use rc_channels::FetchError;
use rc_channels::amazon::SpApiClient;
use rc_channels::shopify::{self, CallbackError, ShopifyAdmin};
use rc_domain::{
    LwaCredentials, MarketplaceId, MerchantId, Region, RevealPurpose, Secret, SellerId, ShopDomain,
};
use rc_orders::{
    AuditEvent, AuditLog, CONNECT_STATE_TTL_SECONDS, ConnectChannel, ConnectIntent, ConnectStates,
    ConnectionRepository, RepoError,
};
use serde::Serialize;

use crate::{ApiError, json};

pub const SHOPIFY_CALLBACK: &str = "/v1/connect/shopify/callback";
pub const AMAZON_CALLBACK: &str = "/v1/connect/amazon/callback";
/// Where Shopify delivers webhooks (the webhook function's route).
pub const SHOPIFY_WEBHOOKS: &str = "/webhooks/shopify";

/// What the connect flows need.
pub struct ConnectApi {
    pub states: Arc<ConnectStates>,
    pub connections: Arc<ConnectionRepository>,
    pub shopify: Arc<ShopifyAdmin>,
    pub amazon: Arc<SpApiClient>,
    pub audit: Arc<AuditLog>,
    /// Seller Central's address in a sandbox (`None`: each marketplace's own).
    pub seller_central_base: Option<String>,
}

#[derive(Serialize)]
struct Started<'a> {
    authorize_url: &'a str,
    expires_in: i64,
}

#[derive(Serialize)]
struct Connected<'a> {
    channel: &'static str,
    reference: &'a str,
    status: &'static str,
    /// Shopify: webhook subscriptions created now (0 when all existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    webhooks_created: Option<usize>,
    /// Amazon: `subscribed`, or `not_configured` when the deployment has no notifications queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    notifications: Option<&'static str>,
}

fn bad(reason: &'static str, message: &'static str) -> ApiError {
    ApiError::BadRequest { reason, message }
}

/// The query's parameters; a parameter given twice is refused.
fn parameters(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    shopify::unique_query_pairs(query.unwrap_or("")).ok_or(bad(
        "duplicated_parameter",
        "a query parameter is given more than once",
    ))
}

fn parameter<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty() && v.len() <= 512)
}

/// A 302 to `location`, with the same address and the state's lifetime in the body for API
/// clients that do not follow redirects.
fn redirect(location: &str) -> Result<Response<Bytes>, ApiError> {
    let mut response = json(
        StatusCode::FOUND,
        &Started {
            authorize_url: location,
            expires_in: CONNECT_STATE_TTL_SECONDS,
        },
    );
    let value = header::HeaderValue::from_str(location).map_err(|_| ApiError::Internal)?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}

fn upstream(error: &FetchError) -> ApiError {
    match error {
        FetchError::Refused { .. } | FetchError::Rejected(_) | FetchError::Unauthorized(_) => bad(
            "code_exchange_failed",
            "the marketplace refused the authorization; start the connection again",
        ),
        _ => ApiError::Upstream("marketplace_unavailable"),
    }
}

fn owned_elsewhere(error: RepoError) -> ApiError {
    match error {
        RepoError::Refused(_) => ApiError::InUse {
            reason: "connected_to_another_merchant",
            message: "this account is connected to another merchant",
        },
        other => other.into(),
    }
}

impl ConnectApi {
    fn public_base(&self) -> Result<String, ApiError> {
        self.connections
            .apps()
            .public_base_url
            .map(|base| base.trim_end_matches('/').to_owned())
            .ok_or(ApiError::AppNotConfigured("public URL"))
    }

    fn shopify_app(&self) -> Result<Arc<rc_domain::ShopifyApp>, ApiError> {
        self.connections
            .apps()
            .shopify
            .ok_or(ApiError::AppNotConfigured("Shopify"))
    }

    fn amazon_app(&self) -> Result<Arc<rc_domain::AmazonApp>, ApiError> {
        self.connections
            .apps()
            .amazon
            .ok_or(ApiError::AppNotConfigured("Amazon"))
    }

    /// The callback's address for `channel`.
    fn redirect_uri(&self, channel: ConnectChannel) -> Result<String, ApiError> {
        let callback = match channel {
            ConnectChannel::Shopify => SHOPIFY_CALLBACK,
            ConnectChannel::Amazon => AMAZON_CALLBACK,
        };
        Ok(format!("{}{callback}", self.public_base()?))
    }

    /// Starts a flow: its redirect URI and a fresh state bound to what it connects.
    async fn begin(
        &self,
        merchant: &MerchantId,
        actor: &str,
        channel: ConnectChannel,
        reference: String,
    ) -> Result<(String, String), ApiError> {
        let redirect_uri = self.redirect_uri(channel)?;
        let state = self
            .states
            .issue(&ConnectIntent {
                merchant: merchant.clone(),
                channel,
                reference,
                actor: actor.to_owned(),
            })
            .await?;
        Ok((redirect_uri, state))
    }

    /// `GET /v1/connect/shopify?shop=`: starts connecting a shop.
    pub(crate) async fn start_shopify(
        &self,
        merchant: &MerchantId,
        actor: &str,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let app = self.shopify_app()?;
        let pairs = parameters(query)?;
        let shop = parameter(&pairs, "shop")
            .and_then(|s| ShopDomain::parse(s).ok())
            .ok_or_else(|| ApiError::InvalidPayload {
                reason: "invalid_field",
                message: "parameter `shop` must look like name.myshopify.com".into(),
            })?;
        let (redirect_uri, state) = self
            .begin(merchant, actor, ConnectChannel::Shopify, shop.to_string())
            .await?;
        let base = self.shopify.shop_base(&shop);
        redirect(&shopify::authorize_url(
            &shop,
            &app,
            &redirect_uri,
            &state,
            Some(&base),
        ))
    }

    /// `GET /v1/connect/amazon?marketplace_id=…` (repeatable): starts connecting a seller.
    pub(crate) async fn start_amazon(
        &self,
        merchant: &MerchantId,
        actor: &str,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let app = self.amazon_app()?;
        let raw = shopify::query_pairs(query.unwrap_or(""));
        if raw.iter().any(|(k, _)| k != "marketplace_id") {
            return Err(ApiError::InvalidPayload {
                reason: "invalid_field",
                message: "only `marketplace_id` parameters are accepted".into(),
            });
        }
        let invalid = || ApiError::InvalidPayload {
            reason: "invalid_field",
            message: "`marketplace_id` must list 1 to 30 Amazon marketplaces of one region".into(),
        };
        if raw.is_empty() || raw.len() > 30 {
            return Err(invalid());
        }
        let mut marketplaces = raw
            .iter()
            .map(|(_, v)| MarketplaceId::try_from(v.clone()).map_err(|_| invalid()))
            .collect::<Result<Vec<_>, _>>()?;
        marketplaces.dedup();
        Region::of_marketplaces(&marketplaces).ok_or_else(invalid)?;
        let reference = marketplaces
            .iter()
            .map(MarketplaceId::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let (redirect_uri, state) = self
            .begin(merchant, actor, ConnectChannel::Amazon, reference)
            .await?;
        let url = rc_channels::amazon::consent_url(
            &marketplaces[0],
            &app,
            &redirect_uri,
            &state,
            self.seller_central_base.as_deref(),
        )
        .ok_or_else(invalid)?;
        redirect(&url)
    }

    async fn audit(
        &self,
        intent: &ConnectIntent,
        purpose: &str,
        subject: &str,
        request_id: &str,
    ) -> Result<(), ApiError> {
        self.audit
            .append(
                &intent.merchant,
                AuditEvent {
                    action: "connection_changed",
                    purpose,
                    actor: &intent.actor,
                    subject,
                    orders: &[],
                    request_id,
                },
            )
            .await?;
        Ok(())
    }

    /// `GET /v1/connect/shopify/callback`: Shopify's redirect after the merchant approved.
    pub(crate) async fn shopify_callback(
        &self,
        query: Option<&str>,
        request_id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        let app = self.shopify_app()?;
        // The signature first: nothing else is looked at (not even the state) unless Shopify
        // sent it.
        let callback = shopify::verify_callback(query.unwrap_or(""), &app.client_secret).map_err(
            |e| match e {
                CallbackError::BadSignature => ApiError::InvalidSignature,
                CallbackError::Malformed("duplicated_parameter") => bad(
                    "duplicated_parameter",
                    "a query parameter is given more than once",
                ),
                CallbackError::Malformed(_) => bad(
                    "invalid_callback",
                    "the callback lacks code, shop, state, timestamp or hmac",
                ),
            },
        )?;
        let shop = ShopDomain::parse(&callback.shop)
            .map_err(|_| bad("invalid_shop", "the shop is not a myshopify.com domain"))?;
        let intent = self
            .states
            .take(&callback.state, ConnectChannel::Shopify)
            .await?
            .ok_or(bad(
                "invalid_state",
                "the connection was not started here, has expired or was already completed",
            ))?;
        if intent.reference != shop.as_str() {
            return Err(bad(
                "shop_mismatch",
                "the shop is not the one the connection was started for",
            ));
        }
        let granted = self
            .shopify
            .exchange_code(&shop, &app, &callback.code)
            .await
            .map_err(|e| upstream(&e))?;
        if !shopify::scopes_cover(&granted.scope, &app.scopes) {
            return Err(bad(
                "scopes_not_granted",
                "the shop did not grant every access scope the app needs",
            ));
        }
        // Subscribed before anything is stored: a failure leaves no connection, and a retried
        // connect finds the subscriptions made and creates none twice.
        let webhooks = format!("{}{SHOPIFY_WEBHOOKS}", self.public_base()?);
        let created = self
            .shopify
            .subscribe_webhooks(&shop, &granted.access_token, &webhooks)
            .await
            .map_err(|e| match e {
                FetchError::Refused { .. } => bad(
                    "webhook_subscription_refused",
                    "Shopify refused a webhook subscription",
                ),
                other => upstream(&other),
            })?;
        self.connections
            .put_shopify_app(&intent.merchant, &shop, &granted.access_token)
            .await
            .map_err(owned_elsewhere)?;
        self.audit(&intent, "shopify_connected", shop.as_str(), request_id)
            .await?;
        tracing::info!(merchant = %intent.merchant, shop = %shop, created, "shopify connected through the app");
        Ok(json(
            StatusCode::OK,
            &Connected {
                channel: "shopify",
                reference: shop.as_str(),
                status: "connected",
                webhooks_created: Some(created),
                notifications: None,
            },
        ))
    }

    /// `GET /v1/connect/amazon/callback`: Amazon's redirect after the seller consented.
    pub(crate) async fn amazon_callback(
        &self,
        query: Option<&str>,
        request_id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        let app = self.amazon_app()?;
        let pairs = parameters(query)?;
        let missing = || {
            bad(
                "invalid_callback",
                "the callback lacks state, selling_partner_id or spapi_oauth_code",
            )
        };
        let state = parameter(&pairs, "state").ok_or_else(missing)?;
        let seller = parameter(&pairs, "selling_partner_id").ok_or_else(missing)?;
        let code = parameter(&pairs, "spapi_oauth_code").ok_or_else(missing)?;
        let seller = SellerId::try_from(seller.to_owned())
            .map_err(|_| bad("invalid_seller", "the selling partner id is malformed"))?;
        let intent = self
            .states
            .take(state, ConnectChannel::Amazon)
            .await?
            .ok_or(bad(
                "invalid_state",
                "the connection was not started here, has expired or was already completed",
            ))?;
        let marketplaces = intent
            .reference
            .split(',')
            .map(|m| MarketplaceId::try_from(m.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ApiError::Internal)?;
        let region = Region::of_marketplaces(&marketplaces).ok_or(ApiError::Internal)?;
        let redirect_uri = self.redirect_uri(ConnectChannel::Amazon)?;
        let refresh_token = self
            .amazon
            .exchange_authorization_code(&app, code, &redirect_uri)
            .await
            .map_err(|e| upstream(&e))?;
        // Subscribed before anything is stored, with the seller's fresh authorization.
        let subscription = match &app.notifications_queue_arn {
            Some(queue) => {
                let credentials = LwaCredentials {
                    client_id: app.client_id.clone(),
                    client_secret: Secret::new(
                        app.client_secret
                            .reveal(RevealPurpose::Authentication)
                            .clone(),
                    ),
                    refresh_token: Secret::new(
                        refresh_token.reveal(RevealPurpose::Authentication).clone(),
                    ),
                    region,
                };
                let destination = self
                    .amazon
                    .ensure_destination(&app, region, queue)
                    .await
                    .map_err(|_| ApiError::Upstream("notifications_unavailable"))?;
                let id = self
                    .amazon
                    .ensure_order_change_subscription(&app, &seller, &credentials, &destination)
                    .await
                    .map_err(|_| ApiError::Upstream("notifications_unavailable"))?;
                Some(id)
            }
            None => None,
        };
        self.connections
            .put_amazon_app(&intent.merchant, &seller, &marketplaces, &refresh_token)
            .await
            .map_err(owned_elsewhere)?;
        if let Some(id) = &subscription {
            self.connections
                .set_amazon_subscription(&intent.merchant, &seller, id)
                .await?;
        }
        self.audit(&intent, "amazon_connected", seller.as_str(), request_id)
            .await?;
        tracing::info!(merchant = %intent.merchant, seller = %seller, "amazon connected through the app");
        Ok(json(
            StatusCode::OK,
            &Connected {
                channel: "amazon",
                reference: seller.as_str(),
                status: "connected",
                webhooks_created: None,
                notifications: Some(if subscription.is_some() {
                    "subscribed"
                } else {
                    "not_configured"
                }),
            },
        ))
    }
}
