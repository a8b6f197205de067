//! A local Login with Amazon and Orders API v2026-01-01, serving the sandbox's orders.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{SANDBOX_SELLER, orders};

#[derive(Default)]
pub struct AmazonSandboxApi {
    orders: Mutex<HashMap<String, serde_json::Value>>,
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

    /// Serves `/sandbox/amazon/auth/o2/token` and `/sandbox/amazon/orders/2026-01-01/orders[/{id}]`.
    pub fn handle(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let path = request.uri().path().trim_start_matches("/sandbox/amazon");
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
