//! A local Login with Amazon and Orders API v2026-01-01, serving the sandbox's orders, and the
//! Orders API v0 `confirmShipment` (an upsert per package), whose confirmations it shows at
//! `GET /sandbox/amazon/confirmations` (no buyer data: order, package, carrier, tracking, items).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{SANDBOX_SELLER, orders};

#[derive(Default)]
pub struct AmazonSandboxApi {
    orders: Mutex<HashMap<String, serde_json::Value>>,
    /// Packages by (order id, packageReferenceId), as Amazon holds them.
    confirmations: Mutex<BTreeMap<(String, String), serde_json::Value>>,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Bytes> {
    rc_api::json(status, &body)
}

impl AmazonSandboxApi {
    /// Creates order number `n`; returns its Amazon id and the ORDER_CHANGE notification body.
    pub fn place_order(&self, n: u64) -> (String, String) {
        let order_id = format!(
            "902-{:07}-{:07}",
            (n / 10_000_000) % 10_000_000,
            n % 10_000_000
        );
        self.orders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order_id.clone(), orders::amazon_order(&order_id, n));
        let notification = serde_json::json!({
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": "2026-11-27T00:00:00Z",
            "Payload": {"OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": SANDBOX_SELLER,
                "AmazonOrderId": order_id,
                "OrderChangeType": "OrderStatusChange",
                "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped"}
            }},
            "NotificationMetadata": {
                "ApplicationId": "app-id-sandbox",
                "SubscriptionId": "subscription-id-sandbox",
                "PublishTime": "2026-11-27T00:00:00Z",
                "NotificationId": format!("sandbox-notification-{n}")
            }
        });
        (order_id, notification.to_string())
    }

    /// searchOrders: every order updated at or after `lastUpdatedAfter` (one page: the sandbox is
    /// small).
    fn search(&self, query: &str) -> Response<Bytes> {
        let after = query
            .split('&')
            .find_map(|p| p.strip_prefix("lastUpdatedAfter="))
            .map(|v| v.replace("%3A", ":").replace("%2B", "+"))
            .and_then(|v| OffsetDateTime::parse(&v, &Rfc3339).ok());
        let Some(after) = after else {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"errors": [{"code": "InvalidInput", "message": "lastUpdatedAfter is required"}]}),
            );
        };
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let matching: Vec<&serde_json::Value> = orders
            .values()
            .filter(|o| {
                o["lastUpdatedTime"]
                    .as_str()
                    .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                    .is_some_and(|t| t >= after)
            })
            .collect();
        json(StatusCode::OK, serde_json::json!({ "orders": matching }))
    }

    /// `confirmShipment`: the package upserted by its reference; 204. The order shows
    /// `SHIPPED` once every item is confirmed.
    fn confirm(&self, order_id: &str, body: &[u8]) -> Response<Bytes> {
        let invalid = || {
            json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}),
            )
        };
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(body) else {
            return invalid();
        };
        let package = &body["packageDetail"];
        let reference = package["packageReferenceId"]
            .as_str()
            .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()));
        let ship_date = package["shipDate"]
            .as_str()
            .is_some_and(|d| OffsetDateTime::parse(d, &Rfc3339).is_ok());
        let (Some(reference), true, Some(_), Some(_)) = (
            reference,
            ship_date,
            package["trackingNumber"].as_str(),
            package["orderItems"].as_array().filter(|i| !i.is_empty()),
        ) else {
            return invalid();
        };
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let Some(order) = orders.get_mut(order_id) else {
            return json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"errors": [{"code": "NotFound", "message": "Order not found"}]}),
            );
        };
        let mut confirmations = self.confirmations.lock().unwrap_or_else(|p| p.into_inner());
        confirmations.insert((order_id.to_owned(), reference.to_owned()), package.clone());
        let confirmed: u64 = confirmations
            .iter()
            .filter(|((o, _), _)| o == order_id)
            .flat_map(|(_, p)| p["orderItems"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i["quantity"].as_u64())
            .sum();
        let ordered: u64 = order["orderItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["quantityOrdered"].as_u64())
            .sum();
        order["fulfillment"]["fulfillmentStatus"] = serde_json::json!(if confirmed >= ordered {
            "SHIPPED"
        } else {
            "PARTIALLY_SHIPPED"
        });
        Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Bytes::new())
            .unwrap_or_default()
    }

    /// What was confirmed (`GET /sandbox/amazon/confirmations`).
    fn confirmations(&self) -> Response<Bytes> {
        let confirmations = self.confirmations.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<serde_json::Value> = confirmations
            .iter()
            .map(|((order, reference), package)| {
                serde_json::json!({"amazon_order_id": order, "package_reference_id": reference,
                    "carrier_code": package["carrierCode"], "carrier_name": package["carrierName"],
                    "tracking_number": package["trackingNumber"], "ship_date": package["shipDate"],
                    "order_items": package["orderItems"]})
            })
            .collect();
        json(StatusCode::OK, serde_json::json!({"confirmations": list}))
    }

    /// Serves `/sandbox/amazon/auth/o2/token`, `/sandbox/amazon/orders/2026-01-01/orders[/{id}]`,
    /// `/sandbox/amazon/orders/v0/orders/{id}/shipmentConfirmation` and
    /// `/sandbox/amazon/confirmations`.
    pub fn handle(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let path = request.uri().path().trim_start_matches("/sandbox/amazon");
        if path == "/confirmations" && request.method() == Method::GET {
            return self.confirmations();
        }
        if path == "/auth/o2/token" && request.method() == Method::POST {
            return json(
                StatusCode::OK,
                serde_json::json!({"access_token": "Atza|sandbox-access", "token_type": "bearer", "expires_in": 3600}),
            );
        }
        if request.headers().get("x-amz-access-token").is_none() {
            return json(
                StatusCode::FORBIDDEN,
                serde_json::json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}),
            );
        }
        if path == "/orders/2026-01-01/orders" {
            return self.search(request.uri().query().unwrap_or_default());
        }
        if let Some(order_id) = path
            .strip_prefix("/orders/v0/orders/")
            .and_then(|rest| rest.strip_suffix("/shipmentConfirmation"))
            && request.method() == Method::POST
        {
            return self.confirm(order_id, request.body());
        }
        let Some(order_id) = path.strip_prefix("/orders/2026-01-01/orders/") else {
            return json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"errors": [{"code": "NotFound", "message": "Resource not found"}]}),
            );
        };
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        match orders.get(order_id) {
            Some(order) => json(StatusCode::OK, serde_json::json!({"order": order})),
            None => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"errors": [{"code": "NotFound", "message": "Order not found"}]}),
            ),
        }
    }
}
