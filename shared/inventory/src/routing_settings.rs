//! The merchant's routing settings: one record, read for every order routed, replaced whole.

use std::sync::Arc;

use rc_domain::{MerchantId, RawRoutingSettings, RoutingSettings};
use rc_store::{Item, ItemKey, Store, Value};

use crate::InventoryError;

pub(crate) fn partition(merchant: &MerchantId) -> String {
    format!("ROUTING#{merchant}")
}

fn key(merchant: &MerchantId) -> ItemKey {
    ItemKey::new(partition(merchant), "SETTINGS")
}

pub struct RoutingRepository {
    data: Arc<dyn Store>,
}

impl RoutingRepository {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    /// The merchant's settings; the defaults (no rules, splits allowed) until they set some.
    pub async fn get(&self, merchant: &MerchantId) -> Result<RoutingSettings, InventoryError> {
        let Some(item) = self.data.get(&key(merchant)).await? else {
            return Ok(RoutingSettings::default());
        };
        item.string("settings")
            .and_then(|body| serde_json::from_str::<RawRoutingSettings>(body).ok())
            .and_then(|raw| raw.parse().ok())
            .ok_or(InventoryError::Corrupt("routing settings"))
    }

    /// Replaces the merchant's settings (orders already routed keep their decision).
    pub async fn put(
        &self,
        merchant: &MerchantId,
        settings: &RoutingSettings,
    ) -> Result<(), InventoryError> {
        let body = serde_json::to_string(&settings.to_raw())
            .map_err(|_| InventoryError::Corrupt("routing settings"))?;
        crate::stock::upsert(self.data.as_ref(), &key(merchant), |mut item: Item| {
            item.set("settings", Value::S(body.clone()));
            Ok(item)
        })
        .await?;
        Ok(())
    }
}
