//! The merchant API's fulfillment routes: shipments, their labels, courier accounts and SKU
//! parcel defaults.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/orders/{id}/shipments` | the order's shipments |
//! | `GET /v1/shipments?status=<status>&after=<id>` | the merchant's shipments in a status, 100 a page |
//! | `GET /v1/shipments/{id}` | one shipment: parcel, status and reason, rates, chosen rate, purchase |
//! | `PUT /v1/shipments/{id}/parcel` | set its parcel before a label is bought (queues the label) |
//! | `POST /v1/shipments/{id}/label` | buy its label again after `label_failed` or `voided` |
//! | `POST /v1/shipments/{id}/void` | void (refund) its label before pickup; the label copy is erased |
//! | `GET /v1/shipments/{id}/label` | the label document, opened now (`pii:read` key, audited) |
//! | `GET /v1/couriers` | the merchant's courier accounts, no secrets |
//! | `PUT /v1/couriers/{kind}/{name}` | add or replace one: `{"api_key"}` (EasyPost, sandbox) or `{"email", "password", "pickup_location"}` (Shiprocket), `{"seller_id"}` (Amazon Shipping, through that connection), each with an optional `webhook_secret` (EasyPost's HMAC secret, Shiprocket's token) that turns on its tracking webhook (`tracking_webhook` in the answer); sealed, never echoed |
//! | `DELETE /v1/couriers/{kind}/{name}` | delete it (its key destroyed) |
//! | `POST /v1/shipments/{id}/confirm` | tell the marketplace again after a confirmation `failed` (fixed connection, carrier) |
//! | `GET/PUT /v1/settings/fulfillment` | `{"notify_customer", "poll_after_hours"}`: Shopify's customer e-mail, the polling fallback's silence |
//! | `PUT /v1/inventory/{sku}/parcel` | the SKU's parcel defaults: `{"weight_g", "length_mm", "width_mm", "height_mm"}` |

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use rc_domain::{
    CourierAccountRef, CourierKind, MerchantId, OrderId, Parcel, Secret, SecretText, ShipmentId,
    ShipmentStatus, Sku,
};
use rc_fulfillment::{
    CourierAccountRepository, CourierSecrets, FulfillmentError, FulfillmentSettings,
    FulfillmentSettingsRepository, LabelGenerator, OutsideShipments, OutsideTracking,
    SHIPPED_OUTSIDE, Shipment, ShipmentPlanner, ShipmentRepository,
};
use rc_inventory::StockRepository;
use rc_queue::{ShipmentEvent, ShipmentEvents};
use serde::Deserialize;
use serde_json::json;

use crate::{ApiError, json};

/// What the fulfillment routes work with.
pub struct FulfillmentApi {
    pub orders: Arc<rc_orders::OrderRepository>,
    pub shipments: Arc<ShipmentRepository>,
    pub accounts: Arc<CourierAccountRepository>,
    pub planner: Arc<ShipmentPlanner>,
    pub stock: Arc<StockRepository>,
    /// Labels: void and download (absent where no label store is configured).
    pub labels: Option<Arc<LabelGenerator>>,
    pub settings: Arc<FulfillmentSettingsRepository>,
    pub outside: Arc<OutsideShipments>,
    /// The fulfillment worker's queue (a confirmation tried again).
    pub events: Arc<dyn ShipmentEvents>,
}

