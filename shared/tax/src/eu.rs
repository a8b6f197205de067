//! EU VAT on B2C distance sales of goods (from 1 July 2021): taxed in the member state where the
//! transport ends, at its rate on the day — the standard rate, or a reduced rate where the
//! merchant's tax class says so — declared through the One-Stop Shop; below the EU-wide EUR
//! 10,000 threshold (a merchant setting) the seller may charge its home rate instead. Imports of
//! at most EUR 150 go through the Import One-Stop Shop (Amazon says which, per item:
//! `reportingScheme` UOSS or IOSS). No EU rule fixes rounding (CJEU C-484/06, Ahold): amounts
//! are rounded half up per line, in cents.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use time::Date;

use crate::{Component, Rate, Scheme, TaxAmount, TaxError};

/// The standard rates, as shipped in `data/eu-vat-standard-rates.json` (its `_source` says
/// where they come from; `./infra/test` checks them against the published data set).
const STANDARD_RATES: &str = include_str!("../data/eu-vat-standard-rates.json");

#[derive(Deserialize)]
struct RatesFile {
    standard: BTreeMap<String, Vec<DatedRate>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct DatedRate {
    #[serde(with = "iso_date")]
    pub from: Date,
    pub bp: u32,
}

mod iso_date {
    use serde::{Deserialize, Deserializer};
    use time::Date;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let raw = String::deserialize(d)?;
        Date::parse(
            &raw,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(serde::de::Error::custom)
    }
}

fn standard_rates() -> &'static BTreeMap<String, Vec<DatedRate>> {
    static RATES: OnceLock<BTreeMap<String, Vec<DatedRate>>> = OnceLock::new();
    RATES.get_or_init(|| {
        serde_json::from_str::<RatesFile>(STANDARD_RATES)
            .map(|f| f.standard)
            .unwrap_or_default()
    })
}

/// An EU member state's code as its VAT uses it (`EL` for Greece is also accepted as `GR`).
fn member(country: &str) -> Option<&'static str> {
    let code = country.trim();
    let code = if code.eq_ignore_ascii_case("EL") {
        "GR"
    } else {
        code
    };
    standard_rates()
        .keys()
        .find(|k| k.eq_ignore_ascii_case(code))
        .map(String::as_str)
}

/// Whether `country` is an EU member state.
pub fn is_member(country: &str) -> bool {
    member(country).is_some()
}

/// The rate in force on `date` among dated rates (the latest not after it).
pub fn rate_on(rates: &[DatedRate], date: Date) -> Option<Rate> {
    rates
        .iter()
        .filter(|r| r.from <= date)
        .max_by_key(|r| r.from)
        .and_then(|r| Rate::basis_points(r.bp).ok())
}

/// A member state's standard rate on `date`.
pub fn standard_rate(country: &str, date: Date) -> Result<Rate, TaxError> {
    let code = member(country).ok_or(TaxError::UnknownCountry)?;
    rate_on(&standard_rates()[code], date).ok_or(TaxError::NoRateOnDate)
}

/// A merchant's VAT tax class: reduced rates by member state, over time (a product the
/// standard rate applies to has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VatClass {
    pub reduced: BTreeMap<String, Vec<DatedRate>>,
}

/// Where the goods go and the merchant's position.
#[derive(Debug, Clone, Copy)]
pub struct VatSale<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub date: Date,
    /// The merchant's EU distance sales stayed under EUR 10,000 (a merchant setting): the home
    /// rate applies to other member states too.
    pub below_threshold: bool,
    /// What the channel reported (Amazon `reportingScheme`), when it did.
    pub reported: Option<Scheme>,
}

/// Where the sale is taxed, at which rate class, and under which scheme.
pub fn place_of_taxation(sale: &VatSale<'_>) -> Result<(&'static str, Scheme), TaxError> {
    let to = member(sale.to).ok_or(TaxError::UnknownCountry)?;
    let Some(from) = member(sale.from) else {
        // From outside the EU: an import, through the IOSS when the channel says so.
        return Ok((to, sale.reported.unwrap_or(Scheme::Ioss)));
    };
    if from == to {
        return Ok((to, Scheme::Domestic));
    }
    if sale.below_threshold && sale.reported != Some(Scheme::Oss) {
        return Ok((from, Scheme::Domestic));
    }
    Ok((to, Scheme::Oss))
}

