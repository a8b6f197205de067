//! What a channel charged on an order besides the prices: discounts and its own tax lines, as its
//! payload says them. Public facts (amounts, rates, the channel's tax names), never PII; the tax
//! record is worked out from them and they stay with the anonymized order.

use serde::{Deserialize, Serialize};

use crate::Money;

/// The longest tax line name kept (Shopify's titles are the merchant's: "CGST 9%", "State Tax").
pub const MAX_TAX_TITLE: usize = 60;

/// One tax line as the channel charged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargedTax {
    /// The channel's name for it, trimmed to [`MAX_TAX_TITLE`] printable characters.
    pub title: String,
    /// The rate in basis points, when the channel gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bp: Option<u32>,
    pub amount: Money,
}

impl ChargedTax {
    /// A tax line with its title cleaned (control characters dropped, length capped).
    pub fn new(title: &str, rate_bp: Option<u32>, amount: Money) -> Self {
        let title: String = title
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_TAX_TITLE)
            .collect();
        let title = title.trim();
        Self {
            title: if title.is_empty() { "tax" } else { title }.to_owned(),
            rate_bp,
            amount,
        }
    }
}

/// A line's discount and tax, as charged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCharges {
    /// The line's whole discount (not per unit), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Money>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tax: Vec<ChargedTax>,
}

impl LineCharges {
    pub fn is_empty(&self) -> bool {
        self.discount.is_none() && self.tax.is_empty()
    }
}

/// Under which scheme a channel reported an EU sale (Amazon's `reportingScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportingScheme {
    /// `UOSS`: Union one-stop shop (goods held in the EU).
    Oss,
    /// `IOSS`: Import one-stop shop (goods not held in the EU).
    Ioss,
}

/// The order-wide tax facts a channel gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTaxFacts {
    /// Prices include tax (Shopify `taxes_included`).
    #[serde(default)]
    pub prices_include_tax: bool,
    /// The marketplace collects and remits the tax (Amazon's `MARKETPLACE_FACILITATOR`, a
    /// Shopify tax line with `channel_liable`).
    #[serde(default)]
    pub collected_by_marketplace: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_scheme: Option<ReportingScheme>,
    /// The tax on the shipping, as charged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipping_tax: Vec<ChargedTax>,
    /// The channel sent tax data at all (a payload without any says nothing about tax, which is
    /// not the same as charging none).
    #[serde(default)]
    pub reported: bool,
}

impl ChannelTaxFacts {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A rate given as a decimal fraction in JSON (Shopify's `"rate": 0.06`), in basis points,
/// read from its digits (never through a float). `None` past 100 % or beyond basis points.
pub fn fraction_to_bp(raw: &str) -> Option<u32> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 4 {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let padded = format!("{fraction:0<4}");
    let bp = whole
        .checked_mul(10_000)?
        .checked_add(padded.parse().ok()?)?;
    (bp <= 10_000).then_some(bp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_become_basis_points_exactly() {
        let cases = [
            ("0.06", Some(600)),
            ("0.18", Some(1_800)),
            ("0.255", Some(2_550)),
            ("0.0725", Some(725)),
            ("0", Some(0)),
            ("1", Some(10_000)),
            ("1.5", None),
            ("0.00001", None),
            ("-0.1", None),
            ("6e-2", None),
            (".5", None),
        ];
        for (raw, bp) in cases {
            assert_eq!(fraction_to_bp(raw), bp, "{raw}");
        }
    }

    #[test]
    fn titles_are_cleaned() {
        let usd = crate::Currency::parse("USD").expect("usd");
        let line = ChargedTax::new(" State\u{7}Tax ", None, Money::zero(usd));
        assert_eq!(line.title, "StateTax");
        assert_eq!(ChargedTax::new("", None, Money::zero(usd)).title, "tax");
        let long = "x".repeat(200);
        assert_eq!(
            ChargedTax::new(&long, None, Money::zero(usd)).title.len(),
            MAX_TAX_TITLE
        );
    }
}
