//! Shiprocket (`https://apiv2.shiprocket.in/v1/external`), India's courier aggregator, as its
//! published API collection documents it: `POST auth/login` with the API user's email and
//! password for a bearer token (valid 10 days; we refresh it on any 401); `POST
//! orders/create/adhoc`, `GET courier/serviceability/?order_id=`, `POST courier/assign/awb`,
//! `POST courier/generate/label`, `GET shipments/{id}`, `POST orders/cancel`. Parcels are in
//! centimetres and kilograms.
//!
//! No idempotency key. Two server rules make it safe: an `order_id` (ours: the shipment id) is
//! never created twice — a second create answers the existing order, or 422, and then we read it
//! back by `channel_order_id`; and an assigned AWB shows on the shipment, which the generator
//! reads back before it ever assigns again (a second assign could *re*assign, buying twice).
//! The courier shipment id we keep is `<Shiprocket order id>/<Shiprocket shipment id>`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rc_channels::HttpClient;
use rc_domain::{Currency, Money, RevealPurpose, Secret, SecretText};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::decimal::decimal;
use crate::port::{
    CourierCredentials, CourierError, CourierShipment, LabelDocument, LabelPurchaser, LabelRequest,
    LabelSource, Lookup, Purchase, Quote, VoidOutcome,
};

/// Shiprocket's API.
pub const SHIPROCKET_API: &str = "https://apiv2.shiprocket.in/v1/external";

/// Shiprocket keeps a token 10 days; we use one at most 9.
const TOKEN_LIFETIME: Duration = Duration::from_secs(9 * 24 * 3600);

/// `order_id` is at most 50 characters at Shiprocket.
const MAX_ORDER_ID: usize = 50;

/// A token and when it was issued.
type CachedToken = (Secret<SecretText>, Instant);

pub struct Shiprocket {
    base: String,
    http: HttpClient,
    local: bool,
    /// Tokens by a digest of the account's email and password: a changed password is a new
    /// entry, never a stale token.
    tokens: Mutex<HashMap<[u8; 32], CachedToken>>,
}

fn digest(email: &str, password: &str) -> [u8; 32] {
    let mut input = Zeroizing::new(Vec::with_capacity(email.len() + password.len() + 1));
    input.extend_from_slice(email.as_bytes());
    input.push(0);
    input.extend_from_slice(password.as_bytes());
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

/// Tenths of a centimetre, rounded up (Shiprocket refuses sides under 0.5 cm).
fn tenths_of_cm(mm: u32) -> u32 {
    mm.max(5)
}

/// The courier shipment id we keep: Shiprocket's order and shipment ids.
fn compose(order: &Value, shipment: &Value) -> Option<String> {
    let id = |v: &Value| {
        v.as_u64().map(|n| n.to_string()).or_else(|| {
            v.as_str()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty())
                .map(str::to_owned)
        })
    };
    Some(format!("{}/{}", id(order)?, id(shipment)?))
}

fn split(courier_shipment: &str) -> Result<(&str, &str), CourierError> {
    courier_shipment
        .split_once('/')
        .filter(|(o, s)| !o.is_empty() && !s.is_empty())
        .ok_or(CourierError::Answer("courier shipment id"))
}

