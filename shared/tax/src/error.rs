/// Why tax could not be worked out: a reason, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    #[error("the state or territory code is not India's")]
    UnknownState,
    #[error("the country is not one this regime covers")]
    UnknownCountry,
    #[error("a line has no tax class")]
    NoTaxClass,
    #[error("no rate is in force on the order's date")]
    NoRateOnDate,
    #[error("the order's currency is not the jurisdiction's")]
    CurrencyMismatch,
    #[error("a price, discount or total is negative")]
    Negative,
    #[error("two rules of a tax class cover the same prices from the same date")]
    OverlappingRules,
    #[error("field `{0}` is invalid")]
    Invalid(&'static str),
}

impl TaxError {
    /// The machine-readable reason (API answers, order flags).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownState => "unknown_state",
            Self::UnknownCountry => "unknown_country",
            Self::NoTaxClass => "no_tax_class",
            Self::NoRateOnDate => "no_rate_on_date",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::Negative => "negative_amount",
            Self::OverlappingRules => "overlapping_rules",
            Self::Invalid(_) => "invalid_field",
        }
    }
}
