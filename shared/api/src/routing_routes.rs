//! The merchant API's routing routes: which warehouse ships which order.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/routing` | the merchant's routing settings (defaults until set) |
//! | `PUT /v1/routing` | replace them: `{"allow_split", "rules": [{"name", "countries", "regions", "postal_prefixes", "channels", "warehouses"}]}` |
//!
//! Orders already routed keep their decision; the next order routes by the new settings.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{MerchantId, RawRoutingSettings};
use rc_inventory::RoutingRepository;

use crate::{ApiError, json};

pub(crate) struct RoutingRoutes {
    pub(crate) repo: Arc<RoutingRepository>,
}

impl RoutingRoutes {
    pub(crate) async fn show(&self, merchant: &MerchantId) -> Result<Response<Bytes>, ApiError> {
        let settings = self.repo.get(merchant).await?;
        Ok(json(StatusCode::OK, &settings.to_raw()))
    }

    pub(crate) async fn put(
        &self,
        merchant: &MerchantId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let raw: RawRoutingSettings = serde_json::from_slice(body)
            .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
        let settings = raw.parse().map_err(|e| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: e.to_string(),
        })?;
        self.repo.put(merchant, &settings).await?;
        tracing::info!(%merchant, rules = settings.rules.len(), allow_split = settings.allow_split, "routing settings saved");
        Ok(json(StatusCode::OK, &settings.to_raw()))
    }
}
