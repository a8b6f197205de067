//! The tax record of an order: what was (or is to be) charged per line and for shipping, by
//! jurisdiction and component, and who owes it. It holds no PII — state and country codes, never
//! addresses — so it outlives the buyer's data with the anonymized order.

use serde::{Deserialize, Serialize};

use crate::Rate;

/// One kind of tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// India, central GST (intra-state supply).
    Cgst,
    /// India, state GST (intra-state supply, a state or a union territory with a legislature).
    Sgst,
    /// India, union territory GST (intra-territory supply, a union territory without one).
    Utgst,
    /// India, integrated GST (inter-state supply).
    Igst,
    /// India, compensation cess.
    Cess,
    /// EU value added tax.
    Vat,
    /// US state or local sales tax (recorded as the channel charged it).
    SalesTax,
    /// A channel's tax line RetailCoder does not classify (kept with its amount).
    Other,
}

/// Under which arrangement the tax is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Declared in the seller's own return (domestic, or below the EU distance-sales threshold).
    Domestic,
    /// EU One-Stop Shop: an intra-EU distance sale taxed at the destination.
    Oss,
    /// EU Import One-Stop Shop: a consignment of at most EUR 150 shipped into the EU.
    Ioss,
    /// The marketplace collects and remits (US marketplace-facilitator laws).
    MarketplaceFacilitator,
    /// No tax applies (out of scope, or a channel that charged none).
    None,
}

/// Who must pay the tax to the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liable {
    Merchant,
    Marketplace,
}

/// Where the record's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Computed by RetailCoder (India GST, EU VAT).
    Computed,
    /// Recorded as the channel charged it.
    Channel,
}

/// One component of the tax on one line (or the shipping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxAmount {
    pub component: Component,
    /// `IN-MH`, `DE`, `US-CA`: a country, or a country and its state.
    pub jurisdiction: String,
    /// `None` when the channel gave an amount without its rate.
    pub rate: Option<Rate>,
    /// The value the rate applies to, in minor units.
    pub taxable: i64,
    /// The tax, in minor units.
    pub tax: i64,
}

/// What a line (or the shipping) carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTax {
    /// The order line's index; `None` for the shipping.
    pub line: Option<usize>,
    pub amounts: Vec<TaxAmount>,
}

impl LineTax {
    pub fn tax(&self) -> i64 {
        self.amounts.iter().map(|a| a.tax).sum()
    }
}

/// An order's tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRecord {
    /// ISO 4217.
    pub currency: String,
    pub source: Source,
    pub scheme: Scheme,
    pub liable: Liable,
    pub lines: Vec<LineTax>,
    /// Machine-readable notes (`rate_differs_from_channel`, ...): never silently resolved.
    pub flags: Vec<String>,
}

impl TaxRecord {
    /// The order's tax, in minor units.
    pub fn total(&self) -> i64 {
        self.lines.iter().map(LineTax::tax).sum()
    }
}
