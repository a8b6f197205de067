//! The merchant API's connection routes: connect a Shopify shop or an Amazon selling partner
//! (secrets in, sealed, never out), disconnect it, list them.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{
    LwaCredentials, MarketplaceId, MerchantId, Region, Secret, SecretText, SellerId, ShopDomain,
};
use rc_orders::{ConnectionRepository, ShopifyCredentials};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{ApiError, json};

/// `PUT /v1/connections/amazon/{seller_id}`. Zeroized when dropped; never logged or echoed.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ConnectAmazon {
    marketplace_ids: Vec<String>,
    lwa_client_id: String,
    lwa_client_secret: String,
    refresh_token: String,
}

/// An Amazon seller or marketplace id from a request: a 422 naming `field` when it is not one.
pub(crate) fn amazon_id<T: TryFrom<String>>(raw: &str, field: &'static str) -> Result<T, ApiError> {
    T::try_from(raw.to_owned()).map_err(|_| ApiError::InvalidPayload {
        reason: "invalid_field",
        message: format!("field `{field}` is invalid"),
    })
}

/// `PUT /v1/connections/shopify/{shop}`. Zeroized when dropped; never logged or echoed.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ConnectShopify {
    webhook_secret: String,
    #[serde(default)]
    previous_webhook_secret: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Serialize)]
struct Connected<'a> {
    channel: &'static str,
    reference: &'a str,
    status: &'static str,
}

fn secret(raw: &str, field: &'static str) -> Result<Secret<SecretText>, ApiError> {
    SecretText::parse(raw)
        .map(Secret::new)
        .map_err(|_| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: format!("field `{field}` is invalid"),
        })
}

/// What the connection routes need.
pub(crate) struct ConnectionRoutes {
    pub(crate) repo: Arc<ConnectionRepository>,
}

impl ConnectionRoutes {
    pub(crate) async fn list(&self, merchant: &MerchantId) -> Result<Response<Bytes>, ApiError> {
        let connections = self.repo.list(merchant).await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "connections": connections }),
        ))
    }

    pub(crate) async fn remove_amazon(
        &self,
        merchant: &MerchantId,
        seller: &SellerId,
    ) -> Result<Response<Bytes>, ApiError> {
        if !self.repo.remove_amazon(merchant, seller).await? {
            return Err(ApiError::NotFound);
        }
        tracing::info!(%merchant, seller = %seller, "amazon connection removed");
        Ok(json(
            StatusCode::OK,
            &Connected {
                channel: "amazon",
                reference: seller.as_str(),
                status: "disconnected",
            },
        ))
    }

    pub(crate) async fn put_amazon(
        &self,
        merchant: &MerchantId,
        seller: &SellerId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let body: ConnectAmazon = serde_json::from_slice(body)
            .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
        if body.marketplace_ids.is_empty() || body.marketplace_ids.len() > 30 {
            return Err(ApiError::InvalidPayload {
                reason: "invalid_field",
                message: "field `marketplace_ids` must list 1 to 30 marketplaces".into(),
            });
        }
        let marketplaces = body
            .marketplace_ids
            .iter()
            .map(|m| amazon_id(m, "marketplace_ids"))
            .collect::<Result<Vec<MarketplaceId>, _>>()?;
        let client_id = body.lwa_client_id.trim();
        if client_id.is_empty() || client_id.len() > 256 || client_id.chars().any(char::is_control)
        {
            return Err(ApiError::InvalidPayload {
                reason: "invalid_field",
                message: "field `lwa_client_id` is invalid".into(),
            });
        }
        // A seller authorizes us per region: one connection serves one region.
        let region = Region::of_marketplaces(&marketplaces).ok_or(ApiError::InvalidPayload {
            reason: "invalid_field",
            message:
                "field `marketplace_ids` must list Amazon marketplaces of one region (NA, EU or FE)"
                    .into(),
        })?;
        let credentials = LwaCredentials {
            client_id: client_id.to_owned(),
            client_secret: secret(&body.lwa_client_secret, "lwa_client_secret")?,
            refresh_token: secret(&body.refresh_token, "refresh_token")?,
            region,
        };
        drop(body);
        self.repo
            .put_amazon(merchant, seller, &marketplaces, &credentials)
            .await
            .map_err(|e| match e {
                rc_orders::RepoError::Refused(_) => ApiError::Conflict,
                other => other.into(),
            })?;
        tracing::info!(%merchant, seller = %seller, "amazon connection saved");
        Ok(json(
            StatusCode::OK,
            &Connected {
                channel: "amazon",
                reference: seller.as_str(),
                status: "connected",
            },
        ))
    }

    pub(crate) async fn remove_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
    ) -> Result<Response<Bytes>, ApiError> {
        if !self.repo.remove_shopify(merchant, shop).await? {
            return Err(ApiError::NotFound);
        }
        tracing::info!(%merchant, shop = %shop, "shopify connection removed");
        Ok(json(
            StatusCode::OK,
            &Connected {
                channel: "shopify",
                reference: shop.as_str(),
                status: "disconnected",
            },
        ))
    }

    pub(crate) async fn put_shopify(
        &self,
        merchant: &MerchantId,
        shop: &ShopDomain,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let body: ConnectShopify = serde_json::from_slice(body)
            .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
        let credentials = ShopifyCredentials {
            webhook_secret: secret(&body.webhook_secret, "webhook_secret")?,
            previous_webhook_secret: body
                .previous_webhook_secret
                .as_deref()
                .map(|s| secret(s, "previous_webhook_secret"))
                .transpose()?,
            access_token: body
                .access_token
                .as_deref()
                .map(|s| secret(s, "access_token"))
                .transpose()?,
        };
        drop(body);
        self.repo
            .put_shopify(merchant, shop, &credentials)
            .await
            .map_err(|e| match e {
                rc_orders::RepoError::Refused(_) => ApiError::Conflict,
                other => other.into(),
            })?;
        tracing::info!(%merchant, shop = %shop, "shopify connection saved");
        Ok(json(
            StatusCode::OK,
            &Connected {
                channel: "shopify",
                reference: shop.as_str(),
                status: "connected",
            },
        ))
    }
}