impl From<FulfillmentError> for ApiError {
    fn from(error: FulfillmentError) -> Self {
        match error {
            FulfillmentError::Conflict | FulfillmentError::Busy => ApiError::InUse {
                reason: "shipment_busy",
                message: "the shipment is being labelled; try again shortly",
            },
            FulfillmentError::Courier(e) => ApiError::Upstream(e.reason()),
            other => {
                tracing::error!(error = %other, "fulfillment failure");
                if other.is_retryable() {
                    ApiError::Unavailable
                } else {
                    ApiError::Internal
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParcelInput {
    weight_g: i64,
    length_mm: i64,
    width_mm: i64,
    height_mm: i64,
}

impl ParcelInput {
    fn parse(body: &[u8]) -> Result<Parcel, ApiError> {
        let input: ParcelInput = serde_json::from_slice(body)
            .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
        Parcel::parse(
            input.weight_g,
            input.length_mm,
            input.width_mm,
            input.height_mm,
        )
        .map_err(|e| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: e.to_string(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CourierInput {
    api_key: String,
    webhook_secret: Option<String>,
}

/// Amazon Shipping: which of the merchant's Amazon connections buys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SellerInput {
    seller_id: String,
    webhook_secret: Option<String>,
}

/// Shiprocket's API user (Settings → API in its panel) and the pickup location's name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    email: String,
    password: String,
    pickup_location: String,
    webhook_secret: Option<String>,
}

/// `POST /v1/orders/{id}/shipped`: optionally, the package's carrier and tracking number.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedInput {
    carrier: Option<String>,
    tracking_number: Option<String>,
}

fn secret(raw: &str, field: &'static str) -> Result<Secret<SecretText>, ApiError> {
    SecretText::parse(raw.trim())
        .map(Secret::new)
        .map_err(|_| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: format!("field `{field}` is invalid"),
        })
}

/// A shipment id from the path, or 404.
pub(crate) fn shipment_from_path(raw: &str) -> Result<ShipmentId, ApiError> {
    ShipmentId::parse(raw).map_err(|_| ApiError::NotFound)
}

/// A courier account from the path: 404 for an unknown kind or a name that cannot be one.
pub(crate) fn courier_from_path(kind: &str, name: &str) -> Result<CourierAccountRef, ApiError> {
    CourierAccountRef::parse(kind, name).map_err(|_| ApiError::NotFound)
}

/// The `status` query parameter: one of the documented statuses (422 otherwise).
pub(crate) fn status_from_query(query: Option<&str>) -> Result<ShipmentStatus, ApiError> {
    let raw = query
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("status=")))
        .unwrap_or("awaiting_label");
    ShipmentStatus::parse(raw).ok_or(ApiError::InvalidPayload {
        reason: "invalid_field",
        message: "status must be a shipment status (awaiting_label, purchasing, label_created, label_failed, voided, picked_up, in_transit, out_for_delivery, delivery_attempted, undeliverable, return_to_origin, returned, delivered, lost, cancelled)"
            .into(),
    })
}

impl FulfillmentApi {
    async fn shipment(&self, merchant: &MerchantId, id: &ShipmentId) -> Result<Shipment, ApiError> {
        self.shipments
            .get(merchant, id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    pub(crate) async fn for_order(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Response<Bytes>, ApiError> {
        let shipments = self.shipments.for_order(merchant, order).await?;
        // Per line, how much left, arrived, came back: a partial shipment is visible.
        let lines = match self.orders.view(merchant, order).await? {
            Some(view) => {
                rc_fulfillment::line_progress(&self.stock, merchant, &view, &shipments).await?
            }
            None if shipments.is_empty() => return Err(ApiError::NotFound),
            None => Vec::new(),
        };
        Ok(json(
            StatusCode::OK,
            &json!({ "shipments": shipments, "lines": lines }),
        ))
    }

    pub(crate) async fn list(
        &self,
        merchant: &MerchantId,
        status: ShipmentStatus,
        after: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let after = after
            .map(|a| ShipmentId::parse(a).map_err(|_| ApiError::NotFound))
            .transpose()?;
        let (shipments, next) = self
            .shipments
            .by_status(merchant, status, after.as_ref())
            .await?;
        Ok(json(
            StatusCode::OK,
            &json!({ "shipments": shipments, "next": next }),
        ))
    }

    /// `GET /v1/confirmations?state=failed`: shipments whose marketplace confirmation failed
    /// for good (the merchant fixes the tracking number and confirms again), at most 100.
    pub(crate) async fn confirmation_failures(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        let shipments = self.shipments.confirmation_failures(merchant, 100).await?;
        Ok(json(StatusCode::OK, &json!({ "shipments": shipments })))
    }

    /// `GET /v1/tracking?state=stalled`: labelled parcels with no courier event for five days
    /// (a label never handed over, a parcel the carrier stopped scanning), at most 100.
    pub(crate) async fn stalled_tracking(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        let shipments = self.shipments.stalled(merchant, 100).await?;
        Ok(json(StatusCode::OK, &json!({ "shipments": shipments })))
    }

    pub(crate) async fn show(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<Response<Bytes>, ApiError> {
        Ok(json(StatusCode::OK, &self.shipment(merchant, id).await?))
    }

    /// Sets the parcel of a shipment whose label is not bought, and queues its label.
    pub(crate) async fn set_parcel(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let parcel = ParcelInput::parse(body)?;
        let mut shipment = self.shipment(merchant, id).await?;
        let open = matches!(
            shipment.status,
            ShipmentStatus::AwaitingLabel | ShipmentStatus::LabelFailed | ShipmentStatus::Voided
        );
        if !open || shipment.purchase.is_some() {
            return Err(ApiError::InUse {
                reason: "label_exists",
                message: "a label is bought (or being bought) for this shipment: void it first",
            });
        }
        let was = shipment.status;
        shipment.parcel = Some(parcel);
        // Rates were for the old parcel.
        shipment.quotes.clear();
        shipment.chosen = None;
        shipment.status = ShipmentStatus::AwaitingLabel;
        shipment.reason = None;
        shipment.courier_code = None;
        self.shipments.save(merchant, &mut shipment, was).await?;
        self.planner
            .queue(merchant, std::slice::from_ref(&shipment))
            .await?;
        Ok(json(StatusCode::OK, &shipment))
    }

    /// Buys the label again after a failure (credentials fixed) or a void.
    pub(crate) async fn relabel(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<Response<Bytes>, ApiError> {
        let mut shipment = self.shipment(merchant, id).await?;
        if shipment.reason.as_deref() == Some(SHIPPED_OUTSIDE) {
            return Err(ApiError::InUse {
                reason: "shipped_outside",
                message: "the order left outside RetailCoder",
            });
        }
        match shipment.status {
            ShipmentStatus::LabelFailed | ShipmentStatus::Voided | ShipmentStatus::Cancelled => {
                let was = shipment.status;
                shipment.status = ShipmentStatus::AwaitingLabel;
                shipment.reason = None;
                shipment.courier_code = None;
                // A refused quote may have been the credentials': quote again.
                if shipment.purchase.is_none() {
                    shipment.quotes.clear();
                    shipment.chosen = None;
                }
                self.shipments.save(merchant, &mut shipment, was).await?;
            }
            ShipmentStatus::AwaitingLabel | ShipmentStatus::Purchasing => {}
            ShipmentStatus::LabelCreated => {
                return Err(ApiError::InUse {
                    reason: "label_exists",
                    message: "the shipment has its label: void it first",
                });
            }
            _ => {
                return Err(ApiError::InUse {
                    reason: "shipment_left",
                    message: "the shipment is with its courier",
                });
            }
        }
        if shipment.parcel.is_none() {
            return Err(ApiError::InvalidPayload {
                reason: "parcel_missing",
                message: "set the shipment's parcel first (PUT /v1/shipments/{id}/parcel)".into(),
            });
        }
        self.planner
            .queue(merchant, std::slice::from_ref(&shipment))
            .await?;
        Ok(json(StatusCode::ACCEPTED, &shipment))
    }

    pub(crate) async fn void(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<Response<Bytes>, ApiError> {
        let labels = self.labels.as_ref().ok_or(ApiError::Unavailable)?;
        self.shipment(merchant, id).await?;
        match labels.void(merchant, id).await? {
            Ok(shipment) => Ok(json(StatusCode::OK, &shipment)),
            Err(refusal) => Err(ApiError::InUse {
                reason: refusal,
                message: match refusal {
                    "no_label" => "the shipment has no label to void",
                    _ => "the courier refused to void the label (used, or too late)",
                },
            }),
        }
    }

    /// The label document, opened now for the merchant (audited).
    pub(crate) async fn label(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
        actor: &rc_orders::Actor<'_>,
    ) -> Result<Response<Bytes>, ApiError> {
        let labels = self.labels.as_ref().ok_or(ApiError::Unavailable)?;
        let shipment = self.shipment(merchant, id).await?;
        let (format, document) = labels
            .open_label(merchant, &shipment, actor)
            .await?
            .ok_or(ApiError::NotFound)?;
        let content_type = rc_couriers::LabelFormat::parse(&format)
            .map_or("application/octet-stream", |f| f.content_type());
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            // Opened on the fly: never cached, anywhere.
            .header(header::CACHE_CONTROL, "no-store")
            .body(Bytes::from(document.to_vec()))
            .map_err(|_| ApiError::Internal)
    }

    pub(crate) async fn couriers(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        let accounts = self.accounts.list(merchant).await?;
        Ok(json(StatusCode::OK, &json!({ "couriers": accounts })))
    }

    pub(crate) async fn put_courier(
        &self,
        merchant: &MerchantId,
        account: &CourierAccountRef,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let malformed =
            |e: serde_json::Error| ApiError::MalformedJson(rc_channels::describe_json_error(&e));
        let mut webhook: Option<String> = None;
        let secrets = match account.kind {
            CourierKind::EasyPost | CourierKind::Sandbox => {
                let input: CourierInput = serde_json::from_slice(body).map_err(malformed)?;
                webhook = input.webhook_secret;
                CourierSecrets::ApiKey(secret(&input.api_key, "api_key")?)
            }
            CourierKind::Shiprocket => {
                let input: LoginInput = serde_json::from_slice(body).map_err(malformed)?;
                webhook = input.webhook_secret.clone();
                let pickup = input.pickup_location.trim();
                let pickup_ok =
                    (1..=100).contains(&pickup.len()) && !pickup.chars().any(char::is_control);
                let email = input.email.trim();
                if !email.contains('@') {
                    return Err(ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `email` is invalid".into(),
                    });
                }
                if !pickup_ok {
                    return Err(ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `pickup_location` is invalid".into(),
                    });
                }
                CourierSecrets::Login {
                    email: secret(email, "email")?,
                    password: secret(&input.password, "password")?,
                    pickup_location: pickup.to_owned(),
                }
            }
            CourierKind::AmazonShipping => {
                let input: SellerInput = serde_json::from_slice(body).map_err(malformed)?;
                if input.webhook_secret.is_some() {
                    return Err(ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `webhook_secret`: Amazon Shipping is tracked by polling"
                            .into(),
                    });
                }
                let seller = rc_domain::SellerId::parse(input.seller_id.trim()).map_err(|_| {
                    ApiError::InvalidPayload {
                        reason: "invalid_field",
                        message: "field `seller_id` is invalid".into(),
                    }
                })?;
                if !self.accounts.seller_connected(merchant, &seller).await? {
                    return Err(ApiError::InvalidPayload {
                        reason: "unknown_connection",
                        message: "connect this Amazon seller first (PUT /v1/connections/amazon/{seller_id})".into(),
                    });
                }
                CourierSecrets::AmazonSeller(seller)
            }
        };
        let webhook = webhook.map(|w| secret(&w, "webhook_secret")).transpose()?;
        let rc_fulfillment::PutCourier {
            created,
            tracking_webhook,
        } = self
            .accounts
            .put(merchant, account, &secrets, webhook.as_ref())
            .await?;
        tracing::info!(%merchant, courier = %account.label(), created, "courier account saved");
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json(
            status,
            &json!({"kind": account.kind, "name": account.name, "tracking_webhook": tracking_webhook}),
        ))
    }

    pub(crate) async fn delete_courier(
        &self,
        merchant: &MerchantId,
        account: &CourierAccountRef,
    ) -> Result<Response<Bytes>, ApiError> {
        if !self.accounts.remove(merchant, account).await? {
            return Err(ApiError::NotFound);
        }
        tracing::info!(%merchant, courier = %account.label(), "courier account deleted");
        Ok(json(
            StatusCode::OK,
            &json!({"kind": account.kind, "name": account.name, "status": "deleted"}),
        ))
    }

    /// `POST /v1/orders/{id}/shipped`: shipped outside RetailCoder, now; with a carrier and
    /// tracking number, the marketplace is told like for any package.
    pub(crate) async fn shipped_outside(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let input: ShippedInput = if body.iter().all(u8::is_ascii_whitespace) {
            ShippedInput {
                carrier: None,
                tracking_number: None,
            }
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?
        };
        let invalid = |field: &str| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: format!("field `{field}` is invalid"),
        };
        let tracking = match (input.carrier.as_deref(), input.tracking_number.as_deref()) {
            (None, None) => None,
            (Some(carrier), Some(number)) => Some(OutsideTracking {
                carrier: rc_domain::carrier_name(carrier)
                    .ok_or_else(|| invalid("carrier"))?
                    .to_owned(),
                tracking_code: rc_domain::TrackingCode::parse(number.trim())
                    .map_err(|_| invalid("tracking_number"))?,
            }),
            (None, Some(_)) => {
                return Err(ApiError::InvalidPayload {
                    reason: "missing_field",
                    message: "field `carrier` is required with `tracking_number`".into(),
                });
            }
            (Some(_), None) => {
                return Err(ApiError::InvalidPayload {
                    reason: "missing_field",
                    message: "field `tracking_number` is required with `carrier`".into(),
                });
            }
        };
        let (view, package) = self
            .outside
            .ship(merchant, order, tracking.as_ref())
            .await
            .map_err(|e| match e {
                FulfillmentError::Orders(rc_orders::RepoError::Refused(_)) => ApiError::Conflict,
                other => other.into(),
            })?
            .ok_or(ApiError::NotFound)?;
        tracing::info!(%merchant, %order, tracked = package.is_some(), "order shipped outside RetailCoder");
        let mut answer = serde_json::to_value(&view).map_err(|_| ApiError::Internal)?;
        answer["package"] = json!(package);
        Ok(json(StatusCode::OK, &answer))
    }

    /// `POST /v1/shipments/{id}/confirm`: tries a failed confirmation again (after the merchant
    /// fixed what it failed on); a pending one is left to its schedule.
    pub(crate) async fn confirm_again(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<Response<Bytes>, ApiError> {
        let mut shipment = self.shipment(merchant, id).await?;
        let Some(confirmation) = shipment.confirmation.as_mut() else {
            return Err(ApiError::InUse {
                reason: "not_shipped",
                message: "the shipment has not left yet: nothing to confirm",
            });
        };
        match confirmation.state {
            rc_domain::ConfirmationState::Failed => {
                confirmation.state = rc_domain::ConfirmationState::Pending;
                confirmation.attempts = 0;
                confirmation.next_attempt_at = None;
                confirmation.reason = None;
                confirmation.code = None;
                let was = shipment.status;
                self.shipments.save(merchant, &mut shipment, was).await?;
            }
            rc_domain::ConfirmationState::Pending => {}
            _ => {
                return Err(ApiError::InUse {
                    reason: "already_confirmed",
                    message: "the marketplace was told already",
                });
            }
        }
        self.events
            .send(&[ShipmentEvent {
                merchant: merchant.to_string(),
                shipment: id.to_string(),
            }])
            .await
            .map_err(|_| ApiError::Unavailable)?;
        Ok(json(StatusCode::ACCEPTED, &shipment))
    }

    pub(crate) async fn settings(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        Ok(json(StatusCode::OK, &self.settings.get(merchant).await?))
    }

    pub(crate) async fn put_settings(
        &self,
        merchant: &MerchantId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let settings = FulfillmentSettings::parse(body).map_err(|field| match field {
            "body" => ApiError::InvalidPayload {
                reason: "invalid_body",
                message: "expected {\"notify_customer\": bool, \"poll_after_hours\": 1..72}".into(),
            },
            field => ApiError::InvalidPayload {
                reason: "invalid_field",
                message: format!("field `{field}` is invalid"),
            },
        })?;
        self.settings.put(merchant, &settings).await?;
        Ok(json(StatusCode::OK, &settings))
    }

    pub(crate) async fn put_parcel_defaults(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let parcel = ParcelInput::parse(body)?;
        self.stock.set_parcel(merchant, sku, &parcel).await?;
        Ok(json(
            StatusCode::OK,
            &json!({"sku": sku.as_str(), "parcel": parcel}),
        ))
    }
}
