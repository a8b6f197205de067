//! The merchant API's order routes: orders without PII, one at a time or a page at a time, and
//! routing one again (shipping outside RetailCoder is a fulfillment route).

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{Channel, MerchantId, OrderId, OrderStatus};
use rc_inventory::{Reservations, RouteRequest};
use rc_orders::{OrderRepository, RepoError};

use crate::{ApiError, json};

/// Orders per page.
const PAGE: usize = 100;

/// Which orders `GET /v1/orders` lists: one status (or the two that need action), one channel,
/// both, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct OrderFilter {
    status: Option<StatusFilter>,
    channel: Option<Channel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusFilter {
    NeedsAction,
    Is(OrderStatus),
}

impl OrderFilter {
    /// From the query's `status` and `channel` values (as sent: both are plain words, so there
    /// is nothing to decode); anything unknown is refused without echoing it.
    pub(crate) fn parse(status: Option<&str>, channel: Option<&str>) -> Result<Self, ApiError> {
        let unknown = |message: &str| ApiError::InvalidPayload {
            reason: "unknown_filter",
            message: message.into(),
        };
        let status = match status {
            None => None,
            Some("needs_action") => Some(StatusFilter::NeedsAction),
            Some(raw) => Some(StatusFilter::Is(OrderStatus::parse(raw).ok_or_else(
                || {
                    unknown(
                        "`status` must be needs_action, received, backordered, reserved, \
                     needs_attention, label_created, shipped, delivered or cancelled",
                    )
                },
            )?)),
        };
        let channel = channel
            .map(|raw| {
                Channel::parse(raw).ok_or_else(|| unknown("`channel` must be shopify or amazon"))
            })
            .transpose()?;
        Ok(Self { status, channel })
    }
}

/// `GET /v1/orders?status=&channel=&after=<order id>`: the continuation is the last order id
/// listed. Every filter reads its own index (orders by id, by status, or needing action), never
/// a scan of the account.
pub(crate) async fn list(
    orders: &OrderRepository,
    merchant: &MerchantId,
    filter: OrderFilter,
    after: Option<&str>,
) -> Result<Response<Bytes>, ApiError> {
    let after = after
        .map(|a| OrderId::parse(a).map_err(|_| ApiError::NotFound))
        .transpose()?;
    let after = after.as_ref();
    let (items, next) = match filter.status {
        None => orders.list(merchant, filter.channel, PAGE, after).await?,
        Some(StatusFilter::NeedsAction) => {
            orders
                .needing_action(merchant, filter.channel, PAGE, after)
                .await?
        }
        Some(StatusFilter::Is(status)) => {
            orders
                .in_status(merchant, status, filter.channel, PAGE, after)
                .await?
        }
    };
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "orders": items, "next": next }),
    ))
}

