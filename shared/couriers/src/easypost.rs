//! EasyPost (`https://api.easypost.com/v2`), as its API reference documents it: HTTP Basic with
//! the API key as user name and an empty password; `POST /shipments` (201, a Shipment with
//! `rates`), `POST /shipments/{id}/buy` (200, with `postage_label`, `tracking_code`,
//! `selected_rate`), `GET /shipments/{id}`, `POST /shipments/{id}/refund`; errors as
//! `{"error": {"code", "message", "errors"}}`. Parcels are in inches and ounces.
//!
//! EasyPost has no idempotency key. A shipment can be bought once: buying it again answers
//! `SHIPMENT.POSTAGE.EXISTS`, so its `shp_…` id — stored by the caller before `buy` — is the
//! dedupe key, and `GET /shipments/{id}` tells whether a purchase whose answer was lost went
//! through. The sandbox courier of the local host speaks this same API.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use rc_channels::HttpClient;
use rc_domain::{Currency, Money, RevealPurpose, SecretText};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::decimal::decimal;
use crate::port::{
    CourierCredentials, CourierError, CourierShipment, LabelDocument, LabelPurchaser, LabelRequest,
    LabelSource, Lookup, Purchase, Quote, VoidOutcome,
};

/// EasyPost's production (and test-mode) API: the key decides the mode.
pub const EASYPOST_API: &str = "https://api.easypost.com/v2";

/// An EasyPost API client (or the sandbox courier, at another base URL).
pub struct EasyPost {
    base: String,
    http: HttpClient,
    /// Where label documents may be fetched from; `None`: anywhere over https.
    local: bool,
}

#[derive(Deserialize)]
struct ShipmentBody {
    id: String,
    #[serde(default)]
    rates: Vec<RateBody>,
    #[serde(default)]
    postage_label: Option<PostageLabel>,
    #[serde(default)]
    tracking_code: Option<String>,
    #[serde(default)]
    selected_rate: Option<RateBody>,
    #[serde(default)]
    refund_status: Option<String>,
}

#[derive(Deserialize)]
struct RateBody {
    id: String,
    carrier: String,
    service: String,
    rate: String,
    currency: String,
    #[serde(default)]
    delivery_days: Option<u32>,
}

#[derive(Deserialize)]
struct PostageLabel {
    #[serde(default)]
    label_url: Option<String>,
    #[serde(default)]
    label_pdf_url: Option<String>,
    #[serde(default)]
    label_zpl_url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
}

/// Tenths of an inch for millimetres, rounded (254 tenths of a millimetre to the inch).
fn tenths_of_inch(mm: u32) -> u64 {
    (u64::from(mm) * 100 + 127) / 254
}

/// Tenths of an ounce for grams, rounded up (a courier weighs up, and so do we).
fn tenths_of_ounce(grams: u32) -> u64 {
    // 1 oz = 28.349523125 g: tenths = grams × 10 / 28.349523125, in integers.
    (u64::from(grams) * 10_000_000_000).div_ceil(28_349_523_125)
}

fn quote(rate: &RateBody) -> Result<Quote, CourierError> {
    let currency =
        Currency::parse(&rate.currency).map_err(|_| CourierError::Answer("rates.currency"))?;
    Ok(Quote {
        rate_id: rate.id.clone(),
        carrier: rate.carrier.clone(),
        service: rate.service.clone(),
        amount: Money::parse_decimal(&rate.rate, currency)
            .map_err(|_| CourierError::Answer("rates.rate"))?,
        delivery_days: rate.delivery_days,
    })
}

