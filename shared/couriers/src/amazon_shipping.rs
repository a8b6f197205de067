//! Amazon Shipping v2 ("Buy Shipping") for Amazon orders, through the merchant's SP-API
//! connection, as `shippingV2.json` models it: `getRates` (channel `AMAZON` with the order id —
//! Amazon knows the buyer's address, so none is sent), `purchaseShipment` with
//! `x-amzn-IdempotencyKey`, `getShipmentDocuments`, `cancelShipment`. A label bought this way
//! needs no separate shipment confirmation to Amazon.
//!
//! The only courier here with an idempotency key: a purchase whose answer was lost is settled by
//! purchasing again with the same key, which Amazon recognizes as the same request. A quote
//! (`requestToken`) lives 10 minutes: `TOKEN_EXPIRED` asks for a new one.
//!
//! The courier shipment ids: the `requestToken` while quoting; once bought,
//! `<shipmentId>/<packageClientReferenceId>` (both needed to read the label again).

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use rc_channels::FetchError;
use rc_channels::amazon::{ShippingCall, SpApiClient, shipping_business};
use rc_domain::{Currency, Money};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::decimal::decimal;
use crate::port::{
    CourierCredentials, CourierError, CourierShipment, LabelDocument, LabelFormat, LabelPurchaser,
    LabelRequest, LabelSource, Lookup, Purchase, Quote, VoidOutcome,
};

pub struct AmazonShipping {
    sp_api: Arc<SpApiClient>,
}

/// Centimetres with one decimal: a millimetre count is tenths of a centimetre.
fn centimetres(mm: u32) -> Value {
    decimal(u64::from(mm), 1)
}

fn money(value: &Value) -> Result<Money, CourierError> {
    let currency = value["unit"]
        .as_str()
        .and_then(|c| Currency::parse(c).ok())
        .ok_or(CourierError::Answer("totalCharge.unit"))?;
    let amount = match &value["value"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(CourierError::Answer("totalCharge.value")),
    };
    Money::parse_decimal(&amount, currency).map_err(|_| CourierError::Answer("totalCharge.value"))
}

fn failure(error: FetchError) -> CourierError {
    match error {
        FetchError::Refused { code, .. } if code == "TOKEN_EXPIRED" => CourierError::QuoteExpired,
        FetchError::Refused { code, .. } => CourierError::Refused { code },
        FetchError::Unauthorized(_) => CourierError::Unauthorized,
        FetchError::Rejected(status) | FetchError::Operation(_, status) => CourierError::Refused {
            code: format!("HTTP_{status}"),
        },
        FetchError::NotFound => CourierError::Refused {
            code: "NOT_FOUND".into(),
        },
        // The client retried 429 and 5xx with backoff already.
        FetchError::Throttled => CourierError::Unavailable("throttled".into()),
        FetchError::Unavailable(problem) => CourierError::Unavailable(problem),
    }
}

