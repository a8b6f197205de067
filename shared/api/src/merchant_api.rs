//! The merchant API: orders (without PII) and channel connections (secrets in, never out).
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/orders?after=<token>` | the merchant's orders, 100 a page, public views |
//! | `GET /v1/orders/{order_id}` | the order's public view |
//! | `GET /v1/connections` | the merchant's connections, no secrets |
//! | `PUT /v1/connections/shopify/{shop}` | connect a shop, or rotate its secrets |
//! | `DELETE /v1/connections/shopify/{shop}` | disconnect it (secrets deleted, their key destroyed) |
//! | `PUT /v1/connections/amazon/{seller_id}` | connect an Amazon selling partner, or update it |
//! | `DELETE /v1/connections/amazon/{seller_id}` | disconnect it |
//! | `POST /v1/orders/{order_id}/shipped` | mark it shipped now (starts the PII clock) |
//! | `DELETE /v1/account` | cancel the account: body `{"confirm": "<merchant id>"}` |
//! | `GET /v1/account/cancellation` | where the cancellation stands, with its final receipt |
//! | `GET /v1/privacy/receipts?after=<seq>` | deletion receipts, in chain order |
//! | `GET /v1/privacy/receipts/verify` | verify the receipt chain |
//! | `GET /v1/privacy/requests?after=<id>` | privacy requests received from channels |
//! | `GET /v1/privacy/requests/{id}` | one request and its outcome |
//! | `GET /v1/privacy/requests/{id}/report` | a data request's report, opened now (`pii:read` key, audited) |
//! | `GET /v1/privacy/audit?after=<token>` | every PII access: who, why, which orders |
//!
//! | `GET /v1/inventory?after=<sku>` | the merchant's SKUs with their free units, 100 a page |
//! | `GET /v1/inventory/{sku}` | stock per warehouse, free units, kit, listings with what each may sell |
//! | `POST /v1/inventory/{sku}/adjustments` | `{"warehouse", "kind": set/add/receive/return, ..., "reason"}` |
//! | `PUT /v1/inventory/{sku}/kit` | `{"components": [{"sku", "quantity"}]}` |
//! | `PUT /v1/inventory/{sku}/listings` | a Shopify or Amazon listing of the SKU and its allocation |
//! | `GET /v1/inventory-ledger?after=<token>` | every stock change, oldest first |
//!
//! After a cancellation the merchant's keys answer `410 account_closed`, except on the
//! cancellation status and the receipts, which stay readable (they hold no PII).

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use rc_channels::shopify::ShopDomain;
use rc_domain::{OrderId, Secret, SecretText};
use rc_orders::{
    ApiKeyRepository, ConnectionRepository, KeyOwner, OrderRepository, PresentedKey, Scope,
    ShopifyCredentials,
};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::inventory_routes::sku_from_path;
use crate::{ApiError, InventoryApi, PrivacyApi, json};

/// The largest merchant API request body.
pub const MAX_API_BODY: usize = 64 * 1024;

pub struct MerchantApi {
    orders: Arc<OrderRepository>,
    api_keys: Arc<ApiKeyRepository>,
    connections: Arc<ConnectionRepository>,
    privacy: PrivacyApi,
    inventory: InventoryApi,
}

enum Route {
    Inventory(Option<String>),
    Stock(rc_domain::Sku),
    AdjustStock(rc_domain::Sku),
    Kit(rc_domain::Sku),
    Listing(rc_domain::Sku),
    Ledger(Option<String>),
    Orders(Option<String>),
    Order(OrderId),
    MarkShipped(OrderId),
    CancelAccount,
    CancellationStatus,
    Receipts(Option<String>),
    VerifyReceipts,
    PrivacyRequests(Option<String>),
    PrivacyRequest(String),
    PrivacyReport(String),
    PiiAudit(Option<String>),
    Connections,
    ShopifyConnection(ShopDomain),
    AmazonConnection(String),
}

/// `PUT /v1/connections/amazon/{seller_id}`. Zeroized when dropped; never logged or echoed.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ConnectAmazon {
    marketplace_ids: Vec<String>,
    lwa_client_id: String,
    lwa_client_secret: String,
    refresh_token: String,
}

/// Amazon seller ids and marketplace ids: upper-case letters and digits.
fn amazon_id(raw: &str, field: &'static str) -> Result<String, ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::InvalidPayload {
            reason: "invalid_field",
            message: format!("field `{field}` is invalid"),
        })
    }
}

/// `PUT /v1/connections/shopify/{shop}`. Zeroized when dropped; never logged or echoed.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ConnectShopify {
    webhook_secret: String,
    #[serde(default)]
    previous_webhook_secret: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Serialize)]
struct Connected<'a> {
    channel: &'static str,
    reference: &'a str,
    status: &'static str,
}

fn secret(raw: &str, field: &'static str) -> Result<Secret<SecretText>, ApiError> {
    SecretText::parse(raw)
        .map(Secret::new)
        .map_err(|_| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: format!("field `{field}` is invalid"),
        })
}

impl MerchantApi {
    pub fn new(
        orders: Arc<OrderRepository>,
        api_keys: Arc<ApiKeyRepository>,
        connections: Arc<ConnectionRepository>,
        privacy: PrivacyApi,
        inventory: InventoryApi,
    ) -> Self {
        Self {
            orders,
            api_keys,
            connections,
            privacy,
            inventory,
        }
    }

    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        match self.process(request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn merchant(&self, request: &Request<Bytes>) -> Result<PresentedKey, ApiError> {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        self.api_keys
            .owner(token)
            .await?
            .ok_or(ApiError::Unauthorized)
    }

    fn route(request: &Request<Bytes>) -> Result<Route, ApiError> {
        let path = request.uri().path();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = request.method();
        let allow = |allowed: &[Method]| {
            if allowed.contains(method) {
                Ok(())
            } else {
                Err(ApiError::MethodNotAllowed)
            }
        };
        let after = || {
            request
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("after=")))
                .map(str::to_owned)
        };
        // Privacy request ids are Shopify webhook ids: the identifier alphabet only.
        let request_id = |id: &str| {
            rc_domain::OrderId::parse(id)
                .map(|_| id.to_owned())
                .map_err(|_| ApiError::NotFound)
        };
        match segments.as_slice() {
            ["v1", "inventory"] => {
                allow(&[Method::GET])?;
                Ok(Route::Inventory(after()))
            }
            ["v1", "inventory", sku] => {
                allow(&[Method::GET])?;
                sku_from_path(sku).map(Route::Stock)
            }
            ["v1", "inventory", sku, "adjustments"] => {
                allow(&[Method::POST])?;
                sku_from_path(sku).map(Route::AdjustStock)
            }
            ["v1", "inventory", sku, "kit"] => {
                allow(&[Method::PUT])?;
                sku_from_path(sku).map(Route::Kit)
            }
            ["v1", "inventory", sku, "listings"] => {
                allow(&[Method::PUT])?;
                sku_from_path(sku).map(Route::Listing)
            }
            ["v1", "inventory-ledger"] => {
                allow(&[Method::GET])?;
                Ok(Route::Ledger(after()))
            }
            ["v1", "orders"] => {
                allow(&[Method::GET])?;
                Ok(Route::Orders(after()))
            }
            ["v1", "orders", id, "shipped"] => {
                allow(&[Method::POST])?;
                OrderId::parse(id)
                    .map(Route::MarkShipped)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "account"] => {
                allow(&[Method::DELETE])?;
                Ok(Route::CancelAccount)
            }
            ["v1", "account", "cancellation"] => {
                allow(&[Method::GET])?;
                Ok(Route::CancellationStatus)
            }
            ["v1", "privacy", "receipts"] => {
                allow(&[Method::GET])?;
                Ok(Route::Receipts(after()))
            }
            ["v1", "privacy", "receipts", "verify"] => {
                allow(&[Method::GET])?;
                Ok(Route::VerifyReceipts)
            }
            ["v1", "privacy", "audit"] => {
                allow(&[Method::GET])?;
                Ok(Route::PiiAudit(after()))
            }
            ["v1", "privacy", "requests"] => {
                allow(&[Method::GET])?;
                Ok(Route::PrivacyRequests(after()))
            }
            ["v1", "privacy", "requests", id] => {
                allow(&[Method::GET])?;
                request_id(id).map(Route::PrivacyRequest)
            }
            ["v1", "privacy", "requests", id, "report"] => {
                allow(&[Method::GET])?;
                request_id(id).map(Route::PrivacyReport)
            }
            ["v1", "orders", id] => {
                allow(&[Method::GET])?;
                OrderId::parse(id)
                    .map(Route::Order)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "connections"] => {
                allow(&[Method::GET])?;
                Ok(Route::Connections)
            }
            ["v1", "connections", "shopify", shop] => {
                allow(&[Method::PUT, Method::DELETE])?;
                ShopDomain::parse(shop)
                    .map(Route::ShopifyConnection)
                    .map_err(|_| ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "shop must look like name.myshopify.com".into(),
                    })
            }
            ["v1", "connections", "amazon", seller] => {
                allow(&[Method::PUT, Method::DELETE])?;
                amazon_id(seller, "seller_id").map(Route::AmazonConnection)
            }
            _ => Err(ApiError::NotFound),
        }
    }

    async fn process(&self, request: Request<Bytes>) -> Result<Response<Bytes>, ApiError> {
        // Authenticate before routing, so unauthenticated callers learn nothing about routes.
        let key = self.merchant(&request).await?;
        if request.body().len() > MAX_API_BODY {
            return Err(ApiError::PayloadTooLarge(MAX_API_BODY));
        }
        let route = Self::route(&request)?;
        let merchant = match key.owner.clone() {
            KeyOwner::Active(merchant) => merchant,
            // A cancelled account can still read how its cancellation ended, and its receipts.
            KeyOwner::Closed(merchant)
                if matches!(
                    route,
                    Route::CancellationStatus | Route::Receipts(_) | Route::VerifyReceipts
                ) =>
            {
                merchant
            }
            KeyOwner::Closed(_) => return Err(ApiError::AccountClosed),
        };
        match route {
            Route::Inventory(after) => self.inventory.list(&merchant, after.as_deref()).await,
            Route::Stock(sku) => self.inventory.show(&merchant, &sku).await,
            Route::AdjustStock(sku) => {
                // Optional, as in most payment APIs: a client retrying with the same key gets
                // the first outcome's stock and no second change.
                let key = match request.headers().get("idempotency-key") {
                    None => None,
                    Some(value) => Some(
                        value
                            .to_str()
                            .ok()
                            .filter(|k| !k.is_empty() && k.len() <= 255)
                            .ok_or(ApiError::MissingHeader("Idempotency-Key"))?,
                    ),
                };
                self.inventory
                    .adjust(&merchant, &sku, request.body(), key)
                    .await
            }
            Route::Kit(sku) => {
                self.inventory
                    .define_kit(&merchant, &sku, request.body())
                    .await
            }
            Route::Listing(sku) => {
                self.inventory
                    .put_listing(&merchant, &sku, request.body())
                    .await
            }
            Route::Ledger(after) => self.inventory.ledger(&merchant, after.as_deref()).await,
            Route::MarkShipped(order) => {
                let view = self
                    .orders
                    .mark_shipped(&merchant, &order)
                    .await
                    .map_err(|e| match e {
                        rc_orders::RepoError::Refused(_) => ApiError::Conflict,
                        other => other.into(),
                    })?
                    .ok_or(ApiError::NotFound)?;
                Ok(json(StatusCode::OK, &view))
            }
            Route::CancelAccount => self.privacy.cancel_account(&merchant, request.body()).await,
            Route::CancellationStatus => self.privacy.cancellation_status(&merchant).await,
            Route::Receipts(after) => self.privacy.receipts(&merchant, after.as_deref()).await,
            Route::VerifyReceipts => self.privacy.verify_receipts(&merchant).await,
            Route::PrivacyRequests(after) => {
                self.privacy.requests(&merchant, after.as_deref()).await
            }
            Route::PrivacyRequest(id) => self.privacy.request(&merchant, &id).await,
            Route::PrivacyReport(id) => {
                // Opening buyer PII takes a key made for it, and is recorded.
                if !key.has(Scope::PiiRead) {
                    return Err(ApiError::ScopeRequired(Scope::PiiRead.as_str()));
                }
                self.privacy
                    .report(&self.orders, &merchant, &id, &key.key_id)
                    .await
            }
            Route::PiiAudit(after) => self.privacy.audit(&merchant, after.as_deref()).await,
            Route::Orders(after) => {
                // The continuation is an order id (the last one listed); only ids are accepted.
                let after = after
                    .map(|a| OrderId::parse(&a).map_err(|_| ApiError::NotFound))
                    .transpose()?
                    .map(|id| rc_store::PageToken(format!("ORDER#{id}")));
                let page = self.orders.list(&merchant, 100, after).await?;
                let next = page.next.as_ref().and_then(|t| t.0.strip_prefix("ORDER#"));
                Ok(json(
                    StatusCode::OK,
                    &serde_json::json!({ "orders": page.items, "next": next }),
                ))
            }
            Route::Order(order) => {
                let view = self
                    .orders
                    .view(&merchant, &order)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                Ok(json(StatusCode::OK, &view))
            }
            Route::Connections => {
                let connections = self.connections.list(&merchant).await?;
                Ok(json(
                    StatusCode::OK,
                    &serde_json::json!({ "connections": connections }),
                ))
            }
            Route::AmazonConnection(seller) if request.method() == Method::DELETE => {
                if !self.connections.remove_amazon(&merchant, &seller).await? {
                    return Err(ApiError::NotFound);
                }
                tracing::info!(%merchant, seller = %seller, "amazon connection removed");
                Ok(json(
                    StatusCode::OK,
                    &Connected {
                        channel: "amazon",
                        reference: &seller,
                        status: "disconnected",
                    },
                ))
            }
            Route::AmazonConnection(seller) => {
                let body: ConnectAmazon = serde_json::from_slice(request.body())
                    .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
                if body.marketplace_ids.is_empty() || body.marketplace_ids.len() > 30 {
                    return Err(ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `marketplace_ids` must list 1 to 30 marketplaces".into(),
                    });
                }
                let marketplaces = body
                    .marketplace_ids
                    .iter()
                    .map(|m| amazon_id(m, "marketplace_ids"))
                    .collect::<Result<Vec<_>, _>>()?;
                let client_id = body.lwa_client_id.trim();
                if client_id.is_empty()
                    || client_id.len() > 256
                    || client_id.chars().any(char::is_control)
                {
                    return Err(ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `lwa_client_id` is invalid".into(),
                    });
                }
                // A seller authorizes us per region: one connection serves one region.
                let region = rc_channels::amazon::Region::of_marketplaces(&marketplaces).ok_or(
                    ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `marketplace_ids` must list Amazon marketplaces of one region (NA, EU or FE)".into(),
                    },
                )?;
                let credentials = rc_channels::amazon::Credentials {
                    client_id: client_id.to_owned(),
                    client_secret: secret(&body.lwa_client_secret, "lwa_client_secret")?,
                    refresh_token: secret(&body.refresh_token, "refresh_token")?,
                    region,
                };
                drop(body);
                self.connections
                    .put_amazon(&merchant, &seller, &marketplaces, &credentials)
                    .await
                    .map_err(|e| match e {
                        rc_orders::RepoError::Refused(_) => ApiError::Conflict,
                        other => other.into(),
                    })?;
                tracing::info!(%merchant, seller = %seller, "amazon connection saved");
                Ok(json(
                    StatusCode::OK,
                    &Connected {
                        channel: "amazon",
                        reference: &seller,
                        status: "connected",
                    },
                ))
            }
            Route::ShopifyConnection(shop) if request.method() == Method::DELETE => {
                if !self.connections.remove_shopify(&merchant, &shop).await? {
                    return Err(ApiError::NotFound);
                }
                tracing::info!(%merchant, shop = %shop, "shopify connection removed");
                Ok(json(
                    StatusCode::OK,
                    &Connected {
                        channel: "shopify",
                        reference: shop.as_str(),
                        status: "disconnected",
                    },
                ))
            }
            Route::ShopifyConnection(shop) => {
                let body: ConnectShopify = serde_json::from_slice(request.body())
                    .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
                let credentials = ShopifyCredentials {
                    webhook_secret: secret(&body.webhook_secret, "webhook_secret")?,
                    previous_webhook_secret: body
                        .previous_webhook_secret
                        .as_deref()
                        .map(|s| secret(s, "previous_webhook_secret"))
                        .transpose()?,
                    access_token: body
                        .access_token
                        .as_deref()
                        .map(|s| secret(s, "access_token"))
                        .transpose()?,
                };
                drop(body);
                self.connections
                    .put_shopify(&merchant, &shop, &credentials)
                    .await
                    .map_err(|e| match e {
                        rc_orders::RepoError::Refused(_) => ApiError::Conflict,
                        other => other.into(),
                    })?;
                tracing::info!(%merchant, shop = %shop, "shopify connection saved");
                Ok(json(
                    StatusCode::OK,
                    &Connected {
                        channel: "shopify",
                        reference: shop.as_str(),
                        status: "connected",
                    },
                ))
            }
        }
    }
}
