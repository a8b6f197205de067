//! The Shopify webhook receiver: authenticate the raw body, deduplicate, seal, store, answer fast.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use rc_channels::shopify::{self, ComplianceKind, PayloadError, ShopDomain, headers};
use rc_domain::OrderStatus;
use rc_orders::{
    ConnectionRepository, DeliveryMark, OrderRepository, PrivacyRequestRepository,
    ShopifyConnection, StoreOutcome,
};
use serde::Serialize;

use crate::{ApiError, json};

/// The largest webhook body accepted. Shopify orders with hundreds of lines stay far below it;
/// anything larger is refused before it is hashed or parsed.
pub const MAX_WEBHOOK_BODY: usize = 2 * 1024 * 1024;

pub struct ShopifyWebhook {
    orders: Arc<OrderRepository>,
    connections: Arc<ConnectionRepository>,
    privacy_requests: Arc<PrivacyRequestRepository>,
    /// Where an uninstall's disconnection is recorded.
    audit: Arc<rc_orders::AuditLog>,
}

#[derive(Serialize)]
struct Accepted {
    status: &'static str,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingHeader(name))
}

/// Delivery ids become part of store keys: only a safe alphabet is accepted.
fn webhook_id(headers: &HeaderMap) -> Result<String, ApiError> {
    let id = header(headers, headers::WEBHOOK_ID)?;
    let safe = id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if safe {
        Ok(id.to_owned())
    } else {
        Err(ApiError::MissingHeader(headers::WEBHOOK_ID))
    }
}

impl ShopifyWebhook {
    pub fn new(
        orders: Arc<OrderRepository>,
        connections: Arc<ConnectionRepository>,
        privacy_requests: Arc<PrivacyRequestRepository>,
        audit: Arc<rc_orders::AuditLog>,
    ) -> Self {
        Self {
            orders,
            connections,
            privacy_requests,
            audit,
        }
    }

    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        match self.process(request).await {
            Ok(status) => json(StatusCode::OK, &Accepted { status }),
            Err(error) => {
                tracing::info!(
                    status = error.status().as_u16(),
                    reason = error.reason(),
                    "shopify webhook refused"
                );
                error.into_response()
            }
        }
    }

    /// The shop's connection, if `signature` is a valid signature of `body` under one of its
    /// secrets.
    async fn authenticate(
        &self,
        shop: &ShopDomain,
        body: &[u8],
        signature: &str,
    ) -> Result<Arc<ShopifyConnection>, ApiError> {
        // A shop that is not connected is answered exactly like a bad signature, after the same
        // work (an HMAC under a throwaway secret), so nobody can learn which shops are customers.
        let Some(connection) = self.connections.shopify(shop).await? else {
            shopify::verify_for_nobody(body, signature);
            return Err(ApiError::InvalidSignature);
        };
        if shopify::verify(&connection.webhook_secrets, body, signature) {
            Ok(connection)
        } else {
            Err(ApiError::InvalidSignature)
        }
    }

    async fn process(&self, request: Request<Bytes>) -> Result<&'static str, ApiError> {
        if request.method() != Method::POST {
            return Err(ApiError::MethodNotAllowed);
        }
        let (parts, body) = request.into_parts();
        if body.len() > MAX_WEBHOOK_BODY {
            return Err(ApiError::PayloadTooLarge(MAX_WEBHOOK_BODY));
        }
        let signature =
            header(&parts.headers, headers::HMAC).map_err(|_| ApiError::InvalidSignature)?;
        let shop = header(&parts.headers, headers::SHOP_DOMAIN)
            .ok()
            .and_then(|s| ShopDomain::parse(s).ok())
            .ok_or(ApiError::MissingHeader(headers::SHOP_DOMAIN))?;
        let topic = header(&parts.headers, headers::TOPIC)?.to_owned();
        let delivery_id = webhook_id(&parts.headers)?;

        let connection = self.authenticate(&shop, &body, signature).await?;
        let mark = DeliveryMark {
            channel: "shopify",
            source: shop.to_string(),
            delivery_id,
        };
        let outcome = match Topic::parse(&topic).ok_or(ApiError::UnsupportedTopic)? {
            Topic::Order(reported) => self.order(&connection, &body, reported, &mark).await?,
            Topic::Compliance(kind) => self.compliance(&connection, &body, kind, &mark).await?,
            Topic::AppUninstalled => self.uninstalled(&connection, &mark).await?,
        };
        Ok(match outcome {
            StoreOutcome::Stored => "stored",
            StoreOutcome::Updated => "updated",
            StoreOutcome::Stale => "stale",
            StoreOutcome::Duplicate => "duplicate",
        })
    }

    async fn order(
        &self,
        connection: &ShopifyConnection,
        body: &[u8],
        reported: OrderStatus,
        mark: &DeliveryMark,
    ) -> Result<StoreOutcome, ApiError> {
        let mut parsed = shopify::parse_order(&connection.merchant, body).map_err(payload_error)?;
        // The topic says more than the payload: `orders/fulfilled` means shipped, whatever
        // fulfillment_status says; a cancelled_at in any payload means cancelled.
        parsed.order.status = parsed.order.status.merged_with(reported);
        let outcome = self.orders.upsert(&parsed.order, Some(mark)).await?;
        tracing::info!(
            merchant = %parsed.order.merchant,
            order = %parsed.order.id,
            outcome = ?outcome,
            dropped_fields = ?parsed.dropped,
            "shopify order received"
        );
        Ok(outcome)
    }

    async fn compliance(
        &self,
        connection: &ShopifyConnection,
        body: &[u8],
        kind: ComplianceKind,
        mark: &DeliveryMark,
    ) -> Result<StoreOutcome, ApiError> {
        let request = shopify::parse_compliance(kind, body).map_err(payload_error)?;
        // The payload must name the shop that signed it (both parsed, so lower case).
        if request.shop_domain != connection.shop {
            return Err(payload_error(PayloadError::Invalid("shop_domain")));
        }
        let outcome = self
            .privacy_requests
            .record(&connection.merchant, &request, mark)
            .await?;
        tracing::info!(
            merchant = %connection.merchant,
            kind = kind.as_str(),
            orders = request.orders.len(),
            outcome = ?outcome,
            "shopify compliance request recorded"
        );
        Ok(outcome)
    }
}

