//! The merchant API's OpenAPI 3.1 document, generated from the route table the router
//! authorizes by ([`crate::ROUTE_SCOPES`]) and the public routes, so it cannot drift from what is
//! served: every route in the table is an operation (its scope the security requirement), and
//! every operation is a route. Served at `GET /v1/openapi.json`; `docs/openapi.json` is the
//! same document (a test fails when it differs).
//!
//! What each operation answers is described here: the success statuses, the error statuses
//! every authenticated route may give (with the one error shape), and the response bodies —
//! specific schemas for the resources integrators rely on most, an object otherwise.

use serde_json::{Map, Value, json};

use crate::ROUTE_SCOPES;

/// Routes answered without an API key: the document itself and the connect flows' callbacks
/// (authenticated by the marketplace's signature and the single-use state).
pub const PUBLIC_ROUTES: [(&str, &str); 3] = [
    ("GET", "/v1/openapi.json"),
    ("GET", crate::connect_routes::SHOPIFY_CALLBACK),
    ("GET", crate::connect_routes::AMAZON_CALLBACK),
];

/// Statuses any authenticated route may answer, besides its own successes.
const ERRORS: [(u16, &str); 12] = [
    (400, "Malformed request (JSON, header, query)"),
    (
        401,
        "No valid API key (`unauthorized`), or an expired one (`key_expired`)",
    ),
    (
        403,
        "The key lacks the route's scope (`insufficient_scope`)",
    ),
    (404, "No such resource for this merchant"),
    (405, "Method not allowed on this route"),
    (409, "Conflicts with the resource's state"),
    (410, "The account was cancelled (`account_closed`)"),
    (413, "The body is too large"),
    (
        422,
        "The request is well formed but invalid (`invalid_field`, ...)",
    ),
    (500, "Internal error"),
    (502, "A courier or marketplace call failed"),
    (
        503,
        "Temporarily unavailable, or an app not configured (`app_not_configured`)",
    ),
];

/// Success statuses other than 200, and the content types of non-JSON answers.
fn successes(method: &str, path: &str) -> Vec<u16> {
    match (method, path) {
        ("POST", "/v1/api-keys") => vec![201],
        ("POST", "/v1/exports") => vec![202],
        ("PUT", "/v1/couriers/{kind}/{name}")
        | ("PUT", "/v1/tax/classes/{class_id}")
        | ("PUT", "/v1/warehouses/{warehouse_id}") => vec![200, 201],
        ("DELETE", "/v1/account") | ("GET", "/v1/account/cancellation") => vec![200, 202],
        ("POST", "/v1/shipments/{shipment_id}/label")
        | ("POST", "/v1/shipments/{shipment_id}/confirm") => vec![202],
        ("PUT", "/v1/shipments/{shipment_id}/parcel") => vec![200, 202],
        ("GET", "/v1/connect/shopify") | ("GET", "/v1/connect/amazon") => vec![302],
        _ => vec![200],
    }
}