/// `GET /v1/orders/{order_id}`: the public view, with its reservation and routing decision
/// (`reservation` is null until the order is processed).
pub(crate) async fn show(
    orders: &OrderRepository,
    reservations: &Reservations,
    merchant: &MerchantId,
    order: &OrderId,
) -> Result<Response<Bytes>, ApiError> {
    let view = orders
        .view(merchant, order)
        .await?
        .ok_or(ApiError::NotFound)?;
    let reservation = reservations.get(merchant, order).await?;
    let mut body = serde_json::to_value(&view).map_err(|_| ApiError::Internal)?;
    body["reservation"] = match reservation {
        Some(r) => serde_json::json!({
            "state": r.state.as_str(),
            "allocations": r.allocations,
            "shortfall": r.shortfall,
            "note": r.note,
            "routing": r.routing,
        }),
        None => serde_json::Value::Null,
    };
    // When the buyer's data goes, and why (no PII: a date and a rule).
    body["pii_deadline"] = match orders.pii_deadline(merchant, order).await? {
        Some(deadline) => serde_json::json!({
            "at": deadline
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|_| ApiError::Internal)?,
            "rule": deadline.rule.as_str(),
        }),
        None => serde_json::Value::Null,
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /v1/orders/{order_id}/route`: routes again an order held as `needs_attention` (after the
/// merchant fixed its address, a warehouse or a rule) and plans its shipments. 409
/// `not_needing_attention` when it holds no units waiting for a decision; 409 with the reason
/// (`address_not_shippable`, `no_warehouse_serves`, `no_stock`) while it still cannot be routed.
pub(crate) async fn reroute(
    orders: &OrderRepository,
    reservations: &Reservations,
    planner: &rc_fulfillment::ShipmentPlanner,
    merchant: &MerchantId,
    order: &OrderId,
) -> Result<Response<Bytes>, ApiError> {
    let view = orders
        .view(merchant, order)
        .await?
        .ok_or(ApiError::NotFound)?;
    let to = RouteRequest {
        destination: orders.destination(merchant, order, &view).await?,
        channel: view.channel,
    };
    let Some(routed) = reservations
        .reroute(merchant, order, &view.lines, &to)
        .await?
    else {
        return Err(ApiError::InUse {
            reason: "not_needing_attention",
            message: "the order holds no units waiting for a routing decision",
        });
    };
    if routed.needs_attention() || routed.state != rc_inventory::ReservationState::Reserved {
        let reason = match routed.routing.as_ref().and_then(|r| r.attention.as_deref()) {
            Some("address_not_shippable") => "address_not_shippable",
            Some(_) => "no_warehouse_serves",
            None => "no_stock",
        };
        return Err(ApiError::InUse {
            reason,
            message: "the order still cannot be routed as it stands; nothing changed",
        });
    }
    orders
        .advance_status(merchant, order, rc_domain::OrderStatus::Reserved)
        .await
        .map_err(|e| match e {
            RepoError::Refused(_) => ApiError::Conflict,
            other => other.into(),
        })?;
    if let Some(decision) = &routed.routing {
        planner.plan(merchant, order, decision).await?;
    }
    tracing::info!(%merchant, %order, "order routed again");
    show(orders, reservations, merchant, order).await
}

/// Why a merchant's staff opens an order's buyer: one of a short list, recorded in the audit
/// trail with the opening (free text could carry PII into the trail).
pub const REVEAL_REASONS: [&str; 3] = ["customer_service", "delivery_issue", "return_or_refund"];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RevealRequest {
    reason: String,
}

/// `POST /v1/orders/{order_id}/buyer` with `{"reason": "customer_service"}`: the buyer's name,
/// e-mail, phone and addresses — recorded before they are read (`pii_reveal`, the reason as
/// the purpose, the order), `"purged"` once the 30-day rule has deleted them.
pub(crate) async fn reveal_buyer(
    orders: &OrderRepository,
    audit: &rc_orders::AuditLog,
    merchant: &MerchantId,
    order: &OrderId,
    body: &[u8],
    actor: &rc_orders::Actor<'_>,
) -> Result<Response<Bytes>, ApiError> {
    let request: RevealRequest =
        serde_json::from_slice(body).map_err(|_| ApiError::InvalidPayload {
            reason: "invalid_body",
            message: "expected {\"reason\": \"customer_service\" | \"delivery_issue\" | \"return_or_refund\"}".into(),
        })?;
    let Some(reason) = REVEAL_REASONS.into_iter().find(|r| *r == request.reason) else {
        return Err(ApiError::InvalidPayload {
            reason: "unknown_reason",
            message: "field `reason` must be customer_service, delivery_issue or return_or_refund"
                .into(),
        });
    };
    // The order must be the merchant's: another tenant's id is as unknown as a made-up one.
    orders
        .view(merchant, order)
        .await?
        .ok_or(ApiError::NotFound)?;
    let opened = [order.as_str().to_owned()];
    audit
        .record(
            merchant,
            rc_orders::PiiAccess {
                action: "pii_reveal",
                purpose: reason,
                actor,
                subject: order.as_str(),
                orders: &opened,
            },
        )
        .await?;
    let buyer = match orders.buyer(merchant, order).await {
        Ok(Some(buyer)) => {
            crate::privacy_routes::buyer_json(&buyer, rc_domain::RevealPurpose::OrderSupport)
        }
        Ok(None) | Err(RepoError::Vault(rc_vault::VaultError::KeyDestroyed)) => {
            serde_json::json!("purged")
        }
        Err(e) => return Err(e.into()),
    };
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "order": order.as_str(), "reason": reason, "buyer": buyer }),
    ))
}