/// The country a sale is taxed in, its rate for this class, and the scheme.
pub fn vat_rate(
    sale: &VatSale<'_>,
    class: Option<&VatClass>,
) -> Result<(&'static str, Rate, Scheme), TaxError> {
    let (country, scheme) = place_of_taxation(sale)?;
    let reduced = class
        .and_then(|c| c.reduced.get(country))
        .and_then(|rates| rate_on(rates, sale.date));
    let rate = match reduced {
        Some(rate) => rate,
        None => standard_rate(country, sale.date)?,
    };
    Ok((country, rate, scheme))
}

/// The VAT on `taxable` cents of one line (or the shipping).
pub fn vat_amount(
    taxable: i64,
    sale: &VatSale<'_>,
    class: Option<&VatClass>,
) -> Result<(TaxAmount, Scheme), TaxError> {
    let (country, rate, scheme) = vat_rate(sale, class)?;
    Ok((
        TaxAmount {
            component: Component::Vat,
            jurisdiction: country.to_owned(),
            rate: Some(rate),
            taxable,
            tax: rate.of(taxable),
        },
        scheme,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_shipped_rates_parse_and_cover_the_eu() {
        assert_eq!(standard_rates().len(), 27);
        for (country, rates) in standard_rates() {
            assert!(!rates.is_empty(), "{country}");
            assert!(
                rates.windows(2).all(|w| w[0].from < w[1].from),
                "{country} in date order"
            );
        }
    }

    #[test]
    fn destination_rates_follow_their_changes() {
        // (country, date, rate bp)
        let cases = [
            ("DE", date!(2026 - 01 - 15), 1_900),
            ("FI", date!(2024 - 08 - 31), 2_400),
            ("FI", date!(2024 - 09 - 01), 2_550),
            ("EE", date!(2025 - 06 - 30), 2_200),
            ("EE", date!(2025 - 07 - 01), 2_400),
            ("RO", date!(2025 - 07 - 31), 1_900),
            ("RO", date!(2025 - 08 - 01), 2_100),
            ("SK", date!(2025 - 01 - 01), 2_300),
            ("LU", date!(2023 - 06 - 01), 1_600),
            ("LU", date!(2024 - 06 - 01), 1_700),
            ("EL", date!(2026 - 01 - 01), 2_400),
        ];
        for (country, day, bp) in cases {
            assert_eq!(
                standard_rate(country, day).map(|r| r.bp()),
                Ok(bp),
                "{country} {day}"
            );
        }
        assert_eq!(
            standard_rate("US", date!(2026 - 01 - 01)),
            Err(TaxError::UnknownCountry)
        );
        assert_eq!(
            standard_rate("DE", date!(2021 - 06 - 30)),
            Err(TaxError::NoRateOnDate)
        );
    }

    #[test]
    fn where_a_sale_is_taxed() {
        let sale = |from, to, below, reported| VatSale {
            from,
            to,
            date: date!(2026 - 03 - 01),
            below_threshold: below,
            reported,
        };
        let cases = [
            (sale("DE", "DE", false, None), ("DE", Scheme::Domestic)),
            (sale("DE", "FR", false, None), ("FR", Scheme::Oss)),
            (sale("DE", "FR", true, None), ("DE", Scheme::Domestic)),
            (
                sale("DE", "FR", true, Some(Scheme::Oss)),
                ("FR", Scheme::Oss),
            ),
            (
                sale("GB", "FR", false, Some(Scheme::Ioss)),
                ("FR", Scheme::Ioss),
            ),
            (sale("CN", "IT", false, None), ("IT", Scheme::Ioss)),
        ];
        for (sale, expected) in cases {
            assert_eq!(
                place_of_taxation(&sale),
                Ok(expected),
                "{} → {}",
                sale.from,
                sale.to
            );
        }
        assert_eq!(
            place_of_taxation(&sale("DE", "US", false, None)),
            Err(TaxError::UnknownCountry)
        );
    }

    #[test]
    fn a_reduced_class_applies_where_it_has_a_rate() {
        let class = VatClass {
            reduced: BTreeMap::from([(
                "FR".to_owned(),
                vec![DatedRate {
                    from: date!(2021 - 07 - 01),
                    bp: 550,
                }],
            )]),
        };
        let sale = |to| VatSale {
            from: "DE",
            to,
            date: date!(2026 - 03 - 01),
            below_threshold: false,
            reported: None,
        };
        let (fr, _) = vat_amount(10_000, &sale("FR"), Some(&class)).expect("vat");
        assert_eq!((fr.rate.map(|r| r.bp()), fr.tax), (Some(550), 550));
        let (it, scheme) = vat_amount(10_000, &sale("IT"), Some(&class)).expect("vat");
        assert_eq!(
            (it.rate.map(|r| r.bp()), it.tax, scheme),
            (Some(2_200), 2_200, Scheme::Oss)
        );
    }
}
