//! Shopify fulfillment through fulfillment orders (Admin GraphQL): read an order's fulfillment
//! orders and fulfillments, `fulfillmentCreate` with `lineItemsByFulfillmentOrder` and
//! `trackingInfo`, and `fulfillmentTrackingInfoUpdate` when a tracking number changes.
//! `fulfillmentCreate` has no idempotency key: a caller reads the order's fulfillments first and
//! takes one carrying its tracking number as its own (see `rc_fulfillment::Confirmer`).
//! Business refusals come back as `userErrors` in a 200; throttling as a `THROTTLED` error,
//! retried with backoff by the GraphQL client.

use rc_domain::{Secret, SecretText};
use serde_json::{Value, json};

use super::{ShopDomain, ShopifyAdmin};
use crate::FetchError;

/// The order's fulfillments and fulfillment orders: 50 fulfillment orders of up to 250 lines (an
/// order holds far fewer; Shopify's pages hold at most 250).
pub const ORDER_FULFILLMENT_QUERY: &str = "query OrderFulfillment($id: ID!) { order(id: $id) { id fulfillments(first: 50) { id trackingInfo(first: 10) { number company } } fulfillmentOrders(first: 50) { nodes { id status lineItems(first: 250) { nodes { id remainingQuantity lineItem { id sku } } } } } } }";

pub const FULFILLMENT_CREATE: &str = "mutation FulfillmentCreate($fulfillment: FulfillmentInput!) { fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status } userErrors { field message } } }";

pub const TRACKING_UPDATE: &str = "mutation FulfillmentTrackingInfoUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) { fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) { fulfillment { id } userErrors { field message } } }";

/// One line of a fulfillment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrderLine {
    /// `gid://shopify/FulfillmentOrderLineItem/…`
    pub id: String,
    /// The order line's numeric id (what the order webhook called `line_items[].id`).
    pub line_item_id: Option<String>,
    pub sku: Option<String>,
    pub remaining: i64,
}

/// A fulfillment order: what one location should fulfil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrder {
    pub id: String,
    pub status: String,
    pub lines: Vec<FulfillmentOrderLine>,
}

/// An order's fulfillment state at Shopify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFulfillment {
    /// Existing fulfillments: (id, tracking numbers).
    pub fulfillments: Vec<(String, Vec<String>)>,
    pub fulfillment_orders: Vec<FulfillmentOrder>,
}

/// What to fulfil from one fulfillment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrderLines {
    pub fulfillment_order_id: String,
    /// (fulfillment order line item id, quantity)
    pub lines: Vec<(String, i64)>,
}

/// The tracking a customer is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingInfo {
    pub company: String,
    pub number: String,
    pub url: Option<String>,
}

impl TrackingInfo {
    /// The `FulfillmentTrackingInput` of both mutations.
    fn input(&self) -> Value {
        let mut input = json!({"company": self.company, "number": self.number});
        if let Some(url) = &self.url {
            input["url"] = json!(url);
        }
        input
    }
}

/// What a mutation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulfillmentOutcome {
    /// The fulfillment's id.
    Done(String),
    /// Refused (`userErrors`): the fields named, never the messages (they may quote input).
    Refused(Vec<String>),
}

fn numeric_tail(gid: &str) -> Option<String> {
    gid.rsplit('/')
        .next()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

fn user_errors(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            e["field"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "unknown".to_owned())
        })
        .collect()
}

