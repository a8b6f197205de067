//! Tax per order line, pure (no I/O): what each line and the shipping carry, by jurisdiction and
//! component, and who owes it — computed where RetailCoder is the one who must know (India GST,
//! EU VAT), recorded as charged where the channel decides (US marketplace-facilitator states,
//! Shopify's own tax lines). Amounts are integers in minor units, rates in basis points; the
//! record holds no PII, so it outlives the buyer's data.

mod channel;
mod class;
mod error;
pub mod eu;
pub mod india;
mod provider;
mod rate;
mod record;

pub use channel::{channel_tax, component_of, jurisdiction};
pub use class::{
    MAX_CLASS_RULES, RawDatedRate, RawGst, RawGstRule, RawTaxClass, RawVat, TaxClass, TaxClassId,
    seed_raw_classes,
};
pub use error::TaxError;
pub use provider::{
    ChannelRecorded, ChannelTax, EuVat, IndiaGst, LineInput, Place, TaxInput, TaxProvider,
    provider_for,
};
pub use rate::{MAX_RATE_BP, Rate, RateError, round_half_up};
pub use record::{Component, Liable, LineTax, Scheme, Source, TaxAmount, TaxRecord};
