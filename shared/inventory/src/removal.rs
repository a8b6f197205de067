//! Removing a merchant's whole inventory when their account is cancelled: every SKU's stock,
//! kit, listings and backorder list, then the ledger, the warehouse records and the routing settings. Kept here, beside the keys it walks, so the
//! account cancellation never needs to know how inventory is laid out.

use rc_domain::{MerchantId, Sku};

use crate::{InventoryError, StockRepository, keys};

/// Items read and deleted per round trip.
const PAGE: usize = 500;
/// SKUs taken from the merchant's SKU list per round trip.
const SKU_PAGE: usize = 25;

impl StockRepository {
    /// Deletes up to about `budget` of the merchant's inventory items (no PII, but the merchant's
    /// data); returns (items removed, all gone). Resumable: each SKU's list entry goes last, so
    /// an interrupted run finds the SKU again.
    pub async fn remove_merchant(
        &self,
        merchant: &MerchantId,
        budget: usize,
    ) -> Result<(u64, bool), InventoryError> {
        let mut removed = 0u64;
        while (removed as usize) < budget {
            let skus = self
                .data
                .query_partition(&keys::sku_list(merchant), "", SKU_PAGE, None)
                .await?;
            let Some(entry) = skus.items.first() else {
                break;
            };
            if let Ok(sku) = Sku::parse(&entry.key.sk) {
                for partition in [
                    keys::sku_partition(merchant, &sku),
                    keys::backorders(merchant, &sku),
                ] {
                    removed += self.empty_partition(&partition).await?;
                }
            }
            self.data.delete(&entry.key, None).await?;
            removed += 1;
        }
        if (removed as usize) >= budget {
            return Ok((removed, false));
        }
        removed += self.empty_partition(&keys::ledger(merchant)).await?;
        for partition in [
            crate::warehouses::partition(merchant),
            crate::routing_settings::partition(merchant),
        ] {
            removed += self.empty_partition(&partition).await?;
        }
        Ok((removed, true))
    }

    async fn empty_partition(&self, partition: &str) -> Result<u64, InventoryError> {
        let mut removed = 0;
        loop {
            let page = self.data.query_partition(partition, "", PAGE, None).await?;
            if page.items.is_empty() {
                return Ok(removed);
            }
            removed += page.items.len() as u64;
            let keys = page.items.into_iter().map(|item| item.key).collect();
            self.data.delete_many(keys).await?;
        }
    }
}