impl ShopifyAdmin {
    /// The order's fulfillments and fulfillment orders; `NotFound` when the shop has no such
    /// order.
    pub async fn order_fulfillment(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        order_id: u64,
    ) -> Result<OrderFulfillment, FetchError> {
        let body = json!({
            "query": ORDER_FULFILLMENT_QUERY,
            "variables": {"id": format!("gid://shopify/Order/{order_id}")},
        });
        let data = self.graphql(shop, access_token, &body).await?;
        let order = &data["order"];
        if order.is_null() {
            return Err(FetchError::NotFound);
        }
        let fulfillments = order["fulfillments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let id = f["id"].as_str()?.to_owned();
                let numbers = f["trackingInfo"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["number"].as_str().map(str::to_owned))
                    .collect();
                Some((id, numbers))
            })
            .collect();
        let fulfillment_orders = order["fulfillmentOrders"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|fo| {
                Some(FulfillmentOrder {
                    id: fo["id"].as_str()?.to_owned(),
                    status: fo["status"].as_str().unwrap_or_default().to_owned(),
                    lines: fo["lineItems"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| {
                            Some(FulfillmentOrderLine {
                                id: l["id"].as_str()?.to_owned(),
                                line_item_id: l["lineItem"]["id"].as_str().and_then(numeric_tail),
                                sku: l["lineItem"]["sku"].as_str().map(str::to_owned),
                                remaining: l["remainingQuantity"].as_i64().unwrap_or(0),
                            })
                        })
                        .collect(),
                })
            })
            .collect();
        Ok(OrderFulfillment {
            fulfillments,
            fulfillment_orders,
        })
    }

    /// `fulfillmentCreate` for lines of one fulfillment order (Shopify requires the fulfillment
    /// orders of one call to share a location: one call per fulfillment order).
    pub async fn create_fulfillment(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        lines: &FulfillmentOrderLines,
        tracking: &TrackingInfo,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome, FetchError> {
        let body = json!({
            "query": FULFILLMENT_CREATE,
            "variables": {"fulfillment": {
                "notifyCustomer": notify_customer,
                "trackingInfo": tracking.input(),
                "lineItemsByFulfillmentOrder": [{
                    "fulfillmentOrderId": lines.fulfillment_order_id,
                    "fulfillmentOrderLineItems": lines.lines.iter().map(|(id, quantity)| json!({
                        "id": id,
                        "quantity": quantity,
                    })).collect::<Vec<_>>(),
                }],
            }},
        });
        let data = self.graphql(shop, access_token, &body).await?;
        let payload = &data["fulfillmentCreate"];
        let errors = user_errors(payload);
        if !errors.is_empty() {
            return Ok(FulfillmentOutcome::Refused(errors));
        }
        payload["fulfillment"]["id"]
            .as_str()
            .map(|id| FulfillmentOutcome::Done(id.to_owned()))
            .ok_or_else(|| {
                FetchError::Unavailable("fulfillmentCreate answered no fulfillment".into())
            })
    }

    /// `fulfillmentTrackingInfoUpdate`: a fulfillment's tracking number changed.
    pub async fn update_tracking(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        fulfillment_id: &str,
        tracking: &TrackingInfo,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome, FetchError> {
        let body = json!({
            "query": TRACKING_UPDATE,
            "variables": {
                "fulfillmentId": fulfillment_id,
                "trackingInfoInput": tracking.input(),
                "notifyCustomer": notify_customer,
            },
        });
        let data = self.graphql(shop, access_token, &body).await?;
        let payload = &data["fulfillmentTrackingInfoUpdate"];
        let errors = user_errors(payload);
        if !errors.is_empty() {
            return Ok(FulfillmentOutcome::Refused(errors));
        }
        Ok(FulfillmentOutcome::Done(fulfillment_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_are_named_by_field_only() {
        let payload = json!({"userErrors": [
            {"field": ["fulfillment", "trackingInfo", "number"], "message": "Jane's number is bad"},
            {"field": null, "message": "x"}
        ]});
        assert_eq!(
            user_errors(&payload),
            vec![
                "fulfillment.trackingInfo.number".to_owned(),
                "unknown".to_owned()
            ]
        );
        assert_eq!(
            numeric_tail("gid://shopify/LineItem/123"),
            Some("123".into())
        );
        assert_eq!(numeric_tail("gid://shopify/LineItem/"), None);
    }
}
