//! The merchant's tax classes and which class each SKU is in. The seeded GST classes
//! (`gst-5`, `gst-18`, `gst-40`, `apparel`) exist for every merchant until it stores its own
//! class of the same id; a SKU is in no class until the merchant assigns one (an order line of
//! such a SKU is flagged `no_tax_class`, never taxed at zero).

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{MerchantId, Sku};
use rc_orders::keys::merchant_partition;
use rc_store::{Item, Store, Value, query_all};
use rc_tax::{RawTaxClass, TaxClass, TaxClassId, seed_raw_classes};
use serde::Serialize;

use crate::{TaxRecordError, keys};

/// Classes listed per page when reading them all.
const PAGE: usize = 200;

/// Creates or replaces `item`, retrying a lost race a few times.
pub(crate) async fn upsert(data: &dyn Store, item: Item) -> Result<(), TaxRecordError> {
    Ok(rc_store::put_latest(data, item).await?)
}

/// A SKU's class assignment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuClass {
    pub sku: String,
    pub class: TaxClassId,
}

pub struct TaxClasses {
    data: Arc<dyn Store>,
}

fn parse_stored(item: &Item) -> Result<RawTaxClass, TaxRecordError> {
    item.string("class")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or(TaxRecordError::Corrupt("tax class"))
}

impl TaxClasses {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    /// Stores a class (already parsed by the caller: only a valid class is ever stored);
    /// true when it was new (a seeded class replaced counts as new).
    pub async fn put(
        &self,
        merchant: &MerchantId,
        id: &TaxClassId,
        class: &RawTaxClass,
    ) -> Result<bool, TaxRecordError> {
        let key = keys::class(merchant, id.as_str());
        let existed = self.data.get(&key).await?.is_some();
        let body =
            serde_json::to_string(class).map_err(|_| TaxRecordError::Corrupt("tax class"))?;
        upsert(
            self.data.as_ref(),
            Item::new(key).with("class", Value::S(body)),
        )
        .await?;
        Ok(!existed)
    }

    /// A class: the merchant's own, else the seeded one of that id.
    pub async fn get(
        &self,
        merchant: &MerchantId,
        id: &TaxClassId,
    ) -> Result<Option<RawTaxClass>, TaxRecordError> {
        match self.data.get(&keys::class(merchant, id.as_str())).await? {
            Some(item) => Ok(Some(parse_stored(&item)?)),
            None => Ok(seed_raw_classes().remove(id.as_str())),
        }
    }

    /// Every class the merchant can assign: the seeds, overridden by its own.
    pub async fn list(
        &self,
        merchant: &MerchantId,
    ) -> Result<BTreeMap<String, RawTaxClass>, TaxRecordError> {
        let mut classes: BTreeMap<String, RawTaxClass> = seed_raw_classes()
            .into_iter()
            .map(|(id, class)| (id.to_owned(), class))
            .collect();
        let stored = query_all(
            self.data.as_ref(),
            &merchant_partition(merchant),
            keys::CLASS_PREFIX,
            PAGE,
        )
        .await?;
        for item in stored {
            let id = item
                .key
                .sk
                .trim_start_matches(keys::CLASS_PREFIX)
                .to_owned();
            classes.insert(id, parse_stored(&item)?);
        }
        Ok(classes)
    }

    /// Puts `sku` in class `id` (which must exist: `Ok(false)` when it does not).
    pub async fn assign(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        id: &TaxClassId,
    ) -> Result<bool, TaxRecordError> {
        if self.get(merchant, id).await?.is_none() {
            return Ok(false);
        }
        upsert(
            self.data.as_ref(),
            Item::new(keys::sku_class(merchant, sku)).with("class", Value::S(id.as_str().into())),
        )
        .await?;
        Ok(true)
    }

    /// The class `sku` is in, if assigned.
    pub async fn class_of(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<Option<TaxClassId>, TaxRecordError> {
        Ok(self
            .data
            .get(&keys::sku_class(merchant, sku))
            .await?
            .and_then(|item| item.string("class").and_then(|c| TaxClassId::parse(c).ok())))
    }

    /// The parsed class of each SKU that has one (each class read once).
    pub async fn classes_of(
        &self,
        merchant: &MerchantId,
        skus: &[Sku],
    ) -> Result<BTreeMap<Sku, TaxClass>, TaxRecordError> {
        let mut parsed: BTreeMap<TaxClassId, Option<TaxClass>> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for sku in skus {
            let Some(id) = self.class_of(merchant, sku).await? else {
                continue;
            };
            if !parsed.contains_key(&id) {
                let class = match self.get(merchant, &id).await? {
                    Some(raw) => Some(
                        raw.parse()
                            .map_err(|_| TaxRecordError::Corrupt("tax class"))?,
                    ),
                    None => None,
                };
                parsed.insert(id.clone(), class);
            }
            if let Some(Some(class)) = parsed.get(&id) {
                out.insert(sku.clone(), class.clone());
            }
        }
        Ok(out)
    }
}