impl Shiprocket {
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_owned();
        let local = !base.starts_with("https://");
        Self {
            http: HttpClient::new(Duration::from_secs(30), "RetailCoder/1 (couriers)", local),
            base,
            local,
            tokens: Mutex::default(),
        }
    }

    fn account(account: &CourierCredentials) -> Result<(&str, &str, &str), CourierError> {
        match account {
            CourierCredentials::Shiprocket {
                email,
                password,
                pickup_location,
            } => Ok((
                email.reveal(RevealPurpose::Authentication).as_str(),
                password.reveal(RevealPurpose::Authentication).as_str(),
                pickup_location.as_str(),
            )),
            _ => Err(CourierError::NotConfigured("shiprocket credentials")),
        }
    }

    /// A token for the account: cached, or from `auth/login`.
    async fn token(
        &self,
        account: &CourierCredentials,
        fresh: bool,
    ) -> Result<Zeroizing<String>, CourierError> {
        let (email, password, _) = Self::account(account)?;
        let key = digest(email, password);
        if !fresh
            && let Some((token, at)) = self
                .tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
            && at.elapsed() < TOKEN_LIFETIME
        {
            return Ok(Zeroizing::new(
                token
                    .reveal(RevealPurpose::Authentication)
                    .as_str()
                    .to_owned(),
            ));
        }
        let body = Zeroizing::new(
            serde_json::to_vec(&json!({"email": email, "password": password}))
                .map_err(|_| CourierError::Answer("login request"))?,
        );
        let response = self
            .http
            .post(&format!("{}/auth/login", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|_| CourierError::Unavailable("login".into()))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
            || status == StatusCode::BAD_REQUEST
        {
            return Err(CourierError::Unauthorized);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(CourierError::Unavailable(format!(
                "login answered {}",
                status.as_u16()
            )));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|_| CourierError::Answer("login"))?;
        let token = answer["token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or(CourierError::Answer("login token"))?;
        let secret = SecretText::parse(token).map_err(|_| CourierError::Answer("login token"))?;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (Secret::new(secret), Instant::now()));
        Ok(Zeroizing::new(token.to_owned()))
    }

    /// Sends an authorized request, logging in again once on a 401. `acts`: a lost answer
    /// leaves the outcome unknown.
    async fn call(
        &self,
        account: &CourierCredentials,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        acts: bool,
    ) -> Result<(StatusCode, Value), CourierError> {
        for fresh in [false, true] {
            let token = self.token(account, fresh).await?;
            let mut request = self
                .http
                .request(method.clone(), &format!("{}/{path}", self.base))
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", token.as_str()),
                );
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| {
                if e.is_connect() || !acts {
                    CourierError::Unavailable("connection".into())
                } else {
                    CourierError::Unknown("connection lost".into())
                }
            })?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !fresh {
                continue;
            }
            let answer = response.bytes().await.map_err(|_| {
                if acts {
                    CourierError::Unknown("answer cut off".into())
                } else {
                    CourierError::Unavailable("answer cut off".into())
                }
            })?;
            let value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
            return Ok((status, value));
        }
        Err(CourierError::Unauthorized)
    }

    fn failure(status: StatusCode, acts: bool) -> CourierError {
        match status.as_u16() {
            401 | 403 => CourierError::Unauthorized,
            429 => CourierError::Unavailable("throttled".into()),
            500..=599 if acts => CourierError::Unknown(format!("status {}", status.as_u16())),
            500..=599 => CourierError::Unavailable(format!("status {}", status.as_u16())),
            code => CourierError::Refused {
                code: format!("HTTP_{code}"),
            },
        }
    }

    /// Finds the Shiprocket order made for our `order_id` (after a create whose answer was lost
    /// or refused as a duplicate).
    async fn find(
        &self,
        account: &CourierCredentials,
        order_id: &str,
    ) -> Result<Option<String>, CourierError> {
        let (status, answer) = self
            .call(
                account,
                reqwest::Method::GET,
                &format!("orders?filter_by=channel_order_id&filter={order_id}"),
                None,
                false,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failure(status, false));
        }
        let found = answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["channel_order_id"] == order_id);
        Ok(found.and_then(|o| {
            let shipment = o["shipments"]
                .as_array()
                .and_then(|s| s.first())
                .map(|s| s["id"].clone())
                .unwrap_or(Value::Null);
            compose(&o["id"], &shipment)
        }))
    }

    /// A purchase: the AWB, the courier, and the label Shiprocket generates for the shipment.
    async fn purchase(
        &self,
        account: &CourierCredentials,
        sr_shipment: &str,
        awb: String,
        courier: String,
    ) -> Result<Purchase, CourierError> {
        Ok(Purchase {
            tracking_code: awb,
            carrier: courier.clone(),
            service: courier,
            amount: None,
            courier_shipment: None,
            label: LabelSource::Url(self.label_url(account, sr_shipment).await?),
        })
    }

    async fn label_url(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<Secret<SecretText>, CourierError> {
        let id: u64 = shipment
            .parse()
            .map_err(|_| CourierError::Answer("shipment id"))?;
        let (status, answer) = self
            .call(
                account,
                reqwest::Method::POST,
                "courier/generate/label",
                Some(&json!({"shipment_id": [id]})),
                false,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failure(status, false));
        }
        if answer["label_created"] != 1 {
            return Err(CourierError::Unavailable("label not generated yet".into()));
        }
        let url = answer["label_url"]
            .as_str()
            .and_then(|u| SecretText::parse(u).ok())
            .ok_or(CourierError::Answer("label_url"))?;
        Ok(Secret::new(url))
    }
}

