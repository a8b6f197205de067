//! The merchant API's order routes: orders without PII, one at a time or a page at a time, and
//! routing one again (shipping outside RetailCoder is a fulfillment route).

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{MerchantId, OrderId};
use rc_inventory::{Reservations, RouteRequest};
use rc_orders::{OrderRepository, RepoError};

use crate::{ApiError, json};

/// Orders per page.
const PAGE: usize = 100;

/// `GET /v1/orders?after=<order id>`: the continuation is the last order id listed.
pub(crate) async fn list(
    orders: &OrderRepository,
    merchant: &MerchantId,
    after: Option<&str>,
) -> Result<Response<Bytes>, ApiError> {
    let after = after
        .map(|a| OrderId::parse(a).map_err(|_| ApiError::NotFound))
        .transpose()?;
    let (items, next) = orders.list(merchant, PAGE, after.as_ref()).await?;
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
