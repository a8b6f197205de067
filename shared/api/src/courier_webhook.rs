//! The courier tracking webhook receiver (`POST /tracking/{hook}`): authenticate, parse,
//! deduplicate, record, answer fast — ids only onward.
//!
//! The hook (32 hex characters, random, naming no merchant) says which courier account the
//! notification claims to come from; the account's secret proves it:
//! - EasyPost and the sandbox courier: `X-Hmac-Signature: hmac-sha256-hex=<hex>` over the raw
//!   body, the secret NFKD-normalized, compared in constant time;
//! - Shiprocket: the token configured in its panel, in `x-api-key`, compared in constant time.
//!
//! An unknown hook and a bad or missing signature answer the same 401. A notification about a
//! tracking number we do not know is acknowledged (200, `unknown_shipment`): the courier would
//! only repeat it, and the polling fallback finds what a race left behind.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use rc_couriers::{TrackingUpdate, easypost_event, shiprocket_event, verify_easypost};
use rc_domain::{CourierKind, EventSource, RevealPurpose};
use rc_fulfillment::{CourierAccountRepository, Recorded, TrackingRecorder};
use rc_queue::{ShipmentEvent, ShipmentEvents};
use serde::Serialize;

use crate::{ApiError, json};

/// The largest notification accepted: an EasyPost tracker with its whole history is tens of
/// kilobytes.
pub const MAX_TRACKING_BODY: usize = 512 * 1024;

pub const EASYPOST_SIGNATURE: &str = "x-hmac-signature";
pub const SHIPROCKET_TOKEN: &str = "x-api-key";

pub struct CourierWebhook {
    accounts: Arc<CourierAccountRepository>,
    recorder: TrackingRecorder,
    events: Arc<dyn ShipmentEvents>,
}

#[derive(Serialize)]
struct Answer {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moved: Option<bool>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

impl CourierWebhook {
    pub fn new(
        accounts: Arc<CourierAccountRepository>,
        recorder: TrackingRecorder,
        events: Arc<dyn ShipmentEvents>,
    ) -> Self {
        Self {
            accounts,
            recorder,
            events,
        }
    }

    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        match self.process(request).await {
            Ok(answer) => json(StatusCode::OK, &answer),
            Err(error) => {
                tracing::info!(
                    status = error.status().as_u16(),
                    reason = error.reason(),
                    "courier webhook refused"
                );
                error.into_response()
            }
        }
    }

    async fn process(&self, request: Request<Bytes>) -> Result<Answer, ApiError> {
        let segments: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
        let ["tracking", hook] = segments.as_slice() else {
            return Err(ApiError::NotFound);
        };
        if request.method() != Method::POST {
            return Err(ApiError::MethodNotAllowed);
        }
        if request.body().len() > MAX_TRACKING_BODY {
            return Err(ApiError::PayloadTooLarge(MAX_TRACKING_BODY));
        }
        // Who it claims to be, then proof: the same 401 whichever fails.
        let rc_fulfillment::HookSecret {
            merchant,
            account,
            secret,
        } = self
            .accounts
            .hook_secret(hook)
            .await?
            .ok_or(ApiError::InvalidSignature)?;
        let secret = secret.reveal(RevealPurpose::Authentication).as_str();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let body = request.body();
        let update: Option<TrackingUpdate> = match account.kind {
            CourierKind::EasyPost | CourierKind::Sandbox => {
                if !verify_easypost(secret, body, header(EASYPOST_SIGNATURE)) {
                    return Err(ApiError::InvalidSignature);
                }
                easypost_event(body).map_err(payload_error)?
            }
            CourierKind::Shiprocket => {
                let token = header(SHIPROCKET_TOKEN).ok_or(ApiError::InvalidSignature)?;
                if !constant_time_eq(token.as_bytes(), secret.as_bytes()) {
                    return Err(ApiError::InvalidSignature);
                }
                Some(shiprocket_event(body).map_err(payload_error)?)
            }
            // Amazon Shipping is polled (getTracking); it has no webhook here.
            CourierKind::AmazonShipping => return Err(ApiError::InvalidSignature),
        };
        let Some(update) = update else {
            return Ok(Answer {
                status: "ignored",
                reason: Some("not_tracking"),
                moved: None,
            });
        };
        let recorded = self
            .recorder
            .record(&merchant, Some(&account), &update, EventSource::Webhook)
            .await?;
        let (answer, onward) = match recorded {
            Recorded::Applied { shipment, moved } => (
                Answer {
                    status: "recorded",
                    reason: None,
                    moved: Some(moved),
                },
                moved.then_some(shipment),
            ),
            // Sent onward again: the first delivery may have been stored and then lost its
            // onward message (the worker's run is idempotent).
            Recorded::Duplicate { shipment } => (
                Answer {
                    status: "duplicate",
                    reason: None,
                    moved: None,
                },
                Some(shipment),
            ),
            Recorded::UnknownShipment => (
                Answer {
                    status: "ignored",
                    reason: Some("unknown_shipment"),
                    moved: None,
                },
                None,
            ),
        };
        if let Some(shipment) = onward {
            self.events
                .send(&[ShipmentEvent {
                    merchant: merchant.to_string(),
                    shipment: shipment.to_string(),
                }])
                .await
                .map_err(|_| ApiError::Unavailable)?;
        }
        tracing::info!(%merchant, courier = %account.label(), status = answer.status, "courier notification");
        Ok(answer)
    }
}

fn payload_error(error: rc_couriers::TrackingParseError) -> ApiError {
    match error {
        rc_couriers::TrackingParseError::Malformed => {
            ApiError::MalformedJson("the body is not JSON".into())
        }
        other => ApiError::InvalidPayload {
            reason: other.reason(),
            message: other.to_string(),
        },
    }
}