#[async_trait]
impl LabelPurchaser for Shiprocket {
    async fn create(
        &self,
        account: &CourierCredentials,
        request: &LabelRequest<'_>,
    ) -> Result<CourierShipment, CourierError> {
        let (_, _, pickup) = Self::account(account)?;
        let order_id = request.reference.as_str();
        if order_id.len() > MAX_ORDER_ID {
            return Err(CourierError::Refused {
                code: "ORDER_ID_TOO_LONG".into(),
            });
        }
        let to = request.to;
        let address = to.address.reveal(RevealPurpose::ShippingLabel);
        let name = to
            .name
            .as_ref()
            .map(|n| n.reveal(RevealPurpose::ShippingLabel).as_str().to_owned())
            .or_else(|| address.name.clone())
            .unwrap_or_default();
        let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
        let parcel = request.parcel;
        let items: Vec<Value> = request
            .items
            .iter()
            .map(|i| {
                json!({"name": i.sku.as_str(), "sku": i.sku.as_str(), "units": i.units,
                    "selling_price": decimal(i.unit_price.minor_units().max(0) as u64, 2)})
            })
            .collect();
        let sub_total: i64 = request
            .items
            .iter()
            .map(|i| i.unit_price.minor_units() * i64::from(i.units))
            .sum();
        let body = json!({
            "order_id": order_id,
            "order_date": request.order_date,
            "pickup_location": pickup,
            "billing_customer_name": first,
            "billing_last_name": last,
            "billing_address": address.line1,
            "billing_address_2": address.line2,
            "billing_city": address.city,
            "billing_pincode": address.postal_code,
            "billing_state": address.region,
            "billing_country": address.country_code,
            "billing_email": to.email.as_ref().map(|e| e.reveal(RevealPurpose::ShippingLabel).as_str()),
            "billing_phone": to.phone.as_ref().map(|p| p.reveal(RevealPurpose::ShippingLabel).as_str()),
            "shipping_is_billing": true,
            "order_items": items,
            "payment_method": "Prepaid",
            "sub_total": decimal(sub_total.max(0) as u64, 2),
            "length": decimal(u64::from(tenths_of_cm(parcel.length_mm)), 1),
            "breadth": decimal(u64::from(tenths_of_cm(parcel.width_mm)), 1),
            "height": decimal(u64::from(tenths_of_cm(parcel.height_mm)), 1),
            "weight": decimal(u64::from(parcel.weight_g), 3),
        });
        let created = self
            .call(
                account,
                reqwest::Method::POST,
                "orders/create/adhoc",
                Some(&body),
                false,
            )
            .await;
        drop(body);
        let id = match created {
            Ok((status, answer)) if status.is_success() => {
                match compose(&answer["order_id"], &answer["shipment_id"]) {
                    Some(id) => id,
                    None => self
                        .find(account, order_id)
                        .await?
                        .ok_or(CourierError::Answer("order create"))?,
                }
            }
            // A duplicate `order_id`, or a lost answer: the order may exist. Read it back.
            Ok((status, _)) if status == StatusCode::UNPROCESSABLE_ENTITY => {
                match self.find(account, order_id).await? {
                    Some(id) => id,
                    None => return Err(Self::failure(status, false)),
                }
            }
            Ok((status, _)) => return Err(Self::failure(status, false)),
            Err(e @ CourierError::Unavailable(_)) => return Err(e),
            Err(e) => return Err(e),
        };
        let (sr_order, _) = split(&id)?;
        let (status, answer) = self
            .call(
                account,
                reqwest::Method::GET,
                &format!("courier/serviceability/?order_id={sr_order}"),
                None,
                false,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failure(status, false));
        }
        let inr = Currency::parse("INR").map_err(|_| CourierError::Answer("currency"))?;
        let quotes = answer["data"]["available_courier_companies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let id = c["courier_company_id"]
                    .as_u64()
                    .ok_or(CourierError::Answer("courier_company_id"))?;
                let rate = match &c["rate"] {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.clone(),
                    _ => return Err(CourierError::Answer("rate")),
                };
                let name = c["courier_name"].as_str().unwrap_or_default().to_owned();
                Ok(Quote {
                    rate_id: id.to_string(),
                    carrier: name.clone(),
                    service: name,
                    amount: Money::parse_decimal(&rate, inr)
                        .map_err(|_| CourierError::Answer("rate"))?,
                    delivery_days: c["estimated_delivery_days"]
                        .as_str()
                        .and_then(|d| d.parse().ok())
                        .or_else(|| c["estimated_delivery_days"].as_u64().map(|d| d as u32)),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CourierShipment { id, quotes })
    }

    async fn buy(
        &self,
        account: &CourierCredentials,
        shipment: &str,
        rate_id: &str,
        _idempotency_key: &str,
    ) -> Result<Purchase, CourierError> {
        let (_, sr_shipment) = split(shipment)?;
        let shipment_id: u64 = sr_shipment
            .parse()
            .map_err(|_| CourierError::Answer("shipment id"))?;
        let courier_id: u64 = rate_id
            .parse()
            .map_err(|_| CourierError::Answer("courier id"))?;
        let (status, answer) = self
            .call(
                account,
                reqwest::Method::POST,
                "courier/assign/awb",
                Some(&json!({"shipment_id": shipment_id, "courier_id": courier_id})),
                true,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failure(status, true));
        }
        if answer["awb_assign_status"] != 1 {
            // Refused (wallet balance, courier unavailable): nothing assigned.
            return Err(CourierError::Refused {
                code: "AWB_ASSIGN_FAILED".into(),
            });
        }
        let data = &answer["response"]["data"];
        let awb = data["awb_code"]
            .as_str()
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .or_else(|| data["awb_code"].as_u64().map(|a| a.to_string()))
            .ok_or_else(|| CourierError::Unknown("assigned without an AWB".into()))?;
        let courier = data["courier_name"].as_str().unwrap_or_default().to_owned();
        self.purchase(account, sr_shipment, awb, courier).await
    }

