//! A SKU's parcel defaults: what one unit weighs and measures packed, so a shipment's parcel can
//! be worked out without asking the merchant each time. Kept in the SKU's partition (removed
//! with it).

use rc_domain::{MerchantId, Parcel, Sku};
use rc_store::{Item, ItemKey, Value};

use crate::{InventoryError, StockRepository, keys};

fn key(merchant: &MerchantId, sku: &Sku) -> ItemKey {
    ItemKey::new(keys::sku_partition(merchant, sku), "PARCEL")
}

impl StockRepository {
    /// Sets (replaces) the SKU's parcel defaults.
    pub async fn set_parcel(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        parcel: &Parcel,
    ) -> Result<(), InventoryError> {
        crate::stock::upsert(self.data.as_ref(), &key(merchant, sku), |mut item: Item| {
            item.set("weight_g", Value::N(i64::from(parcel.weight_g)));
            item.set("length_mm", Value::N(i64::from(parcel.length_mm)));
            item.set("width_mm", Value::N(i64::from(parcel.width_mm)));
            item.set("height_mm", Value::N(i64::from(parcel.height_mm)));
            Ok(item)
        })
        .await?;
        Ok(())
    }

    /// The SKU's parcel defaults, if the merchant set them.
    pub async fn parcel(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<Option<Parcel>, InventoryError> {
        let Some(item) = self.data.get(&key(merchant, sku)).await? else {
            return Ok(None);
        };
        let n = |name| item.number(name).unwrap_or(0);
        Parcel::parse(n("weight_g"), n("length_mm"), n("width_mm"), n("height_mm"))
            .map(Some)
            .map_err(|_| InventoryError::Corrupt("parcel"))
    }
}
