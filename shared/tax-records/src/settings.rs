//! The merchant's tax settings: whether its EU distance sales stay under the EUR 10,000
//! threshold this year (then its home VAT applies to sales into other member states).

use std::sync::Arc;

use rc_domain::MerchantId;
use rc_store::{Item, Store, Value};
use serde::{Deserialize, Serialize};

use crate::{TaxRecordError, keys};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxSettings {
    /// The merchant's intra-EU B2C distance sales (goods and TBE services) stayed under
    /// EUR 10,000 in the current and the previous calendar year: origin VAT applies. The
    /// merchant says so; RetailCoder does not see sales made elsewhere. Default `false`:
    /// destination VAT through the OSS.
    pub eu_below_threshold: bool,
}

impl TaxSettings {
    /// Parses a body; the field at fault when refused.
    pub fn parse(body: &[u8]) -> Result<Self, &'static str> {
        serde_json::from_slice(body).map_err(|_| "body")
    }
}

pub struct TaxSettingsRepository {
    data: Arc<dyn Store>,
}

impl TaxSettingsRepository {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    pub async fn get(&self, merchant: &MerchantId) -> Result<TaxSettings, TaxRecordError> {
        let Some(item) = self.data.get(&keys::settings(merchant)).await? else {
            return Ok(TaxSettings::default());
        };
        item.string("settings")
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or(TaxRecordError::Corrupt("tax settings"))
    }

    /// Stores the settings (last writer wins: one merchant's own choice).
    pub async fn put(
        &self,
        merchant: &MerchantId,
        settings: &TaxSettings,
    ) -> Result<(), TaxRecordError> {
        let body =
            serde_json::to_string(settings).map_err(|_| TaxRecordError::Corrupt("tax settings"))?;
        let item = Item::new(keys::settings(merchant)).with("settings", Value::S(body));
        crate::classes::upsert(self.data.as_ref(), item).await
    }
}