/// Query parameters: (name, required, array).
fn query_parameters(method: &str, path: &str) -> Vec<(&'static str, bool, bool)> {
    if method != "GET" {
        return Vec::new();
    }
    match path {
        "/v1/orders" => vec![
            ("status", false, false),
            ("channel", false, false),
            ("after", false, false),
        ],
        "/v1/inventory" | "/v1/inventory-ledger" | "/v1/privacy/requests" => {
            vec![("after", false, false)]
        }
        "/v1/privacy/receipts" | "/v1/privacy/audit" | "/v1/audit" => {
            vec![("after", false, false), ("order", false, false)]
        }
        "/v1/privacy/deadlines" => vec![("within_days", false, false), ("after", false, false)],
        "/v1/shipments" => vec![("status", false, false), ("after", false, false)],
        "/v1/confirmations" | "/v1/tracking" => vec![("state", false, false)],
        "/v1/reports/tax" => vec![
            ("from", true, false),
            ("to", true, false),
            ("group", false, false),
            ("format", false, false),
        ],
        "/v1/connect/shopify" => vec![("shop", true, false)],
        "/v1/connect/amazon" => vec![("marketplace_id", true, true)],
        "/v1/connect/shopify/callback" => ["code", "hmac", "host", "shop", "state", "timestamp"]
            .into_iter()
            .map(|n| (n, false, false))
            .collect(),
        "/v1/connect/amazon/callback" => ["state", "selling_partner_id", "spapi_oauth_code"]
            .into_iter()
            .map(|n| (n, false, false))
            .collect(),
        _ => Vec::new(),
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The schema of a route's successful JSON answer.
fn response_schema(method: &str, path: &str) -> Value {
    match (method, path) {
        ("GET", "/v1/orders") => reference("OrderPage"),
        ("GET", "/v1/orders/{order_id}") => reference("OrderDetail"),
        ("GET", "/v1/connections") => reference("Connections"),
        ("GET", "/v1/api-keys") => reference("ApiKeys"),
        ("POST", "/v1/api-keys") => reference("IssuedApiKey"),
        ("GET", "/v1/audit") | ("GET", "/v1/privacy/audit") => reference("AuditPage"),
        ("GET", "/v1/audit/verify") => reference("AuditVerification"),
        ("GET", "/v1/connect/shopify") | ("GET", "/v1/connect/amazon") => {
            reference("AuthorizeRedirect")
        }
        ("GET", "/v1/connect/shopify/callback") | ("GET", "/v1/connect/amazon/callback") => {
            reference("Connected")
        }
        ("GET", "/v1/openapi.json") => json!({"type": "object", "required": ["openapi", "paths"]}),
        _ => json!({"type": "object"}),
    }
}

fn content(method: &str, path: &str) -> Value {
    let schema = response_schema(method, path);
    match (method, path) {
        ("GET", "/v1/shipments/{shipment_id}/label") => {
            json!({"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}})
        }
        ("GET", "/v1/reports/tax") => json!({
            "application/json": {"schema": schema},
            "text/csv": {"schema": {"type": "string"}},
        }),
        _ => json!({"application/json": {"schema": schema}}),
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in path.trim_start_matches("/v1/").split('/') {
        let word = segment.trim_matches(|c| c == '{' || c == '}');
        let mut chars = word
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_');
        if segment.starts_with('{') {
            id.push_str("By");
        }
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

fn operation(method: &str, path: &str, scope: Option<&str>) -> Value {
    let mut parameters: Vec<Value> = path
        .split('/')
        .filter(|s| s.starts_with('{'))
        .map(|s| {
            json!({"name": s.trim_matches(|c| c == '{' || c == '}'), "in": "path",
                   "required": true, "schema": {"type": "string"}})
        })
        .collect();
    for (name, required, array) in query_parameters(method, path) {
        let schema = if array {
            json!({"type": "array", "items": {"type": "string"}})
        } else {
            json!({"type": "string"})
        };
        parameters
            .push(json!({"name": name, "in": "query", "required": required, "schema": schema}));
    }
    if matches!(
        (method, path),
        ("POST", "/v1/inventory/{sku}/adjustments") | ("POST", "/v1/exports")
    ) {
        parameters.push(
            json!({"name": "Idempotency-Key", "in": "header", "required": false,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255}}),
        );
    }
    let mut responses = Map::new();
    for status in successes(method, path) {
        let mut answer = json!({"description": "Success", "content": content(method, path)});
        if status == 302 {
            answer["description"] =
                json!("Redirect to the marketplace's consent page (`Location`)");
        }
        responses.insert(status.to_string(), answer);
    }
    let errors: &[(u16, &str)] = if scope.is_some() {
        &ERRORS
    } else if path == "/v1/openapi.json" {
        &[(405, "Method not allowed")]
    } else {
        &[
            (
                400,
                "A callback that cannot be completed (`invalid_state`, ...): nothing stored",
            ),
            (
                401,
                "The callback's signature does not verify (`invalid_hmac`)",
            ),
            (405, "Method not allowed"),
            (409, "The account is connected to another merchant"),
            (500, "Internal error"),
            (502, "The marketplace could not be reached"),
            (503, "The app is not configured (`app_not_configured`)"),
        ]
    };
    for (status, description) in errors {
        let answer = if scope.is_some() {
            json!({"$ref": format!("#/components/responses/Error{status}")})
        } else {
            json!({"description": description,
                   "content": {"application/json": {"schema": reference("Error")}}})
        };
        responses.insert(status.to_string(), answer);
    }
    let mut op = json!({
        "operationId": operation_id(method, path),
        "parameters": parameters,
        "responses": responses,
    });
    match scope {
        Some(scope) => {
            op["security"] = json!([{"apiKey": [scope]}]);
            op["x-scope"] = json!(scope);
        }
        None => op["security"] = json!([]),
    }
    if matches!(method, "POST" | "PUT") || (method, path) == ("DELETE", "/v1/account") {
        op["requestBody"] = json!({"required": false,
            "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    op
}

fn schemas() -> Value {
    json!({
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "pattern": "^[a-z_]+$"},
                "message": {"type": "string"},
            },
            "additionalProperties": false,
        },
        "OrderPage": {
            "type": "object",
            "required": ["orders"],
            "properties": {
                "orders": {"type": "array", "items": reference("Order")},
                "next": {"type": ["string", "null"]},
            },
        },
        "Order": {
            "type": "object",
            "description": "An order's public view: no buyer PII (`buyer_pii` says whether it is still held).",
            "required": ["id", "channel", "channel_reference", "status", "placed_at", "currency", "lines", "totals", "buyer_pii", "version"],
            "properties": {
                "id": {"type": "string"},
                "channel": {"enum": ["shopify", "amazon"]},
                "channel_reference": {"type": "string"},
                "status": {"type": "string"},
                "placed_at": {"type": "string"},
                "currency": {"type": "string"},
                "lines": {"type": "array", "items": {"type": "object", "required": ["sku", "quantity"]}},
                "totals": {"type": "object"},
                "version": {"type": "integer"},
            },
        },
        "OrderDetail": {
            "allOf": [reference("Order")],
            "type": "object",
            "required": ["id", "status", "buyer_pii", "reservation", "pii_deadline"],
        },
        "Connections": {
            "type": "object",
            "required": ["connections"],
            "properties": {"connections": {"type": "array", "items": {
                "type": "object",
                "required": ["channel", "reference"],
                "properties": {"channel": {"enum": ["shopify", "amazon"]}, "reference": {"type": "string"}},
                "additionalProperties": false,
            }}},
        },
        "ApiKeys": {
            "type": "object",
            "required": ["api_keys"],
            "properties": {"api_keys": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "name", "prefix", "scopes"],
                "properties": {"scopes": {"type": "array", "items": {"type": "string"}}},
            }}},
        },
        "IssuedApiKey": {
            "type": "object",
            "required": ["id", "key", "prefix", "scopes"],
            "properties": {
                "key": {"type": "string", "pattern": "^rck_"},
                "scopes": {"type": "array", "items": {"type": "string"}},
            },
        },
        "AuditPage": {
            "type": "object",
            "required": ["entries"],
            "properties": {"entries": {"type": "array", "items": {
                "type": "object",
                "required": ["seq", "action", "purpose", "actor", "subject", "orders", "request_id", "prev", "hash"],
            }}},
        },
        "AuditVerification": {
            "type": "object",
            "required": ["entries", "problem"],
            "properties": {"entries": {"type": "integer"}},
        },
        "AuthorizeRedirect": {
            "type": "object",
            "required": ["authorize_url", "expires_in"],
            "properties": {"authorize_url": {"type": "string"}, "expires_in": {"type": "integer"}},
            "additionalProperties": false,
        },
        "Connected": {
            "type": "object",
            "required": ["channel", "reference", "status"],
            "properties": {
                "channel": {"enum": ["shopify", "amazon"]},
                "reference": {"type": "string"},
                "status": {"const": "connected"},
                "webhooks_created": {"type": "integer"},
                "notifications": {"enum": ["subscribed", "not_configured"]},
            },
            "additionalProperties": false,
        },
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut add = |method: &str, path: &str, scope: Option<&str>| {
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation(method, path, scope);
    };
    for route in ROUTE_SCOPES {
        add(route.method, route.path, Some(route.scope.as_str()));
    }
    for (method, path) in PUBLIC_ROUTES {
        add(method, path, None);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "RetailCoder merchant API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Orders without buyer PII, inventory, fulfillment, tax, privacy and the merchant's account. Every route needs an API key (`Authorization: Bearer rck_…`) with the route's scope (`x-scope`); see docs/api-scopes.md.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "A merchant API key (rck_…)."}},
            "schemas": schemas(),
            "responses": ERRORS.iter().map(|(status, description)| {
                (format!("Error{status}"), json!({"description": description,
                    "content": {"application/json": {"schema": reference("Error")}}}))
            }).collect::<Map<String, Value>>(),
        },
    })
}

/// The document as served and as `docs/openapi.json` holds it.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_copy_is_the_served_document() {
        let generated = document_text();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        if std::env::var_os("RC_WRITE_DOCS").is_some() {
            std::fs::write(path, &generated).expect("write docs");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/openapi.json differs from the route table: RC_WRITE_DOCS=1 cargo test -p rc-api openapi"
        );
    }

    #[test]
    fn every_route_is_an_operation_and_ids_are_unique() {
        let doc = document();
        let mut ids = std::collections::BTreeSet::new();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                operations += 1;
                assert!(
                    ids.insert(op["operationId"].as_str().expect("id").to_owned()),
                    "{method} {path}: duplicate operationId"
                );
                let upper = method.to_ascii_uppercase();
                let known = ROUTE_SCOPES
                    .iter()
                    .any(|r| r.method == upper && r.path == path)
                    || PUBLIC_ROUTES.contains(&(upper.as_str(), path.as_str()));
                assert!(known, "{upper} {path} is not a route");
            }
        }
        assert_eq!(operations, ROUTE_SCOPES.len() + PUBLIC_ROUTES.len());
    }
}
