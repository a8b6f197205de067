//! The merchant's fulfillment settings: whether Shopify e-mails the buyer the tracking link, and
//! how long a shipment may stay silent before its courier is asked (the polling fallback).

use std::sync::Arc;

use rc_domain::MerchantId;
use rc_orders::keys::merchant_partition;
use rc_store::{Item, ItemKey, Store, Value};
use serde::{Deserialize, Serialize};

use crate::FulfillmentError;

/// Silence (hours) before a shipment's courier is polled, by default; and the bounds.
pub const DEFAULT_POLL_AFTER_HOURS: u32 = 12;
pub const MAX_POLL_AFTER_HOURS: u32 = 72;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentSettings {
    /// Shopify's `notifyCustomer` on a new fulfillment (and a changed tracking number).
    pub notify_customer: bool,
    /// A tracked shipment not heard of for this many hours is polled (1 to 72).
    pub poll_after_hours: u32,
}

impl Default for FulfillmentSettings {
    fn default() -> Self {
        Self {
            notify_customer: true,
            poll_after_hours: DEFAULT_POLL_AFTER_HOURS,
        }
    }
}

impl FulfillmentSettings {
    /// Parses a merchant's settings; the field at fault when refused.
    pub fn parse(body: &[u8]) -> Result<Self, &'static str> {
        let settings: Self = serde_json::from_slice(body).map_err(|_| "body")?;
        if !(1..=MAX_POLL_AFTER_HOURS).contains(&settings.poll_after_hours) {
            return Err("poll_after_hours");
        }
        Ok(settings)
    }
}

fn key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), "FULFILLMENT#SETTINGS")
}

pub struct FulfillmentSettingsRepository {
    data: Arc<dyn Store>,
}

impl FulfillmentSettingsRepository {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    pub async fn get(
        &self,
        merchant: &MerchantId,
    ) -> Result<FulfillmentSettings, FulfillmentError> {
        let Some(item) = self.data.get(&key(merchant)).await? else {
            return Ok(FulfillmentSettings::default());
        };
        item.string("settings")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or(FulfillmentError::Corrupt("fulfillment settings"))
    }

    pub async fn put(
        &self,
        merchant: &MerchantId,
        settings: &FulfillmentSettings,
    ) -> Result<(), FulfillmentError> {
        let body = serde_json::to_string(settings)
            .map_err(|_| FulfillmentError::Corrupt("fulfillment settings"))?;
        let item = Item::new(key(merchant)).with("settings", Value::S(body));
        Ok(rc_store::put_latest(self.data.as_ref(), item).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_within_bounds() {
        assert_eq!(
            FulfillmentSettings::parse(br#"{"notify_customer": false, "poll_after_hours": 6}"#),
            Ok(FulfillmentSettings {
                notify_customer: false,
                poll_after_hours: 6
            })
        );
        for (body, field) in [
            (
                &br#"{"notify_customer": true, "poll_after_hours": 0}"#[..],
                "poll_after_hours",
            ),
            (
                br#"{"notify_customer": true, "poll_after_hours": 73}"#,
                "poll_after_hours",
            ),
            (
                br#"{"notify_customer": "yes", "poll_after_hours": 6}"#,
                "body",
            ),
            (
                br#"{"notify_customer": true, "poll_after_hours": 6, "x": 1}"#,
                "body",
            ),
        ] {
            assert_eq!(FulfillmentSettings::parse(body), Err(field));
        }
    }
}
