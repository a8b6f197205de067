//! `GET/PUT /v1/account`: the merchant's profile — company name, default currency, time zone,
//! and the billing contact (sealed at rest, shown only to the merchant's `account:admin` keys,
//! never logged). (`DELETE /v1/account` is the cancellation, in the privacy routes.)

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::MerchantId;
use rc_orders::{MerchantRepository, RawProfile};

use crate::{ApiError, json};

pub(crate) struct AccountRoutes {
    pub repo: Arc<MerchantRepository>,
}

impl AccountRoutes {
    pub(crate) async fn show(&self, merchant: &MerchantId) -> Result<Response<Bytes>, ApiError> {
        let profile = self.repo.get(merchant).await?.ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &with_id(merchant, &profile)?))
    }

    pub(crate) async fn put(
        &self,
        merchant: &MerchantId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let raw: RawProfile = serde_json::from_slice(body).map_err(|_| ApiError::InvalidPayload {
            reason: "invalid_body",
            message: "expected {\"company_name\", \"default_currency\", \"time_zone\", \"contact\": {\"name\", \"email\"}}".into(),
        })?;
        let profile = raw.parse().map_err(|field| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: format!("field `{field}` is invalid"),
        })?;
        self.repo.put(merchant, &profile).await?;
        tracing::info!(%merchant, "account profile updated");
        self.show(merchant).await
    }
}

fn with_id(merchant: &MerchantId, profile: &RawProfile) -> Result<serde_json::Value, ApiError> {
    let mut body = serde_json::to_value(profile).map_err(|_| ApiError::Internal)?;
    body["id"] = serde_json::json!(merchant.as_str());
    Ok(body)
}
