//! The merchant API: orders (without PII) and channel connections (secrets in, never out).
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/orders?after=<token>` | the merchant's orders, 100 a page, public views |
//! | `GET /v1/orders?status=<status>&channel=<channel>` | those in one status (or `needs_action`: backordered or needing attention) and/or of one channel, from their indexes |
//! | `GET /v1/orders/{order_id}` | the order's public view |
//! | `GET /v1/connections` | the merchant's connections, no secrets |
//! | `PUT /v1/connections/shopify/{shop}` | connect a shop, or rotate its secrets |
//! | `DELETE /v1/connections/shopify/{shop}` | disconnect it (secrets deleted, their key destroyed) |
//! | `PUT /v1/connections/amazon/{seller_id}` | connect an Amazon selling partner, or update it |
//! | `DELETE /v1/connections/amazon/{seller_id}` | disconnect it |
//! | `POST /v1/orders/{order_id}/shipped` | mark it shipped now (starts the PII clock) |
//! | `POST /v1/orders/{order_id}/buyer` | the buyer's details, for a named reason (`pii:read`, audited) |
//! | `POST /v1/orders/{order_id}/route` | route a `needs_attention` order again (after a fix) |
//! | `DELETE /v1/account` | cancel the account: body `{"confirm": "<merchant id>"}` |
//! | `GET /v1/account/cancellation` | where the cancellation stands, with its final receipt |
//! | `GET /v1/privacy/receipts?after=<seq>&order=newest` | deletion receipts, in chain order (or newest first) |
//! | `GET /v1/privacy/receipts/verify` | verify the receipt chain |
//! | `GET /v1/privacy/deadlines?within_days=<n>&after=<cursor>` | orders holding buyer data, earliest deletion first |
//! | `GET /v1/privacy/requests?after=<id>` | privacy requests received from channels |
//! | `GET /v1/privacy/requests/{id}` | one request and its outcome |
//! | `GET /v1/privacy/requests/{id}/report` | a data request's report, opened now (`pii:read` key, audited) |
//! | `GET /v1/privacy/audit?after=<token>&order=newest` | every PII access: who, why, which orders (oldest or newest first) |
//!
//! | `GET /v1/inventory?after=<sku>` | the merchant's SKUs with their free units, 100 a page |
//! | `GET /v1/inventory/{sku}` | stock per warehouse, free units, kit, listings with what each may sell |
//! | `POST /v1/inventory/{sku}/adjustments` | `{"warehouse", "kind": set/add/receive/return, ..., "reason"}` |
//! | `PUT /v1/inventory/{sku}/kit` | `{"components": [{"sku", "quantity"}]}` |
//! | `PUT /v1/inventory/{sku}/listings` | a Shopify or Amazon listing of the SKU and its allocation |
//! | `GET /v1/inventory-ledger?after=<token>` | every stock change, oldest first |
//! | `GET /v1/warehouses` | the merchant's warehouses |
//! | `PUT /v1/warehouses/{id}` | create or replace a warehouse (ship-from address, country, region, priority, active, couriers, cut-off) |
//! | `GET /v1/warehouses/{id}` | one warehouse |
//! | `DELETE /v1/warehouses/{id}` | delete it (409 `warehouse_in_use` while units are there) |
//! | `GET /v1/routing` | the merchant's routing rules and whether orders may ship in parts |
//! | `PUT /v1/routing` | replace them |
//! | `GET /v1/orders/{order_id}/shipments`, `GET /v1/shipments?status=`, `GET /v1/shipments/{id}` | shipments |
//! | `PUT /v1/shipments/{id}/parcel`, `POST /v1/shipments/{id}/label`, `POST /v1/shipments/{id}/void` | parcel, (re)label, void |
//! | `GET /v1/shipments/{id}/label` | the label document (`pii:read` key, audited) |
//! | `GET /v1/couriers`, `PUT/DELETE /v1/couriers/{kind}/{name}` | courier accounts |
//! | `GET /v1/confirmations?state=failed` | shipments whose marketplace confirmation failed for good |
//! | `GET /v1/tracking?state=stalled` | labelled parcels without a courier event for five days |
//! | `PUT /v1/inventory/{sku}/parcel` | a SKU's parcel defaults |
//! | `GET /v1/tax/classes`, `GET/PUT /v1/tax/classes/{id}` | tax classes (GST rules, VAT reduced rates) |
//! | `GET/PUT /v1/tax/skus/{sku}` | the tax class of a SKU |
//! | `GET/PUT /v1/settings/tax` | the EU distance-sales threshold position |
//! | `GET /v1/orders/{order_id}/tax`, `POST` to recompute | the order's tax record |
//! | `GET /v1/reports/tax?from=&to=&group=&format=` | the tax report (aggregates only; JSON or CSV) |
//!
//! | `GET/POST /v1/api-keys`, `DELETE /v1/api-keys/{id}` | the merchant's API keys (scoped) |
//!
//! Every route needs one scope (`crate::scopes::ROUTE_SCOPES`, also `docs/api-scopes.md`): a key
//! without it is answered `403 insufficient_scope`, an expired key `401 key_expired`. After a
//! cancellation the merchant's keys answer `410 account_closed`, except on the cancellation
//! status and the receipts, which stay readable (they hold no PII).

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, header};

use rc_domain::{OrderId, SellerId, ShopDomain};
use rc_orders::{ApiKeyRepository, ConnectionRepository, KeyOwner, OrderRepository, PresentedKey};

use crate::account_routes::AccountRoutes;
use crate::connection_routes::{ConnectionRoutes, amazon_id};
use crate::fulfillment_routes::{courier_from_path, shipment_from_path, status_from_query};
use crate::inventory_routes::sku_from_path;
use crate::key_routes::KeyRoutes;
use crate::order_routes;
use crate::routing_routes::RoutingRoutes;
use crate::tax_routes::class_from_path;
use crate::warehouse_routes::{WarehouseRoutes, warehouse_from_path};
use crate::{ApiError, FulfillmentApi, InventoryApi, PrivacyApi, TaxApi};

/// The largest merchant API request body.
pub const MAX_API_BODY: usize = 64 * 1024;
/// The furthest horizon of `GET /v1/privacy/deadlines?within_days=` (ten years).
const MAX_WITHIN_DAYS: u16 = 3650;

pub struct MerchantApi {
    orders: Arc<OrderRepository>,
    api_keys: Arc<ApiKeyRepository>,
    connections: ConnectionRoutes,
    privacy: PrivacyApi,
    inventory: InventoryApi,
    warehouses: WarehouseRoutes,
    routing: RoutingRoutes,
    fulfillment: FulfillmentApi,
    tax: TaxApi,
    keys: KeyRoutes,
    account: AccountRoutes,
    /// The connect flows, where this deployment has apps configured for them.
    connect: Option<crate::ConnectApi>,
    /// Exports, where this deployment has export storage.
    exports: Option<crate::ExportApi>,
}

enum Route {
    Exports(Option<String>),
    Export(rc_exports::ExportId),
    ConnectShopify,
    ConnectAmazon,
    Account,
    VerifyAudit,
    ApiKeys,
    ApiKey(String),
    TaxClasses,
    TaxClass(rc_tax::TaxClassId),
    SkuTaxClass(rc_domain::Sku),
    TaxSettings,
    OrderTax(OrderId),
    TaxReport,
    Inventory(Option<String>),
    Stock(rc_domain::Sku),
    AdjustStock(rc_domain::Sku),
    Kit(rc_domain::Sku),
    Listing(rc_domain::Sku),
    Ledger(Option<String>),
    /// (which, after)
    Orders(order_routes::OrderFilter, Option<String>),
    Order(OrderId),
    MarkShipped(OrderId),
    RevealBuyer(OrderId),
    Reroute(OrderId),
    CancelAccount,
    CancellationStatus,
    /// (after, newest first)
    Receipts(Option<String>, bool),
    /// (within this many days, after)
    Deadlines(Option<u16>, Option<String>),
    VerifyReceipts,
    PrivacyRequests(Option<String>),
    PrivacyRequest(String),
    PrivacyReport(String),
    /// (after, newest first)
    PiiAudit(Option<String>, bool),
    Connections,
    ShopifyConnection(ShopDomain),
    AmazonConnection(SellerId),
    Warehouses,
    Warehouse(rc_domain::WarehouseId),
    Routing,
    OrderShipments(OrderId),
    Shipments(rc_domain::ShipmentStatus, Option<String>),
    Shipment(rc_domain::ShipmentId),
    ShipmentParcel(rc_domain::ShipmentId),
    ShipmentLabel(rc_domain::ShipmentId),
    ShipmentVoid(rc_domain::ShipmentId),
    ShipmentConfirm(rc_domain::ShipmentId),
    FulfillmentSettings,
    ConfirmationFailures,
    StalledTracking,
    Couriers,
    Courier(rc_domain::CourierAccountRef),
    ParcelDefaults(rc_domain::Sku),
}

/// The optional `Idempotency-Key` header, as in most payment APIs: a client retrying with the
/// same key gets the first outcome and no second change.
fn idempotency_key(request: &Request<Bytes>) -> Result<Option<&str>, ApiError> {
    request
        .headers()
        .get("idempotency-key")
        .map(|value| {
            value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or(ApiError::MissingHeader("Idempotency-Key"))
        })
        .transpose()
}

/// What the account routes work with: the merchant's profile, its keys, its connections.
pub struct AccountApi {
    pub merchants: Arc<rc_orders::MerchantRepository>,
    pub api_keys: Arc<ApiKeyRepository>,
    pub connections: Arc<ConnectionRepository>,
}

impl MerchantApi {
    pub fn new(
        orders: Arc<OrderRepository>,
        account: AccountApi,
        privacy: PrivacyApi,
        inventory: InventoryApi,
        fulfillment: FulfillmentApi,
        tax: TaxApi,
    ) -> Self {
        let AccountApi {
            merchants,
            api_keys,
            connections,
        } = account;
        Self {
            account: AccountRoutes { repo: merchants },
            keys: KeyRoutes {
                repo: api_keys.clone(),
            },
            tax,
            orders,
            api_keys,
            connections: ConnectionRoutes { repo: connections },
            privacy,
            warehouses: WarehouseRoutes {
                repo: inventory.warehouses.clone(),
            },
            routing: RoutingRoutes {
                repo: inventory.routing.clone(),
            },
            fulfillment,
            inventory,
            connect: None,
            exports: None,
        }
    }

    /// The same, with exports.
    pub fn with_exports(mut self, exports: crate::ExportApi) -> Self {
        self.exports = Some(exports);
        self
    }

    /// The same, with exports if there are.
    pub fn with_exports_if(self, exports: Option<crate::ExportApi>) -> Self {
        match exports {
            Some(exports) => self.with_exports(exports),
            None => self,
        }
    }

    fn exports(&self) -> Result<&crate::ExportApi, ApiError> {
        self.exports
            .as_ref()
            .ok_or(ApiError::AppNotConfigured("exports"))
    }

    /// The same, with the connect flows (OAuth callbacks and their starts).
    pub fn with_connect(mut self, connect: crate::ConnectApi) -> Self {
        self.connect = Some(connect);
        self
    }

    fn connect(&self) -> Result<&crate::ConnectApi, ApiError> {
        self.connect
            .as_ref()
            .ok_or(ApiError::AppNotConfigured("marketplace"))
    }

    /// The public routes: the OpenAPI document, and the connect flows' callbacks — browser
    /// redirects from the marketplaces, with no API key (the single-use state says whose flow
    /// it is).
    async fn callback(
        &self,
        request: &Request<Bytes>,
        request_id: &str,
    ) -> Option<Result<Response<Bytes>, ApiError>> {
        let path = request.uri().path();
        if path == "/v1/openapi.json" {
            if request.method() != Method::GET {
                return Some(Err(ApiError::MethodNotAllowed));
            }
            let mut response = Response::new(Bytes::from(crate::openapi::document_text()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            return Some(Ok(response));
        }
        let shopify = path == crate::connect_routes::SHOPIFY_CALLBACK;
        if !shopify && path != crate::connect_routes::AMAZON_CALLBACK {
            return None;
        }
        if request.method() != Method::GET {
            return Some(Err(ApiError::MethodNotAllowed));
        }
        let connect = match self.connect() {
            Ok(connect) => connect,
            Err(e) => return Some(Err(e)),
        };
        let query = request.uri().query();
        Some(if shopify {
            connect.shopify_callback(query, request_id).await
        } else {
            connect.amazon_callback(query, request_id).await
        })
    }

    /// Handles a request; every answer carries its `x-request-id`, the id the audit trail
    /// records it under.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        self.answer(None, request).await
    }

    /// Handles a request for a caller authenticated elsewhere (a dashboard session): the same
    /// routes, scopes, tenant and audit rules as for a key.
    pub async fn handle_as(
        &self,
        caller: PresentedKey,
        request: Request<Bytes>,
    ) -> Response<Bytes> {
        self.answer(Some(caller), request).await
    }

    async fn answer(
        &self,
        caller: Option<PresentedKey>,
        request: Request<Bytes>,
    ) -> Response<Bytes> {
        let request_id = rc_orders::random_hex::<8>().unwrap_or_else(|_| "unknown".into());
        let mut response = match self.process(caller, request, &request_id).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        };
        if let Ok(value) = header::HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    /// The audit entry a successful administrative request leaves: (action, purpose, subject).
    /// (An issued key's id and scopes are read from the answer, once it is made.)
    fn admin_event(route: &Route, method: &Method) -> Option<(&'static str, String, String)> {
        let put = method == Method::PUT;
        Some(match route {
            Route::ApiKeys if method == Method::POST => {
                ("api_key_issued", String::new(), String::new())
            }
            Route::ApiKey(id) => ("api_key_revoked", String::new(), id.clone()),
            Route::Export(id) if method == Method::DELETE => {
                ("export_deleted", String::new(), id.as_str().to_owned())
            }
            Route::ShopifyConnection(shop) => (
                "connection_changed",
                if put {
                    "shopify_connected"
                } else {
                    "shopify_disconnected"
                }
                .into(),
                shop.as_str().to_owned(),
            ),
            Route::AmazonConnection(seller) => (
                "connection_changed",
                if put {
                    "amazon_connected"
                } else {
                    "amazon_disconnected"
                }
                .into(),
                seller.as_str().to_owned(),
            ),
            Route::Courier(account) => (
                "courier_account_changed",
                if put { "saved" } else { "deleted" }.into(),
                format!("{}/{}", account.kind.as_str(), account.name),
            ),
            Route::FulfillmentSettings if put => {
                ("settings_changed", "fulfillment".into(), String::new())
            }
            Route::TaxSettings if put => ("settings_changed", "tax".into(), String::new()),
            Route::Routing if put => ("settings_changed", "routing".into(), String::new()),
            Route::Account if put => ("settings_changed", "profile".into(), String::new()),
            Route::CancelAccount => (
                "account_cancellation_requested",
                String::new(),
                String::new(),
            ),
            _ => return None,
        })
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
        let after = || query_param(request, "after").map(str::to_owned);
        // `order=newest` lists a trail newest first; `oldest` (the default) in chain order.
        let newest_first = || match query_param(request, "order") {
            None | Some("oldest") => Ok(false),
            Some("newest") => Ok(true),
            Some(_) => Err(ApiError::InvalidPayload {
                reason: "unknown_filter",
                message: "`order` must be newest or oldest".into(),
            }),
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
            ["v1", "warehouses"] => {
                allow(&[Method::GET])?;
                Ok(Route::Warehouses)
            }
            ["v1", "warehouses", id] => {
                allow(&[Method::GET, Method::PUT, Method::DELETE])?;
                warehouse_from_path(id).map(Route::Warehouse)
            }
            ["v1", "inventory", sku, "parcel"] => {
                allow(&[Method::PUT])?;
                sku_from_path(sku).map(Route::ParcelDefaults)
            }
            ["v1", "orders", id, "shipments"] => {
                allow(&[Method::GET])?;
                OrderId::parse(id)
                    .map(Route::OrderShipments)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "shipments"] => {
                allow(&[Method::GET])?;
                Ok(Route::Shipments(
                    status_from_query(request.uri().query())?,
                    after(),
                ))
            }
            ["v1", "shipments", id] => {
                allow(&[Method::GET])?;
                shipment_from_path(id).map(Route::Shipment)
            }
            ["v1", "shipments", id, "parcel"] => {
                allow(&[Method::PUT])?;
                shipment_from_path(id).map(Route::ShipmentParcel)
            }
            ["v1", "shipments", id, "label"] => {
                allow(&[Method::GET, Method::POST])?;
                shipment_from_path(id).map(Route::ShipmentLabel)
            }
            ["v1", "shipments", id, "void"] => {
                allow(&[Method::POST])?;
                shipment_from_path(id).map(Route::ShipmentVoid)
            }
            ["v1", "shipments", id, "confirm"] => {
                allow(&[Method::POST])?;
                shipment_from_path(id).map(Route::ShipmentConfirm)
            }
            ["v1", "confirmations"] => {
                allow(&[Method::GET])?;
                // Failed is the one state listed (pending ones are the poller's).
                only_state(request, "failed", Route::ConfirmationFailures)
            }
            ["v1", "tracking"] => {
                allow(&[Method::GET])?;
                // Stalled is the one state listed (the rest is each shipment's status).
                only_state(request, "stalled", Route::StalledTracking)
            }
            ["v1", "settings", "fulfillment"] => {
                allow(&[Method::GET, Method::PUT])?;
                Ok(Route::FulfillmentSettings)
            }
            ["v1", "api-keys"] => {
                allow(&[Method::GET, Method::POST])?;
                Ok(Route::ApiKeys)
            }
            ["v1", "api-keys", id] => {
                allow(&[Method::DELETE])?;
                Ok(Route::ApiKey((*id).to_owned()))
            }
            ["v1", "tax", "classes"] => {
                allow(&[Method::GET])?;
                Ok(Route::TaxClasses)
            }
            ["v1", "tax", "classes", id] => {
                allow(&[Method::GET, Method::PUT])?;
                class_from_path(id).map(Route::TaxClass)
            }
            ["v1", "tax", "skus", sku] => {
                allow(&[Method::GET, Method::PUT])?;
                sku_from_path(sku).map(Route::SkuTaxClass)
            }
            ["v1", "settings", "tax"] => {
                allow(&[Method::GET, Method::PUT])?;
                Ok(Route::TaxSettings)
            }
            ["v1", "orders", id, "tax"] => {
                allow(&[Method::GET, Method::POST])?;
                OrderId::parse(id)
                    .map(Route::OrderTax)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "reports", "tax"] => {
                allow(&[Method::GET])?;
                Ok(Route::TaxReport)
            }
            ["v1", "couriers"] => {
                allow(&[Method::GET])?;
                Ok(Route::Couriers)
            }
            ["v1", "couriers", kind, name] => {
                allow(&[Method::PUT, Method::DELETE])?;
                courier_from_path(kind, name).map(Route::Courier)
            }
            ["v1", "routing"] => {
                allow(&[Method::GET, Method::PUT])?;
                Ok(Route::Routing)
            }
            ["v1", "inventory-ledger"] => {
                allow(&[Method::GET])?;
                Ok(Route::Ledger(after()))
            }
            ["v1", "orders"] => {
                allow(&[Method::GET])?;
                order_routes::OrderFilter::parse(
                    query_param(request, "status"),
                    query_param(request, "channel"),
                )
                .map(|filter| Route::Orders(filter, after()))
            }
            ["v1", "orders", id, "route"] => {
                allow(&[Method::POST])?;
                OrderId::parse(id)
                    .map(Route::Reroute)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "orders", id, "buyer"] => {
                allow(&[Method::POST])?;
                OrderId::parse(id)
                    .map(Route::RevealBuyer)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "orders", id, "shipped"] => {
                allow(&[Method::POST])?;
                OrderId::parse(id)
                    .map(Route::MarkShipped)
                    .map_err(|_| ApiError::NotFound)
            }
            ["v1", "account"] => {
                allow(&[Method::GET, Method::PUT, Method::DELETE])?;
                if *method == Method::DELETE {
                    Ok(Route::CancelAccount)
                } else {
                    Ok(Route::Account)
                }
            }
            ["v1", "account", "cancellation"] => {
                allow(&[Method::GET])?;
                Ok(Route::CancellationStatus)
            }
            ["v1", "privacy", "receipts"] => {
                allow(&[Method::GET])?;
                Ok(Route::Receipts(after(), newest_first()?))
            }
            ["v1", "privacy", "deadlines"] => {
                allow(&[Method::GET])?;
                let within = query_param(request, "within_days")
                    .map(|days| {
                        days.parse::<u16>()
                            .ok()
                            .filter(|d| *d <= MAX_WITHIN_DAYS)
                            .ok_or(ApiError::BadRequest {
                                reason: "invalid_filter",
                                message: "`within_days` must be a whole number from 0 to 3650",
                            })
                    })
                    .transpose()?;
                Ok(Route::Deadlines(within, after()))
            }
            ["v1", "privacy", "receipts", "verify"] => {
                allow(&[Method::GET])?;
                Ok(Route::VerifyReceipts)
            }
            ["v1", "audit"] => {
                allow(&[Method::GET])?;
                Ok(Route::PiiAudit(after(), newest_first()?))
            }
            ["v1", "audit", "verify"] => {
                allow(&[Method::GET])?;
                Ok(Route::VerifyAudit)
            }
            ["v1", "privacy", "audit"] => {
                allow(&[Method::GET])?;
                Ok(Route::PiiAudit(after(), newest_first()?))
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
            ["v1", "exports"] => {
                allow(&[Method::GET, Method::POST])?;
                Ok(Route::Exports(after()))
            }
            ["v1", "exports", id] => {
                allow(&[Method::GET, Method::DELETE])?;
                crate::export_routes::export_from_path(id).map(Route::Export)
            }
            ["v1", "connect", "shopify"] => {
                allow(&[Method::GET])?;
                Ok(Route::ConnectShopify)
            }
            ["v1", "connect", "amazon"] => {
                allow(&[Method::GET])?;
                Ok(Route::ConnectAmazon)
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

    async fn process(
        &self,
        caller: Option<PresentedKey>,
        request: Request<Bytes>,
        request_id: &str,
    ) -> Result<Response<Bytes>, ApiError> {
        let key = match caller {
            Some(caller) => caller,
            None => {
                if let Some(answer) = self.callback(&request, request_id).await {
                    return answer;
                }
                // Authenticate before routing, so unauthenticated callers learn nothing about
                // routes.
                self.merchant(&request).await?
            }
        };
        if key.expired {
            return Err(ApiError::KeyExpired);
        }
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
                    Route::CancellationStatus | Route::Receipts(..) | Route::VerifyReceipts
                ) =>
            {
                merchant
            }
            KeyOwner::Closed(_) => return Err(ApiError::AccountClosed),
        };
        // The route table says which scope the route needs; a route it lacks is refused.
        let Some(scope) = crate::scope_for(request.method(), request.uri().path()) else {
            tracing::error!(path = %request.uri().path(), "a routed request has no scope in the table");
            return Err(ApiError::Internal);
        };
        if !key.has(scope) {
            return Err(ApiError::ScopeRequired(scope.as_str()));
        }
        self.api_keys.touch(&key).await;
        let actor = rc_orders::Actor {
            id: &key.key_id,
            request_id,
        };
        let admin = Self::admin_event(&route, request.method());
        let response = self
            .dispatch(route, &request, &key, &merchant, &actor)
            .await?;
        if let Some((action, purpose, subject)) = admin
            && response.status().is_success()
        {
            // An issued key: its id and scopes, as the answer states them.
            let (purpose, subject) = if action == "api_key_issued" {
                let issued = serde_json::from_slice::<serde_json::Value>(response.body())
                    .unwrap_or_default();
                let scopes: Vec<&str> = issued["scopes"]
                    .as_array()
                    .map(|list| list.iter().filter_map(|s| s.as_str()).collect())
                    .unwrap_or_default();
                (
                    scopes.join(" "),
                    issued["id"].as_str().unwrap_or_default().to_owned(),
                )
            } else {
                (purpose, subject)
            };
            self.privacy
                .audit
                .append(
                    &merchant,
                    rc_orders::AuditEvent {
                        action,
                        purpose: &purpose,
                        actor: actor.id,
                        subject: &subject,
                        orders: &[],
                        request_id,
                    },
                )
                .await?;
        }
        Ok(response)
    }

    async fn dispatch(
        &self,
        route: Route,
        request: &Request<Bytes>,
        key: &PresentedKey,
        merchant: &rc_domain::MerchantId,
        actor: &rc_orders::Actor<'_>,
    ) -> Result<Response<Bytes>, ApiError> {
        let merchant = merchant.clone();
        match route {
            Route::Exports(_) if request.method() == Method::POST => {
                let idempotency = idempotency_key(request)?;
                self.exports()?
                    .create(
                        &merchant,
                        key,
                        request.body(),
                        idempotency,
                        actor.request_id,
                    )
                    .await
            }
            Route::Exports(after) => self.exports()?.list(&merchant, after.as_deref()).await,
            Route::Export(id) if request.method() == Method::DELETE => {
                self.exports()?.delete(&merchant, &id).await
            }
            Route::Export(id) => self.exports()?.show(&merchant, &id).await,
            Route::ConnectShopify => {
                self.connect()?
                    .start_shopify(&merchant, &key.key_id, request.uri().query())
                    .await
            }
            Route::ConnectAmazon => {
                self.connect()?
                    .start_amazon(&merchant, &key.key_id, request.uri().query())
                    .await
            }
            Route::ApiKeys if request.method() == Method::POST => {
                self.keys.create(&merchant, key, request.body()).await
            }
            Route::ApiKeys => self.keys.list(&merchant).await,
            Route::Account if request.method() == Method::PUT => {
                self.account.put(&merchant, request.body()).await
            }
            Route::Account => self.account.show(&merchant).await,
            Route::ApiKey(id) => self.keys.revoke(&merchant, &id).await,
            Route::Inventory(after) => self.inventory.list(&merchant, after.as_deref()).await,
            Route::Stock(sku) => self.inventory.show(&merchant, &sku).await,
            Route::AdjustStock(sku) => {
                let key = idempotency_key(request)?;
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
            Route::Reroute(order) => {
                order_routes::reroute(
                    &self.orders,
                    &self.inventory.reservations,
                    &self.fulfillment.planner,
                    &merchant,
                    &order,
                )
                .await
            }
            Route::MarkShipped(order) => {
                self.fulfillment
                    .shipped_outside(&merchant, &order, request.body())
                    .await
            }
            Route::RevealBuyer(order) => {
                // Opening buyer PII takes a key made for it (`pii:read`), a named reason,
                // and is recorded.
                order_routes::reveal_buyer(
                    &self.orders,
                    &self.privacy.audit,
                    &merchant,
                    &order,
                    request.body(),
                    actor,
                )
                .await
            }
            Route::CancelAccount => self.privacy.cancel_account(&merchant, request.body()).await,
            Route::CancellationStatus => self.privacy.cancellation_status(&merchant).await,
            Route::Receipts(after, newest) => {
                self.privacy
                    .receipts(&merchant, after.as_deref(), newest)
                    .await
            }
            Route::Deadlines(within, after) => {
                self.privacy
                    .deadlines(&self.orders, &merchant, within, after.as_deref())
                    .await
            }
            Route::VerifyReceipts => self.privacy.verify_receipts(&merchant).await,
            Route::PrivacyRequests(after) => {
                self.privacy.requests(&merchant, after.as_deref()).await
            }
            Route::PrivacyRequest(id) => self.privacy.request(&merchant, &id).await,
            Route::PrivacyReport(id) => {
                // Opening buyer PII takes a key made for it (`pii:read`), and is recorded.
                self.privacy
                    .report(&self.orders, &merchant, &id, actor)
                    .await
            }
            Route::PiiAudit(after, newest) => {
                self.privacy
                    .audit(&merchant, after.as_deref(), newest)
                    .await
            }
            Route::VerifyAudit => {
                let report = self.privacy.audit.verify(&merchant).await?;
                Ok(crate::json(http::StatusCode::OK, &report))
            }
            Route::Orders(filter, after) => {
                order_routes::list(&self.orders, &merchant, filter, after.as_deref()).await
            }
            Route::Order(order) => {
                order_routes::show(
                    &self.orders,
                    &self.inventory.reservations,
                    &merchant,
                    &order,
                )
                .await
            }
            Route::Routing if request.method() == Method::PUT => {
                self.routing.put(&merchant, request.body()).await
            }
            Route::Routing => self.routing.show(&merchant).await,
            Route::ParcelDefaults(sku) => {
                self.fulfillment
                    .put_parcel_defaults(&merchant, &sku, request.body())
                    .await
            }
            Route::OrderShipments(order) => self.fulfillment.for_order(&merchant, &order).await,
            Route::Shipments(status, after) => {
                self.fulfillment
                    .list(&merchant, status, after.as_deref())
                    .await
            }
            Route::Shipment(id) => self.fulfillment.show(&merchant, &id).await,
            Route::ShipmentParcel(id) => {
                self.fulfillment
                    .set_parcel(&merchant, &id, request.body())
                    .await
            }
            Route::ShipmentLabel(id) if request.method() == Method::POST => {
                self.fulfillment.relabel(&merchant, &id).await
            }
            Route::ShipmentLabel(id) => {
                // A label prints the buyer's address: opening it takes a key made for it
                // (`pii:read`), and is recorded.
                self.fulfillment.label(&merchant, &id, actor).await
            }
            Route::ShipmentVoid(id) => self.fulfillment.void(&merchant, &id).await,
            Route::ShipmentConfirm(id) => self.fulfillment.confirm_again(&merchant, &id).await,
            Route::FulfillmentSettings if request.method() == Method::PUT => {
                self.fulfillment
                    .put_settings(&merchant, request.body())
                    .await
            }
            Route::FulfillmentSettings => self.fulfillment.settings(&merchant).await,
            Route::ConfirmationFailures => self.fulfillment.confirmation_failures(&merchant).await,
            Route::StalledTracking => self.fulfillment.stalled_tracking(&merchant).await,
            Route::Couriers => self.fulfillment.couriers(&merchant).await,
            Route::TaxClasses => self.tax.classes(&merchant).await,
            Route::TaxClass(id) if request.method() == Method::PUT => {
                self.tax.put_class(&merchant, &id, request.body()).await
            }
            Route::TaxClass(id) => self.tax.class(&merchant, &id).await,
            Route::SkuTaxClass(sku) if request.method() == Method::PUT => {
                self.tax.assign(&merchant, &sku, request.body()).await
            }
            Route::SkuTaxClass(sku) => self.tax.sku_class(&merchant, &sku).await,
            Route::TaxSettings if request.method() == Method::PUT => {
                self.tax.put_settings(&merchant, request.body()).await
            }
            Route::TaxSettings => self.tax.settings(&merchant).await,
            Route::OrderTax(order) if request.method() == Method::POST => {
                self.tax.recompute(&merchant, &order).await
            }
            Route::OrderTax(order) => self.tax.order_tax(&merchant, &order).await,
            Route::TaxReport => self.tax.report(&merchant, request.uri().query()).await,
            Route::Courier(account) if request.method() == Method::DELETE => {
                self.fulfillment.delete_courier(&merchant, &account).await
            }
            Route::Courier(account) => {
                self.fulfillment
                    .put_courier(&merchant, &account, request.body())
                    .await
            }
            Route::Connections => self.connections.list(&merchant).await,
            Route::Warehouses => self.warehouses.list(&merchant).await,
            Route::Warehouse(id) => match *request.method() {
                Method::PUT => self.warehouses.put(&merchant, &id, request.body()).await,
                Method::DELETE => self.warehouses.delete(&merchant, &id).await,
                _ => self.warehouses.show(&merchant, &id).await,
            },
            Route::AmazonConnection(seller) if request.method() == Method::DELETE => {
                let answer = self.connections.remove_amazon(&merchant, &seller).await?;
                // Its notification subscription is deleted at Amazon now if it can be; what
                // fails stays persisted for the scheduled reconciliation.
                if let Some(connect) = &self.connect {
                    rc_jobs::drain_unsubscribes(&connect.connections, connect.amazon.as_ref())
                        .await;
                }
                Ok(answer)
            }
            Route::AmazonConnection(seller) => {
                self.connections
                    .put_amazon(&merchant, &seller, request.body())
                    .await
            }
            Route::ShopifyConnection(shop) if request.method() == Method::DELETE => {
                self.connections.remove_shopify(&merchant, &shop).await
            }
            Route::ShopifyConnection(shop) => {
                self.connections
                    .put_shopify(&merchant, &shop, request.body())
                    .await
            }
        }
    }
}

/// The raw value of the query parameter `name` (its first occurrence), as sent: the callers
/// take only closed words, ids and numbers, which need no decoding.
fn query_param<'a>(request: &'a Request<Bytes>, name: &str) -> Option<&'a str> {
    request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
    })
}

/// A list whose one filter value is `state`: the route without a `state` or with that one, and
/// 422 `unknown_filter` for any other (never echoed).
fn only_state(
    request: &Request<Bytes>,
    state: &'static str,
    route: Route,
) -> Result<Route, ApiError> {
    match query_param(request, "state") {
        None => Ok(route),
        Some(given) if given == state => Ok(route),
        Some(_) => Err(ApiError::InvalidPayload {
            reason: "unknown_filter",
            message: format!("`state` may only be {state}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid value for each path parameter of the route table.
    fn sample(path: &str) -> String {
        path.split('/')
            .map(|segment| match segment {
                "{order_id}" => "shopify-1001",
                "{shipment_id}" => "shopify-1001.1",
                "{sku}" => "MUG-350",
                "{warehouse_id}" => "main",
                "{class_id}" => "gst-18",
                "{shop}" => "acme.myshopify.com",
                "{seller_id}" => "A1B2C3D4E5F6G7",
                "{kind}" => "easypost",
                "{name}" => "main",
                "{request_id}" => "req-1",
                "{key_id}" => "0123456789abcdef",
                "{export_id}" => "x1795000000000-0123456789abcdef",
                other => other,
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn routes(method: &Method, path: &str) -> bool {
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("http://localhost{path}"))
            .body(Bytes::new())
            .expect("request");
        MerchantApi::route(&request).is_ok()
    }

    /// The router and the scope table agree: every route in the table is routed, and every
    /// method the router takes on those paths has a scope (so none is ever let through
    /// unchecked, and none in the table is dead).
    #[test]
    fn the_router_takes_exactly_the_routes_of_the_scope_table() {
        let methods = [
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::PATCH,
        ];
        for entry in crate::ROUTE_SCOPES {
            let path = sample(entry.path);
            let method = Method::from_bytes(entry.method.as_bytes()).expect("method");
            assert!(
                routes(&method, &path),
                "{} {path} is not routed",
                entry.method
            );
            for method in &methods {
                if routes(method, &path) {
                    assert!(
                        crate::scope_for(method, &path).is_some(),
                        "{method} {path} is routed but has no scope"
                    );
                }
            }
        }
    }
}
