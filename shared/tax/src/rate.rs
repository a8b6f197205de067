//! Rates and the one rounding rule: amounts in minor units, rates in basis points (1/100 of a
//! percent: 18 % is 1,800; Finland's 25.5 % is 2,550; 0.25 % is 25), never floats.

use serde::{Deserialize, Serialize};

/// A tax rate in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Rate(u32);

/// The highest rate accepted (100 %).
pub const MAX_RATE_BP: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a rate must be between 0 and 10000 basis points")]
pub struct RateError;

impl Rate {
    pub fn basis_points(bp: u32) -> Result<Self, RateError> {
        if bp <= MAX_RATE_BP {
            Ok(Self(bp))
        } else {
            Err(RateError)
        }
    }

    /// A rate written in this crate's own tables (checked by their tests).
    pub(crate) const fn known(bp: u32) -> Self {
        Self(bp)
    }

    pub fn bp(&self) -> u32 {
        self.0
    }

    /// Half of it, as the intra-state GST components split it (`None` when it does not halve
    /// exactly in basis points; every slab in force does).
    pub fn half(&self) -> Option<Rate> {
        self.0.is_multiple_of(2).then_some(Rate(self.0 / 2))
    }

    /// The tax on `taxable` minor units at this rate, rounded half up to the minor unit
    /// (`taxable` × rate / 10,000; a half unit or more goes up).
    pub fn of(&self, taxable: i64) -> i64 {
        round_half_up(i128::from(taxable) * i128::from(self.0), 10_000)
    }

    /// The tax contained in a tax-inclusive `gross` amount (`gross` × rate / (10,000 + rate)),
    /// rounded half up.
    pub fn included_in(&self, gross: i64) -> i64 {
        round_half_up(
            i128::from(gross) * i128::from(self.0),
            10_000 + i128::from(self.0),
        )
    }
}

impl TryFrom<u32> for Rate {
    type Error = RateError;
    fn try_from(bp: u32) -> Result<Self, RateError> {
        Self::basis_points(bp)
    }
}

impl From<Rate> for u32 {
    fn from(rate: Rate) -> u32 {
        rate.0
    }
}

/// `numerator / denominator` rounded half up (away from zero for negatives), for a positive
/// denominator; saturating at `i64`'s bounds.
pub fn round_half_up(numerator: i128, denominator: i128) -> i64 {
    debug_assert!(denominator > 0);
    let magnitude = (numerator.abs() * 2 + denominator) / (denominator * 2);
    let signed = if numerator < 0 { -magnitude } else { magnitude };
    i64::try_from(signed).unwrap_or(if signed < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_rounds_half_up_to_the_minor_unit() {
        // (taxable minor units, rate bp, tax)
        let cases = [
            (10_000, 1_800, 1_800),
            (999, 500, 50),   // 49.95 → 50
            (990, 500, 50),   // 49.5 → 50 (half goes up)
            (989, 500, 49),   // 49.45 → 49
            (100, 2_550, 26), // 25.5 → 26
            (1, 25, 0),       // 0.0025 → 0
            (0, 1_800, 0),
        ];
        for (taxable, bp, tax) in cases {
            assert_eq!(
                Rate::basis_points(bp).expect("rate").of(taxable),
                tax,
                "{taxable} at {bp}"
            );
        }
        assert_eq!(round_half_up(-15, 10), -2, "symmetric for refunds");
        assert_eq!(Rate::basis_points(10_001), Err(RateError));
    }

    #[test]
    fn tax_included_in_a_gross_price() {
        let rate = Rate::basis_points(1_800).expect("rate");
        // 118.00 gross at 18 % holds 18.00 of tax.
        assert_eq!(rate.included_in(11_800), 1_800);
        assert_eq!(
            Rate::basis_points(1_900).expect("rate").included_in(11_900),
            1_900
        );
        assert_eq!(rate.half().map(|r| r.bp()), Some(900));
        assert_eq!(Rate::basis_points(25).expect("rate").half(), None);
    }
}