/// The label of a purchase answer (or of `getShipmentDocuments`).
fn label_of(detail: &Value) -> Result<(String, LabelDocument), CourierError> {
    let tracking = detail["trackingId"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or(CourierError::Answer("trackingId"))?
        .to_owned();
    let document = detail["packageDocuments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["type"] == "LABEL")
        .ok_or(CourierError::Answer("packageDocuments"))?;
    let format = match document["format"].as_str() {
        Some("PDF") => LabelFormat::Pdf,
        Some("PNG") => LabelFormat::Png,
        Some("ZPL") => LabelFormat::Zpl,
        _ => return Err(CourierError::Answer("packageDocuments.format")),
    };
    let contents = document["contents"]
        .as_str()
        .ok_or(CourierError::Answer("packageDocuments.contents"))?;
    if contents.len() > crate::MAX_LABEL_BYTES * 4 / 3 + 4 {
        return Err(CourierError::Answer("label size"));
    }
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(contents)
            .map_err(|_| CourierError::Answer("packageDocuments.contents"))?,
    );
    Ok((tracking, LabelDocument { format, bytes }))
}

impl AmazonShipping {
    pub fn new(sp_api: Arc<SpApiClient>) -> Self {
        Self { sp_api }
    }

    async fn call(
        &self,
        account: &CourierCredentials,
        call: ShippingCall<'_>,
    ) -> Result<Value, CourierError> {
        let CourierCredentials::AmazonShipping { seller, connection } = account else {
            return Err(CourierError::NotConfigured("amazon shipping credentials"));
        };
        self.sp_api
            .shipping(seller, connection.as_ref().as_ref(), call)
            .await
            .map_err(failure)
    }
}

#[async_trait]
impl LabelPurchaser for AmazonShipping {
    async fn create(
        &self,
        account: &CourierCredentials,
        request: &LabelRequest<'_>,
    ) -> Result<CourierShipment, CourierError> {
        let Some(order_id) = request.amazon_order_id else {
            return Err(CourierError::Refused {
                code: "NOT_AN_AMAZON_ORDER".into(),
            });
        };
        let from = request.from.address;
        let parcel = request.parcel;
        let currency = request
            .items
            .first()
            .map(|i| i.unit_price.currency())
            .ok_or(CourierError::Answer("items"))?;
        let insured: i64 = request
            .items
            .iter()
            .map(|i| i.unit_price.minor_units() * i64::from(i.units))
            .sum();
        let amount = |minor: i64| decimal(minor.max(0) as u64, currency.exponent());
        let body = json!({
            "shipFrom": {
                "name": from.name,
                "addressLine1": from.line1,
                "addressLine2": from.line2,
                "city": from.city,
                "stateOrRegion": request.from.region.map_or(from.city.as_str(), |r| r.as_str()),
                "postalCode": from.postal_code,
                "countryCode": request.from.country.as_str(),
                "phoneNumber": from.phone,
            },
            "packages": [{
                "dimensions": {
                    "length": centimetres(parcel.length_mm),
                    "width": centimetres(parcel.width_mm),
                    "height": centimetres(parcel.height_mm),
                    "unit": "CENTIMETER",
                },
                "weight": {"unit": "GRAM", "value": parcel.weight_g},
                "insuredValue": {"value": amount(insured), "unit": currency.code()},
                "packageClientReferenceId": request.reference.as_str(),
                "items": request.items.iter().map(|i| json!({
                    "quantity": i.units,
                    "description": i.sku.as_str(),
                    "itemValue": {"value": amount(i.unit_price.minor_units()), "unit": currency.code()},
                })).collect::<Vec<_>>(),
            }],
            "channelDetails": {"channelType": "AMAZON", "amazonOrderDetails": {"orderId": order_id}},
        });
        let answer = self
            .call(
                account,
                ShippingCall {
                    method: reqwest::Method::POST,
                    path: "/shipments/rates",
                    query: &[],
                    body: Some(&body),
                    idempotency_key: None,
                    business: shipping_business(request.from.country.as_str()),
                },
            )
            .await?;
        let payload = &answer["payload"];
        let token = payload["requestToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or(CourierError::Answer("requestToken"))?;
        let quotes = payload["rates"]
            .as_array()
            .into_iter()
            .flatten()
            // Rates asking for more input (customs, hazmat) are not bought automatically.
            .filter(|r| r["requiresAdditionalInputs"] != true)
            .map(|r| {
                Ok(Quote {
                    rate_id: r["rateId"]
                        .as_str()
                        .ok_or(CourierError::Answer("rateId"))?
                        .to_owned(),
                    // `carrierId` (getTracking asks for it), else the carrier's name.
                    carrier: r["carrierId"]
                        .as_str()
                        .or_else(|| r["carrierName"].as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    service: r["serviceName"].as_str().unwrap_or_default().to_owned(),
                    amount: money(&r["totalCharge"])?,
                    delivery_days: None,
                })
            })
            .collect::<Result<Vec<_>, CourierError>>()?;
        Ok(CourierShipment {
            id: token.to_owned(),
            quotes,
        })
    }

    async fn buy(
        &self,
        account: &CourierCredentials,
        shipment: &str,
        rate_id: &str,
        idempotency_key: &str,
    ) -> Result<Purchase, CourierError> {
        let body = json!({
            "requestToken": shipment,
            "rateId": rate_id,
            "requestedDocumentSpecification": {
                "format": "PDF",
                "size": {"width": 4, "length": 6, "unit": "INCH"},
                "needFileJoining": false,
                "requestedDocumentTypes": ["LABEL"],
            },
        });
        let answer = self
            .call(
                account,
                ShippingCall {
                    method: reqwest::Method::POST,
                    path: "/shipments",
                    query: &[],
                    body: Some(&body),
                    idempotency_key: Some(idempotency_key),
                    business: None,
                },
            )
            .await?;
        let payload = &answer["payload"];
        let shipment_id = payload["shipmentId"]
            .as_str()
            .filter(|s| !s.is_empty() && !s.contains('/'))
            .ok_or(CourierError::Answer("shipmentId"))?;
        let detail = &payload["packageDocumentDetails"][0];
        let reference = detail["packageClientReferenceId"]
            .as_str()
            .ok_or(CourierError::Answer("packageClientReferenceId"))?;
        let (tracking_code, document) = label_of(detail)?;
        Ok(Purchase {
            tracking_code,
            carrier: String::new(),
            service: String::new(),
            amount: None,
            label: LabelSource::Inline(document),
            courier_shipment: Some(format!("{shipment_id}/{reference}")),
        })
    }

    fn idempotent(&self) -> bool {
        true
    }

    async fn lookup(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<Lookup, CourierError> {
        // Only a bought shipment has an id to read: `<shipmentId>/<packageClientReferenceId>`.
        let Some((shipment_id, reference)) = shipment.split_once('/') else {
            return Ok(Lookup::NotBought);
        };
        let query = [
            ("packageClientReferenceId", reference.to_owned()),
            ("format", "PDF".to_owned()),
        ];
        let path = format!("/shipments/{shipment_id}/documents");
        let answer = self
            .call(
                account,
                ShippingCall {
                    method: reqwest::Method::GET,
                    path: &path,
                    query: &query,
                    body: None,
                    idempotency_key: None,
                    business: None,
                },
            )
            .await?;
        let (tracking_code, document) = label_of(&answer["payload"]["packageDocumentDetail"])?;
        Ok(Lookup::Bought(Purchase {
            tracking_code,
            carrier: String::new(),
            service: String::new(),
            amount: None,
            label: LabelSource::Inline(document),
            courier_shipment: Some(shipment.to_owned()),
        }))
    }

    async fn track(
        &self,
        account: &CourierCredentials,
        tracked: &crate::Tracked<'_>,
    ) -> Result<crate::TrackingUpdate, CourierError> {
        let query = [
            ("trackingId", tracked.tracking_code.to_owned()),
            ("carrierId", tracked.carrier.to_owned()),
        ];
        let answer = self
            .call(
                account,
                ShippingCall {
                    method: reqwest::Method::GET,
                    path: "/tracking",
                    query: &query,
                    body: None,
                    idempotency_key: None,
                    business: None,
                },
            )
            .await?;
        crate::amazon_tracking(&answer)
            .map_err(|e| CourierError::Answer(e.field().unwrap_or("payload")))
    }

    async fn document(
        &self,
        _account: &CourierCredentials,
        purchase: &Purchase,
    ) -> Result<LabelDocument, CourierError> {
        match &purchase.label {
            LabelSource::Inline(document) => Ok(LabelDocument {
                format: document.format,
                bytes: document.bytes.clone(),
            }),
            LabelSource::Url(_) => Err(CourierError::Answer("label")),
        }
    }

    async fn void(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<VoidOutcome, CourierError> {
        let Some((shipment_id, _)) = shipment.split_once('/') else {
            return Ok(VoidOutcome::Refused {
                code: "NOT_BOUGHT".into(),
            });
        };
        let path = format!("/shipments/{shipment_id}/cancel");
        match self
            .call(
                account,
                ShippingCall {
                    method: reqwest::Method::PUT,
                    path: &path,
                    query: &[],
                    body: None,
                    idempotency_key: None,
                    business: None,
                },
            )
            .await
        {
            Ok(_) => Ok(VoidOutcome::Voided),
            Err(e) => e.into_void(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_amazons_code_and_an_old_quote_asks_for_a_new_one() {
        let refused = |code: &str| {
            failure(FetchError::Refused {
                status: 400,
                code: code.into(),
            })
            .reason()
        };
        assert_eq!(refused("TOKEN_EXPIRED"), "quote_expired");
        assert_eq!(refused("InvalidInput"), "courier_refused");
        assert_eq!(
            failure(FetchError::Unauthorized(403)).reason(),
            "courier_credentials_rejected"
        );
        assert_eq!(
            failure(FetchError::Throttled).reason(),
            "courier_unavailable"
        );
        assert_eq!(centimetres(123).to_string(), "12.3");
    }
}
