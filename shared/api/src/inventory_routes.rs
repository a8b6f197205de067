//! The merchant API's inventory routes: stock per warehouse (adjusted with a reason), kits,
//! channel listings, the ledger. A change is pushed to the SKU's listings at once.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{MerchantId, ShopDomain, Sku, WarehouseId};
use rc_inventory::{
    Adjustment, ChannelAllocation, InventoryError, KitComponent, ListingRepository, ListingTarget,
    StockRepository,
};
use rc_orders::ConnectionRepository;
use serde::Deserialize;
use serde_json::json;

use crate::connection_routes::amazon_id;
use rc_jobs::{Backorders, InventorySync};

use crate::{ApiError, json};

/// The longest a merchant's request waits for the channels after a stock change.
const PUSH_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

/// What the inventory routes need.
pub struct InventoryApi {
    pub stock: Arc<StockRepository>,
    pub listings: Arc<ListingRepository>,
    pub connections: Arc<ConnectionRepository>,
    pub sync: Arc<InventorySync>,
    pub backorders: Arc<Backorders>,
    /// The merchant's warehouse records (served by the warehouse routes).
    pub warehouses: Arc<rc_inventory::WarehouseRepository>,
    /// The merchant's routing settings (served by the routing routes).
    pub routing: Arc<rc_inventory::RoutingRepository>,
    /// Orders' reservations and routing decisions (shown with each order).
    pub reservations: Arc<rc_inventory::Reservations>,
}

/// `POST /v1/inventory/{sku}/adjustments` (serde cannot deny unknown fields beside a flattened
/// enum: unknown fields are ignored).
#[derive(Deserialize)]
struct AdjustStock {
    warehouse: String,
    #[serde(flatten)]
    adjustment: Adjustment,
    reason: String,
}

/// `PUT /v1/inventory/{sku}/kit`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefineKit {
    components: Vec<KitComponent>,
}

/// `PUT /v1/inventory/{sku}/listings` (unknown fields ignored, as above).
#[derive(Deserialize)]
struct PutListing {
    #[serde(flatten)]
    target: RawTarget,
    #[serde(default)]
    safety_buffer: i64,
    /// Any integer, checked after parsing: out of range is a 422 naming the field.
    #[serde(default = "hundred")]
    percent: i64,
    #[serde(default)]
    max: Option<i64>,
}

/// A listing target as sent: parsed into [`ListingTarget`] field by field, so a bad identifier
/// is a 422 naming its field rather than a shapeless 400.
#[derive(Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case", deny_unknown_fields)]
enum RawTarget {
    Shopify {
        shop: String,
        location_id: u64,
        inventory_item_id: u64,
    },
    Amazon {
        seller_id: String,
        marketplace_id: String,
        seller_sku: String,
        product_type: String,
    },
}

impl RawTarget {
    fn parse(self) -> Result<ListingTarget, ApiError> {
        match self {
            Self::Shopify {
                shop,
                location_id,
                inventory_item_id,
            } => Ok(ListingTarget::Shopify {
                shop: ShopDomain::parse(&shop).map_err(|_| invalid("field `shop` is invalid"))?,
                location_id,
                inventory_item_id,
            }),
            Self::Amazon {
                seller_id,
                marketplace_id,
                seller_sku,
                product_type,
            } => {
                if seller_sku.is_empty() || seller_sku.len() > 40 || product_type.is_empty() {
                    return Err(invalid(
                        "fields `seller_sku` (1-40) and `product_type` are required",
                    ));
                }
                if product_type.len() > 100
                    || !product_type
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(invalid("field `product_type` is invalid"));
                }
                if seller_sku.chars().any(char::is_control) {
                    return Err(invalid("field `seller_sku` is invalid"));
                }
                Ok(ListingTarget::Amazon {
                    seller_id: amazon_id(&seller_id, "seller_id")?,
                    marketplace_id: amazon_id(&marketplace_id, "marketplace_id")?,
                    seller_sku,
                    product_type,
                })
            }
        }
    }
}