impl ShopifyWebhook {
    /// `app/uninstalled`: the merchant removed our app from the shop, so its token no longer
    /// works — the connection is removed (its token and key destroyed) and the audit trail says
    /// so. A repeated delivery finds nothing left to remove.
    async fn uninstalled(
        &self,
        connection: &ShopifyConnection,
        mark: &DeliveryMark,
    ) -> Result<StoreOutcome, ApiError> {
        let removed = self
            .connections
            .remove_shopify(&connection.merchant, &connection.shop)
            .await?;
        if !removed {
            return Ok(StoreOutcome::Duplicate);
        }
        self.audit
            .append(
                &connection.merchant,
                rc_orders::AuditEvent {
                    action: "connection_changed",
                    purpose: "shopify_uninstalled",
                    actor: "shopify",
                    subject: connection.shop.as_str(),
                    orders: &[],
                    request_id: &mark.delivery_id,
                },
            )
            .await?;
        tracing::info!(merchant = %connection.merchant, shop = %connection.shop, "shopify app uninstalled; connection removed");
        Ok(StoreOutcome::Stored)
    }
}

/// What a topic asks of us.
enum Topic {
    /// An order payload, and the status the topic itself reports.
    Order(OrderStatus),
    Compliance(ComplianceKind),
    /// Our app was removed from the shop.
    AppUninstalled,
}

impl Topic {
    fn parse(topic: &str) -> Option<Self> {
        match topic {
            "orders/create" | "orders/updated" => Some(Self::Order(OrderStatus::Received)),
            "orders/cancelled" => Some(Self::Order(OrderStatus::Cancelled)),
            "orders/fulfilled" => Some(Self::Order(OrderStatus::Shipped)),
            "app/uninstalled" => Some(Self::AppUninstalled),
            other => ComplianceKind::from_topic(other).map(Self::Compliance),
        }
    }
}

fn payload_error(e: PayloadError) -> ApiError {
    match e {
        PayloadError::Malformed(message) => ApiError::MalformedJson(message),
        other => ApiError::InvalidPayload {
            reason: other.reason(),
            message: other.to_string(),
        },
    }
}