impl EasyPost {
    /// A client of the API at `base` (EasyPost's, or the sandbox courier's on this machine).
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_owned();
        let local = !base.starts_with("https://");
        Self {
            http: HttpClient::new(Duration::from_secs(30), "RetailCoder/1 (couriers)", local),
            base,
            local,
        }
    }

    fn key(account: &CourierCredentials) -> Result<String, CourierError> {
        let CourierCredentials::EasyPost { api_key } = account else {
            return Err(CourierError::NotConfigured("easypost credentials"));
        };
        let raw = format!(
            "{}:",
            api_key.reveal(RevealPurpose::Authentication).as_str()
        );
        let raw = Zeroizing::new(raw);
        Ok(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
        ))
    }

    /// Sends a request; `acts`: whether the request changes anything at EasyPost (a lost answer
    /// then leaves the outcome unknown).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        account: &CourierCredentials,
        acts: bool,
    ) -> Result<(StatusCode, Vec<u8>), CourierError> {
        let response = request
            .header(reqwest::header::AUTHORIZATION, Self::key(account)?)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || !acts {
                    CourierError::Unavailable(
                        if e.is_timeout() {
                            "timeout"
                        } else {
                            "connection"
                        }
                        .into(),
                    )
                } else {
                    CourierError::Unknown(
                        if e.is_timeout() {
                            "timeout"
                        } else {
                            "connection lost"
                        }
                        .into(),
                    )
                }
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|_| {
            if acts {
                CourierError::Unknown("answer cut off".into())
            } else {
                CourierError::Unavailable("answer cut off".into())
            }
        })?;
        Ok((status, body.to_vec()))
    }

    /// Maps an error status to what it means for the caller.
    fn failure(status: StatusCode, body: &[u8], acts: bool) -> CourierError {
        let code = serde_json::from_slice::<ErrorBody>(body)
            .map(|e| e.error.code)
            .unwrap_or_default();
        match (status.as_u16(), code.as_str()) {
            (_, "SHIPMENT.POSTAGE.EXISTS") => CourierError::AlreadyBought,
            (_, "SHIPMENT.PURCHASE.IN_PROGRESS") => CourierError::InProgress,
            (_, "SHIPMENT.POSTAGE.NO_RESPONSE" | "SHIPMENT.POSTAGE.TIMED_OUT") => {
                CourierError::Unknown(code)
            }
            (401 | 403, _) => CourierError::Unauthorized,
            (429, _) => CourierError::Unavailable("throttled".into()),
            // A server error on a call that acts may have acted.
            (500..=599, _) if acts => CourierError::Unknown(format!("status {}", status.as_u16())),
            (500..=599, _) => CourierError::Unavailable(format!("status {}", status.as_u16())),
            (_, "") => CourierError::Refused {
                code: format!("HTTP_{}", status.as_u16()),
            },
            // Codes are EasyPost's upper-case dotted names; anything else is not echoed.
            (_, code)
                if code.len() <= 64
                    && code.bytes().all(|b| {
                        b.is_ascii_uppercase() || b.is_ascii_digit() || b"._".contains(&b)
                    }) =>
            {
                CourierError::Refused {
                    code: code.to_owned(),
                }
            }
            _ => CourierError::Refused {
                code: format!("HTTP_{}", status.as_u16()),
            },
        }
    }

    fn shipment(body: &[u8]) -> Result<ShipmentBody, CourierError> {
        serde_json::from_slice(body).map_err(|_| CourierError::Answer("shipment"))
    }

    fn purchase(shipment: &ShipmentBody) -> Result<Option<Purchase>, CourierError> {
        let Some(label) = &shipment.postage_label else {
            return Ok(None);
        };
        let url = label
            .label_pdf_url
            .as_deref()
            .or(label.label_url.as_deref())
            .or(label.label_zpl_url.as_deref())
            .ok_or(CourierError::Answer("postage_label.label_url"))?;
        let url =
            SecretText::parse(url).map_err(|_| CourierError::Answer("postage_label.label_url"))?;
        let tracking_code = shipment
            .tracking_code
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or(CourierError::Answer("tracking_code"))?;
        let selected = shipment.selected_rate.as_ref();
        Ok(Some(Purchase {
            tracking_code,
            carrier: selected.map(|r| r.carrier.clone()).unwrap_or_default(),
            service: selected.map(|r| r.service.clone()).unwrap_or_default(),
            amount: selected.and_then(|r| quote(r).ok()).map(|q| q.amount),
            courier_shipment: None,
            label: LabelSource::Url(rc_domain::Secret::new(url)),
        }))
    }
}