fn hundred() -> i64 {
    100
}

fn invalid(message: &str) -> ApiError {
    ApiError::InvalidPayload {
        reason: "invalid_field",
        message: message.to_owned(),
    }
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::Invalid(message) => invalid(message),
            InventoryError::Insufficient(message) => ApiError::InvalidPayload {
                reason: "insufficient_stock",
                message: message.to_owned(),
            },
            InventoryError::UnknownStock => ApiError::NotFound,
            InventoryError::IdempotencyKeyReused => ApiError::InvalidPayload {
                reason: "idempotency_key_reused",
                message: "this Idempotency-Key was used for a different request".into(),
            },
            other if other.is_retryable() => ApiError::Unavailable,
            other => {
                tracing::error!(error = %other, "inventory request failed");
                ApiError::Internal
            }
        }
    }
}

fn body<'a, T: Deserialize<'a>>(raw: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw)
        .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))
}

impl InventoryApi {
    pub(crate) async fn show(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<Response<Bytes>, ApiError> {
        let levels = self.stock.levels(merchant, sku).await?;
        let kit = self.stock.kit(merchant, sku).await?;
        if levels.is_empty() && kit.is_none() {
            return Err(ApiError::NotFound);
        }
        let available = self.stock.available(merchant, sku).await?;
        let listings: Vec<_> = self
            .listings
            .of_sku(merchant, sku)
            .await?
            .into_iter()
            .map(|l| {
                let to_sell = l.allocation.available_to_sell(available);
                json!({ "listing": l, "available_to_sell": to_sell })
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            &json!({
                "sku": sku,
                "warehouses": levels,
                "available": available,
                "kit": kit,
                "listings": listings,
            }),
        ))
    }

    /// `GET /v1/inventory?after=<sku>`: SKUs with their free units, 100 a page.
    pub(crate) async fn list(
        &self,
        merchant: &MerchantId,
        after: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let after = after.map(sku_from_path).transpose()?;
        let (skus, more) = self.stock.skus_page(merchant, 100, after.as_ref()).await?;
        let mut items = Vec::with_capacity(skus.len());
        for sku in &skus {
            let available = self.stock.available(merchant, sku).await?;
            items.push(json!({ "sku": sku, "available": available }));
        }
        let next = skus.last().filter(|_| more).map(|s| s.as_str().to_owned());
        Ok(json(
            StatusCode::OK,
            &json!({ "skus": items, "next": next }),
        ))
    }

    pub(crate) async fn adjust(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        raw: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let request: AdjustStock = body(raw)?;
        let warehouse = WarehouseId::parse(&request.warehouse)
            .map_err(|_| invalid("field `warehouse` is invalid"))?;
        let reason = request.reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control)
        {
            return Err(invalid(
                "field `reason` must be 1 to 200 printable characters",
            ));
        }
        if self.stock.kit(merchant, sku).await?.is_some() {
            return Err(invalid(
                "a kit has no stock of its own; adjust its components",
            ));
        }
        let applied = self
            .stock
            .adjust_once(
                merchant,
                sku,
                &warehouse,
                request.adjustment,
                reason,
                "merchant-api",
                idempotency_key,
            )
            .await;
        let level = match applied {
            Ok(level) => level,
            // A retry of a request already applied: the stock as it is, nothing changed.
            Err(InventoryError::AlreadyApplied) => {
                let level = self
                    .stock
                    .levels(merchant, sku)
                    .await?
                    .get(&warehouse)
                    .copied();
                return Ok(json(
                    StatusCode::OK,
                    &json!({ "sku": sku, "warehouse": warehouse, "level": level, "status": "duplicate" }),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(%merchant, sku = %sku.as_str(), %warehouse, kind = request.adjustment.name(), "stock adjusted");
        // New stock may complete backordered orders (they reserve before the push).
        if let Err(error) = self
            .backorders
            .retry(merchant, std::slice::from_ref(sku))
            .await
        {
            tracing::warn!(%merchant, %error, "backorders not retried now; the next stock change retries them");
        }
        let pushed = self.push(merchant, sku).await;
        Ok(json(
            StatusCode::OK,
            &json!({ "sku": sku, "warehouse": warehouse, "level": level, "push": pushed }),
        ))
    }

    pub(crate) async fn define_kit(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        raw: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: DefineKit = body(raw)?;
        self.stock
            .define_kit(merchant, sku, &request.components)
            .await?;
        let pushed = self.push(merchant, sku).await;
        Ok(json(
            StatusCode::OK,
            &json!({ "sku": sku, "components": request.components, "push": pushed }),
        ))
    }

    pub(crate) async fn put_listing(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        raw: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: PutListing = body(raw)?;
        let percent = u8::try_from(request.percent)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or_else(|| invalid("field `percent` must be 0 to 100"))?;
        // A listing must point at one of the merchant's own connections. What is stored is the
        // parsed identifier, never the raw text (padding, case).
        let target = request.target.parse()?;
        let connected = match &target {
            ListingTarget::Shopify { shop, .. } => self
                .connections
                .shopify(shop)
                .await?
                .is_some_and(|c| &c.merchant == merchant),
            ListingTarget::Amazon {
                seller_id,
                marketplace_id,
                ..
            } => self.connections.amazon(seller_id).await?.is_some_and(|c| {
                &c.merchant == merchant && c.marketplace_ids.contains(marketplace_id)
            }),
        };
        if !connected {
            return Err(ApiError::InvalidPayload {
                reason: "unknown_connection",
                message: "the listing points at no connection of yours (connect the shop or seller and marketplace first)".into(),
            });
        }
        let allocation = ChannelAllocation {
            safety_buffer: request.safety_buffer,
            percent,
            max: request.max,
        };
        self.listings
            .put(merchant, sku, &target, allocation)
            .await?;
        let pushed = self.push(merchant, sku).await;
        Ok(json(
            StatusCode::OK,
            &json!({ "sku": sku, "listing": target, "push": pushed }),
        ))
    }

    pub(crate) async fn ledger(
        &self,
        merchant: &MerchantId,
        after: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let after = after.map(|a| rc_store::PageToken(a.to_owned()));
        let page = self
            .stock
            .ledger(merchant, 100, after)
            .await
            .map_err(|e| match e {
                InventoryError::Store(rc_store::StoreError::BadPageToken) => ApiError::NotFound,
                other => other.into(),
            })?;
        Ok(json(
            StatusCode::OK,
            &json!({ "entries": page.items, "next": page.next.map(|t| t.0) }),
        ))
    }

    /// Pushes one SKU's listings now, within [`PUSH_BUDGET`] (a slow channel must not hold the
    /// merchant's request past API Gateway's 29 s); failures and what did not fit are retried by
    /// the scheduled sync.
    async fn push(&self, merchant: &MerchantId, sku: &Sku) -> serde_json::Value {
        let push = self.sync.sync(merchant, std::slice::from_ref(sku));
        match tokio::time::timeout(PUSH_BUDGET, push).await {
            Ok(Ok(report)) => json!({ "pushed": report.pushed, "failed": report.failed.len() }),
            Ok(Err(error)) => {
                tracing::warn!(%merchant, %error, "push after a stock change failed; the schedule retries");
                json!({ "pushed": 0, "failed": "retried by the scheduled sync" })
            }
            Err(_) => {
                tracing::warn!(%merchant, "push after a stock change took too long; the schedule finishes it");
                json!({ "pushed": "unknown", "failed": "left to the scheduled sync" })
            }
        }
    }
}

/// A SKU from a path segment, percent-decoded (SKUs may hold `/`, spaces, `#`).
pub(crate) fn sku_from_path(segment: &str) -> Result<Sku, ApiError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3).ok_or(ApiError::NotFound)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ApiError::NotFound)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| ApiError::NotFound)?;
    Sku::parse(&text).map_err(|_| ApiError::NotFound)
}