    async fn lookup(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<Lookup, CourierError> {
        let (_, sr_shipment) = split(shipment)?;
        let (status, answer) = self
            .call(
                account,
                reqwest::Method::GET,
                &format!("shipments/{sr_shipment}"),
                None,
                false,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failure(status, false));
        }
        let data = &answer["data"];
        let awb = data["awb"]
            .as_str()
            .or_else(|| data["awb_code"].as_str())
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        let Some(awb) = awb else {
            return Ok(Lookup::NotBought);
        };
        let courier = data["courier"]
            .as_str()
            .or_else(|| data["courier_name"].as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Lookup::Bought(
            self.purchase(account, sr_shipment, awb, courier).await?,
        ))
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
        let awb = rc_domain::TrackingCode::parse(tracked.tracking_code)
            .map_err(|_| CourierError::Answer("awb"))?;
        let (status, answer) = self
            .call(
                account,
                reqwest::Method::GET,
                &format!("courier/track/awb/{}", awb.as_str()),
                None,
                false,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failure(status, false));
        }
        crate::shiprocket_track(&answer, awb.as_str())
            .map_err(|e| CourierError::Answer(e.field().unwrap_or("tracking_data")))
    }

    async fn void(
        &self,
        account: &CourierCredentials,
        shipment: &str,
    ) -> Result<VoidOutcome, CourierError> {
        let (sr_order, _) = split(shipment)?;
        let id: u64 = sr_order
            .parse()
            .map_err(|_| CourierError::Answer("order id"))?;
        let (status, _) = self
            .call(
                account,
                reqwest::Method::POST,
                "orders/cancel",
                Some(&json!({"ids": [id]})),
                true,
            )
            .await?;
        if status.is_success() {
            return Ok(VoidOutcome::Voided);
        }
        Self::failure(status, true).into_void()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcels_go_in_centimetres_and_kilograms() {
        assert_eq!(decimal(u64::from(tenths_of_cm(123)), 1).to_string(), "12.3");
        assert_eq!(
            decimal(u64::from(tenths_of_cm(2)), 1).to_string(),
            "0.5",
            "Shiprocket's minimum side"
        );
        assert_eq!(decimal(350, 3).to_string(), "0.35");
        assert_eq!(decimal(12_050, 3).to_string(), "12.05");
        assert_eq!(decimal(199, 2).to_string(), "1.99");
    }

    #[test]
    fn courier_shipment_ids_hold_both_shiprocket_ids() {
        assert_eq!(
            compose(&json!(123), &json!("456")).as_deref(),
            Some("123/456")
        );
        assert_eq!(compose(&json!(123), &Value::Null), None);
        assert_eq!(compose(&json!("12a"), &json!(4)), None);
        assert_eq!(
            split("123/456")
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok(),
            Some(("123".into(), "456".into()))
        );
        assert!(split("123").is_err());
    }
}