#[async_trait]
impl LabelPurchaser for EasyPost {
    async fn create(
        &self,
        account: &CourierCredentials,
        request: &LabelRequest<'_>,
    ) -> Result<CourierShipment, CourierError> {
        let to = request.to;
        let address = to.address.reveal(RevealPurpose::ShippingLabel);
        let from = request.from.address;
        let parcel = request.parcel;
        let body = json!({"shipment": {
            "reference": request.reference.as_str(),
            "to_address": {
                "name": to.name.as_ref().map(|n| n.reveal(RevealPurpose::ShippingLabel).as_str())
                    .or(address.name.as_deref()),
                "company": address.company,
                "street1": address.line1,
                "street2": address.line2,
                "city": address.city,
                "state": address.region,
                "zip": address.postal_code,
                "country": address.country_code,
                "phone": to.phone.as_ref().map(|p| p.reveal(RevealPurpose::ShippingLabel).as_str()),
                "email": to.email.as_ref().map(|e| e.reveal(RevealPurpose::ShippingLabel).as_str()),
            },
            "from_address": {
                "name": from.name,
                "street1": from.line1,
                "street2": from.line2,
                "city": from.city,
                "state": request.from.region.map(|r| r.as_str()),
                "zip": from.postal_code,
                "country": request.from.country.as_str(),
                "phone": from.phone,
            },
            "parcel": {
                "length": decimal(tenths_of_inch(parcel.length_mm), 1),
                "width": decimal(tenths_of_inch(parcel.width_mm), 1),
                "height": decimal(tenths_of_inch(parcel.height_mm), 1),
                "weight": decimal(tenths_of_ounce(parcel.weight_g), 1),
            },
            "options": {"label_format": "PDF"},
        }});
        // The body holds the buyer's address: it lives for this call, never logged.
        let body =
            Zeroizing::new(serde_json::to_vec(&body).map_err(|_| CourierError::Answer("request"))?);
        let request = self
            .http
            .post(&format!("{}/shipments", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        // Creating a shipment buys nothing: a lost answer is only retried.
        let (status, body) = self.send(request, account, false).await?;
        if status != StatusCode::CREATED && status != StatusCode::OK {
            return Err(Self::failure(status, &body, false));
        }
        let shipment = Self::shipment(&body)?;
        if !shipment.id.starts_with("shp_") {
            return Err(CourierError::Answer("shipment.id"));
        }
        Ok(CourierShipment {
            quotes: shipment.rates.iter().map(quote).collect::<Result<_, _>>()?,
            id: shipment.id,
        })
    }

    async fn buy(
        &self,
        account: &CourierCredentials,
        shipment: &str,
        rate_id: &str,
        _idempotency_key: &str,
    ) -> Result<Purchase, CourierError> {
        let request = self
            .http
            .post(&format!("{}/shipments/{shipment}/buy", self.base))
            .json(&json!({"rate": {"id": rate_id}}));
        let (status, body) = self.send(request, account, true).await?;
        if status != StatusCode::OK && status != StatusCode::CREATED {
            return Err(Self::failure(status, &body, true));
        }
        // A 200 without a label is not what EasyPost documents: unknown, read it back.
        Self::purchase(&Self::shipment(&body)?)?
            .ok_or_else(|| CourierError::Unknown("bought without a label".into()))
    }

    async fn lookup(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<Lookup, CourierError> {
        let request = self
            .http
            .get(&format!("{}/shipments/{shipment}", self.base));
        let (status, body) = self.send(request, account, false).await?;
        if status != StatusCode::OK {
            return Err(Self::failure(status, &body, false));
        }
        Ok(match Self::purchase(&Self::shipment(&body)?)? {
            Some(purchase) => Lookup::Bought(purchase),
            None => Lookup::NotBought,
        })
    }

    async fn document(
        &self,
        _account: &CourierCredentials,
        purchase: &Purchase,
    ) -> Result<LabelDocument, CourierError> {
        crate::download::label(&self.http, self.local, purchase).await
    }

    async fn track(
        &self,
        account: &CourierCredentials,
        tracked: &crate::Tracked<'_>,
    ) -> Result<crate::TrackingUpdate, CourierError> {
        // The bought shipment embeds its tracker (status and every detail).
        let request = self.http.get(&format!(
            "{}/shipments/{}",
            self.base, tracked.courier_shipment
        ));
        let (status, body) = self.send(request, account, false).await?;
        if status != StatusCode::OK {
            return Err(Self::failure(status, &body, false));
        }
        let shipment: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| CourierError::Answer("shipment"))?;
        crate::easypost_tracker(&shipment["tracker"])
            .map_err(|e| CourierError::Answer(e.field().unwrap_or("tracker")))
    }

    async fn void(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<VoidOutcome, CourierError> {
        let request = self
            .http
            .post(&format!("{}/shipments/{shipment}/refund", self.base));
        let (status, body) = self.send(request, account, true).await?;
        if status == StatusCode::OK || status == StatusCode::CREATED {
            let shipment = Self::shipment(&body)?;
            return Ok(match shipment.refund_status.as_deref() {
                Some("submitted" | "refunded") => VoidOutcome::Voided,
                Some("rejected") => VoidOutcome::Refused {
                    code: "REFUND.REJECTED".into(),
                },
                _ => return Err(CourierError::Answer("refund_status")),
            });
        }
        match Self::failure(status, &body, true) {
            CourierError::Refused { code } => Ok(VoidOutcome::Refused { code }),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcels_go_in_inches_and_ounces_rounded_as_a_courier_would() {
        let cases = [
            // mm → tenths of an inch (rounded)
            (254, 100),
            (100, 39),
            (1, 0),
        ];
        for (mm, tenths) in cases {
            assert_eq!(tenths_of_inch(mm), tenths, "{mm} mm");
        }
        // g → tenths of an ounce, rounded up: 1 oz is 28.35 g.
        for (grams, tenths) in [(28, 10), (29, 11), (350, 124), (1, 1)] {
            assert_eq!(tenths_of_ounce(grams), tenths, "{grams} g");
        }
        assert_eq!(decimal(124, 1).to_string(), "12.4");
        assert_eq!(decimal(10, 1).to_string(), "1.0");
    }

    #[test]
    fn errors_mean_what_easypost_documents() {
        let error = |status: u16, body: &str, acts| {
            EasyPost::failure(
                StatusCode::from_u16(status).expect("status"),
                body.as_bytes(),
                acts,
            )
            .reason()
        };
        let body = |code: &str| {
            format!(r#"{{"error": {{"code": "{code}", "message": "m", "errors": []}}}}"#)
        };
        assert_eq!(
            error(422, &body("SHIPMENT.POSTAGE.EXISTS"), true),
            "already_bought"
        );
        assert_eq!(
            error(422, &body("SHIPMENT.PURCHASE.IN_PROGRESS"), true),
            "purchase_in_progress"
        );
        assert_eq!(
            error(422, &body("SHIPMENT.POSTAGE.NO_RESPONSE"), true),
            "courier_outcome_unknown"
        );
        assert_eq!(
            error(401, &body("APIKEY.INACTIVE"), true),
            "courier_credentials_rejected"
        );
        assert_eq!(error(429, "", true), "courier_unavailable");
        assert_eq!(
            error(500, "", true),
            "courier_outcome_unknown",
            "a 5xx on buy may have bought"
        );
        assert_eq!(error(503, "", false), "courier_unavailable");
        assert_eq!(
            error(422, &body("ADDRESS.VERIFY.FAILURE"), false),
            "courier_refused"
        );
        match EasyPost::failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            body("<script>").as_bytes(),
            false,
        ) {
            CourierError::Refused { code } => {
                assert_eq!(code, "HTTP_422", "odd codes are not echoed")
            }
            other => panic!("{other:?}"),
        }
    }
}
