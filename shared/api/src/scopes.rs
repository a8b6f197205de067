//! Which scope each merchant API route needs: one table, read by the router (a request is
//! authorized by it after routing) and by the docs (`docs/api-scopes.md` is generated from it,
//! and a test fails when the file differs). A route missing from the table is refused, never
//! let through.

use http::Method;
use rc_orders::Scope;

/// A route: its method, its path (`{name}` matches one segment) and the scope it needs.
#[derive(Debug, Clone, Copy)]
pub struct RouteScope {
    pub method: &'static str,
    pub path: &'static str,
    pub scope: Scope,
}

const fn route(method: &'static str, path: &'static str, scope: Scope) -> RouteScope {
    RouteScope {
        method,
        path,
        scope,
    }
}

use Scope::{
    AccountAdmin, ConnectionsManage, ExportsCreate, InventoryRead, InventoryWrite, OrdersRead,
    OrdersWrite, PiiRead, PrivacyRead,
};

/// Every route of the merchant API.
pub const ROUTE_SCOPES: &[RouteScope] = &[
    route("GET", "/v1/orders", OrdersRead),
    route("GET", "/v1/orders/{order_id}", OrdersRead),
    route("POST", "/v1/orders/{order_id}/route", OrdersWrite),
    route("POST", "/v1/orders/{order_id}/shipped", OrdersWrite),
    route("POST", "/v1/orders/{order_id}/buyer", PiiRead),
    route("GET", "/v1/orders/{order_id}/shipments", OrdersRead),
    route("GET", "/v1/orders/{order_id}/tax", OrdersRead),
    route("POST", "/v1/orders/{order_id}/tax", OrdersWrite),
    route("GET", "/v1/shipments", OrdersRead),
    route("GET", "/v1/confirmations", OrdersRead),
    route("GET", "/v1/tracking", OrdersRead),
    route("GET", "/v1/shipments/{shipment_id}", OrdersRead),
    route("PUT", "/v1/shipments/{shipment_id}/parcel", OrdersWrite),
    route("POST", "/v1/shipments/{shipment_id}/label", OrdersWrite),
    route("GET", "/v1/shipments/{shipment_id}/label", PiiRead),
    route("POST", "/v1/shipments/{shipment_id}/void", OrdersWrite),
    route("POST", "/v1/shipments/{shipment_id}/confirm", OrdersWrite),
    route("GET", "/v1/reports/tax", OrdersRead),
    route("GET", "/v1/inventory", InventoryRead),
    route("GET", "/v1/inventory/{sku}", InventoryRead),
    route("POST", "/v1/inventory/{sku}/adjustments", InventoryWrite),
    route("PUT", "/v1/inventory/{sku}/kit", InventoryWrite),
    route("PUT", "/v1/inventory/{sku}/listings", InventoryWrite),
    route("PUT", "/v1/inventory/{sku}/parcel", InventoryWrite),
    route("GET", "/v1/inventory-ledger", InventoryRead),
    route("GET", "/v1/warehouses", InventoryRead),
    route("GET", "/v1/warehouses/{warehouse_id}", InventoryRead),
    route("PUT", "/v1/warehouses/{warehouse_id}", InventoryWrite),
    route("DELETE", "/v1/warehouses/{warehouse_id}", InventoryWrite),
    route("GET", "/v1/routing", InventoryRead),
    route("PUT", "/v1/routing", InventoryWrite),
    route("GET", "/v1/tax/classes", InventoryRead),
    route("GET", "/v1/tax/classes/{class_id}", InventoryRead),
    route("PUT", "/v1/tax/classes/{class_id}", InventoryWrite),
    route("GET", "/v1/tax/skus/{sku}", InventoryRead),
    route("PUT", "/v1/tax/skus/{sku}", InventoryWrite),
    route("GET", "/v1/connections", ConnectionsManage),
    route("GET", "/v1/connect/shopify", ConnectionsManage),
    route("GET", "/v1/connect/amazon", ConnectionsManage),
    route("PUT", "/v1/connections/shopify/{shop}", ConnectionsManage),
    route(
        "DELETE",
        "/v1/connections/shopify/{shop}",
        ConnectionsManage,
    ),
    route(
        "PUT",
        "/v1/connections/amazon/{seller_id}",
        ConnectionsManage,
    ),
    route(
        "DELETE",
        "/v1/connections/amazon/{seller_id}",
        ConnectionsManage,
    ),
    route("GET", "/v1/couriers", ConnectionsManage),
    route("PUT", "/v1/couriers/{kind}/{name}", ConnectionsManage),
    route("DELETE", "/v1/couriers/{kind}/{name}", ConnectionsManage),
    route("GET", "/v1/settings/fulfillment", OrdersRead),
    route("PUT", "/v1/settings/fulfillment", AccountAdmin),
    route("GET", "/v1/settings/tax", OrdersRead),
    route("PUT", "/v1/settings/tax", AccountAdmin),
    route("GET", "/v1/privacy/receipts", PrivacyRead),
    route("GET", "/v1/privacy/receipts/verify", PrivacyRead),
    route("GET", "/v1/privacy/deadlines", PrivacyRead),
    route("GET", "/v1/privacy/audit", PrivacyRead),
    route("GET", "/v1/audit", PrivacyRead),
    route("GET", "/v1/audit/verify", PrivacyRead),
    route("GET", "/v1/privacy/requests", PrivacyRead),
    route("GET", "/v1/privacy/requests/{request_id}", PrivacyRead),
    route("GET", "/v1/privacy/requests/{request_id}/report", PiiRead),
    route("POST", "/v1/exports", ExportsCreate),
    route("GET", "/v1/exports", ExportsCreate),
    route("GET", "/v1/exports/{export_id}", ExportsCreate),
    route("DELETE", "/v1/exports/{export_id}", ExportsCreate),
    route("GET", "/v1/api-keys", AccountAdmin),
    route("POST", "/v1/api-keys", AccountAdmin),
    route("DELETE", "/v1/api-keys/{key_id}", AccountAdmin),
    route("GET", "/v1/account", AccountAdmin),
    route("PUT", "/v1/account", AccountAdmin),
    route("DELETE", "/v1/account", AccountAdmin),
    route("GET", "/v1/account/cancellation", AccountAdmin),
];

fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(p, s)| (p.starts_with('{') && p.ends_with('}')) || p == s)
}

/// The scope `method path` needs, if the table has the route.
pub fn scope_for(method: &Method, path: &str) -> Option<Scope> {
    ROUTE_SCOPES
        .iter()
        .find(|r| r.method == method.as_str() && matches(r.path, path))
        .map(|r| r.scope)
}

/// The table as `docs/api-scopes.md` shows it.
pub fn scopes_markdown() -> String {
    let mut out = String::from(
        "# Merchant API scopes\n\nGenerated from `shared/api/src/scopes.rs` (the table the router authorizes by; \
         a test fails when this file differs). A key without the route's scope is answered \
         `403 insufficient_scope`.\n\n| method | route | scope |\n| --- | --- | --- |\n",
    );
    for r in ROUTE_SCOPES {
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` |\n",
            r.method,
            r.path,
            r.scope.as_str()
        ));
    }
    out.push_str(
        "\n## Routes without a key\n\nAuthenticated otherwise, or public documentation:\n\n",
    );
    for (method, path) in crate::openapi::PUBLIC_ROUTES {
        let why = if path == "/v1/openapi.json" {
            "the OpenAPI document"
        } else {
            "a marketplace's redirect: its signature (Shopify) and the single-use state say whose flow it is"
        };
        out.push_str(&format!("- `{method} {path}` — {why}\n"));
    }
    out.push_str("\n## Scopes\n\n");
    for scope in Scope::ALL {
        let pii = if scope.opens_pii() {
            " — opens buyer PII: never in a key's default set, always asked for by name"
        } else {
            ""
        };
        out.push_str(&format!("- `{}`{pii}\n", scope.as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_table_is_the_router_table() {
        let generated = scopes_markdown();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api-scopes.md");
        if std::env::var_os("RC_WRITE_DOCS").is_some() {
            std::fs::write(path, &generated).expect("write docs");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/api-scopes.md differs from the route table: RC_WRITE_DOCS=1 cargo test -p rc-api scopes"
        );
    }

    #[test]
    fn every_route_is_listed_once_and_pii_routes_need_a_pii_scope() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTE_SCOPES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
        for pii in [
            ("GET", "/v1/shipments/a-1.1/label"),
            ("GET", "/v1/privacy/requests/r1/report"),
        ] {
            let method = Method::from_bytes(pii.0.as_bytes()).expect("method");
            assert!(scope_for(&method, pii.1).is_some_and(|s| s.opens_pii()));
        }
        assert_eq!(scope_for(&Method::GET, "/v1/nowhere"), None);
        assert_eq!(scope_for(&Method::PATCH, "/v1/orders"), None);
    }
}
