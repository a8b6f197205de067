//! A merchant's tax class as the API carries it and the store keeps it: an id, the GST rules
//! (an HSN code, rates over time, optional unit-price ceilings, cess) and the VAT reduced rates
//! per member state over time. Parsed once into [`TaxClass`]; a class that could ever leave a
//! price without a rate, or give it two, is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::eu::{DatedRate, VatClass, is_member};
use crate::india::{GstClass, GstRule};
use crate::{Rate, TaxError};

/// The most rules a class may carry (per regime).
pub const MAX_CLASS_RULES: usize = 50;

/// A tax class's id: 1 to 40 of `a-z`, `0-9`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxClassId(String);

impl TaxClassId {
    pub fn parse(raw: &str) -> Result<Self, TaxError> {
        let ok = (1..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(TaxError::Invalid("class"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TaxClassId {
    type Error = TaxError;
    fn try_from(raw: String) -> Result<Self, TaxError> {
        Self::parse(&raw)
    }
}

impl From<TaxClassId> for String {
    fn from(id: TaxClassId) -> String {
        id.0
    }
}

/// One GST rule as sent: `{"effective_from": "2025-09-22", "rate_bp": 500,
/// "max_unit_price": 250000, "cess_bp": null}` (prices in paise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGstRule {
    pub effective_from: String,
    pub rate_bp: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unit_price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cess_bp: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGst {
    pub hsn: String,
    pub rules: Vec<RawGstRule>,
}

/// A reduced VAT rate from a date: `{"from": "2025-01-01", "rate_bp": 1000}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatedRate {
    pub from: String,
    pub rate_bp: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVat {
    /// Member state code → its reduced rates over time.
    pub reduced: BTreeMap<String, Vec<RawDatedRate>>,
}

/// A tax class as `PUT /v1/tax/classes/{id}` takes it and `GET` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaxClass {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gst: Option<RawGst>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat: Option<RawVat>,
}

/// A parsed tax class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxClass {
    pub gst: Option<GstClass>,
    pub vat: Option<VatClass>,
}

fn date(raw: &str, field: &'static str) -> Result<Date, TaxError> {
    Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| TaxError::Invalid(field))
}

fn rate(bp: u32, field: &'static str) -> Result<Rate, TaxError> {
    Rate::basis_points(bp).map_err(|_| TaxError::Invalid(field))
}

impl RawTaxClass {
    /// The class, or why not: bad dates or rates, a GST rate that does not halve into CGST and
    /// SGST, unknown member states, and overlapping rules (two for one price from one date, two
    /// VAT rates from one date).
    pub fn parse(&self) -> Result<TaxClass, TaxError> {
        if self.gst.is_none() && self.vat.is_none() {
            return Err(TaxError::Invalid("class"));
        }
        let gst = self.gst.as_ref().map(parse_gst).transpose()?;
        let vat = self.vat.as_ref().map(parse_vat).transpose()?;
        Ok(TaxClass { gst, vat })
    }
}

fn parse_gst(raw: &RawGst) -> Result<GstClass, TaxError> {
    if raw.rules.len() > MAX_CLASS_RULES {
        return Err(TaxError::Invalid("gst.rules"));
    }
    let rules = raw
        .rules
        .iter()
        .map(|r| {
            let rule = GstRule {
                effective_from: date(&r.effective_from, "gst.rules.effective_from")?,
                rate: rate(r.rate_bp, "gst.rules.rate_bp")?,
                max_unit_price: r.max_unit_price,
                cess: r
                    .cess_bp
                    .map(|bp| rate(bp, "gst.rules.cess_bp"))
                    .transpose()?,
            };
            if rule.rate.half().is_none() {
                // CGST and SGST are each half: the rate must halve in basis points.
                return Err(TaxError::Invalid("gst.rules.rate_bp"));
            }
            Ok(rule)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let class = GstClass {
        hsn: raw.hsn.clone(),
        rules,
    };
    class.check()?;
    Ok(class)
}

fn parse_vat(raw: &RawVat) -> Result<VatClass, TaxError> {
    let mut reduced = BTreeMap::new();
    for (country, rates) in &raw.reduced {
        if !is_member(country) {
            return Err(TaxError::UnknownCountry);
        }
        if rates.is_empty() || rates.len() > MAX_CLASS_RULES {
            return Err(TaxError::Invalid("vat.reduced"));
        }
        let mut parsed = rates
            .iter()
            .map(|r| {
                Ok(DatedRate {
                    from: date(&r.from, "vat.reduced.from")?,
                    bp: rate(r.rate_bp, "vat.reduced.rate_bp")?.bp(),
                })
            })
            .collect::<Result<Vec<_>, TaxError>>()?;
        parsed.sort_by_key(|r| r.from);
        if parsed.windows(2).any(|w| w[0].from == w[1].from) {
            return Err(TaxError::OverlappingRules);
        }
        reduced.insert(country.to_ascii_uppercase(), parsed);
    }
    Ok(VatClass { reduced })
}

/// The classes every merchant starts with (GST slabs, see [`crate::india::seed_classes`]), in
/// the API's form: a merchant's own class of the same id replaces one.
pub fn seed_raw_classes() -> BTreeMap<&'static str, RawTaxClass> {
    let iso = |d: Date| {
        d.format(time::macros::format_description!("[year]-[month]-[day]"))
            .unwrap_or_default()
    };
    crate::india::seed_classes()
        .into_iter()
        .map(|(id, class)| {
            let rules = class
                .rules
                .iter()
                .map(|r| RawGstRule {
                    effective_from: iso(r.effective_from),
                    rate_bp: r.rate.bp(),
                    max_unit_price: r.max_unit_price,
                    cess_bp: r.cess.map(|c| c.bp()),
                })
                .collect();
            (
                id,
                RawTaxClass {
                    gst: Some(RawGst {
                        hsn: class.hsn,
                        rules,
                    }),
                    vat: None,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<TaxClass, &'static str> {
        let raw: RawTaxClass = serde_json::from_str(json).map_err(|_| "malformed")?;
        raw.parse().map_err(|e| e.reason())
    }

    #[test]
    fn seeds_parse_back_to_themselves() {
        for (id, raw) in seed_raw_classes() {
            let class = raw.parse().expect("seed parses");
            assert_eq!(class.gst.as_ref(), crate::india::seed_classes().get(id));
        }
    }

    #[test]
    fn classes_parse_or_say_why() {
        let ok = r#"{"gst": {"hsn": "6109", "rules": [
            {"effective_from": "2025-09-22", "rate_bp": 500, "max_unit_price": 250000},
            {"effective_from": "2025-09-22", "rate_bp": 1800}]},
            "vat": {"reduced": {"DE": [{"from": "2007-01-01", "rate_bp": 700}]}}}"#;
        let class = parse(ok).expect("parses");
        assert_eq!(class.vat.expect("vat").reduced["DE"][0].bp, 700);
        let cases = [
            (r#"{}"#, "invalid_field"),
            (r#"{"gst": {"hsn": "61", "rules": []}}"#, "invalid_field"),
            (
                r#"{"gst": {"hsn": "6109", "rules": [{"effective_from": "2025-09-22", "rate_bp": 500}, {"effective_from": "2025-09-22", "rate_bp": 1800}]}}"#,
                "overlapping_rules",
            ),
            (
                r#"{"gst": {"hsn": "6109", "rules": [{"effective_from": "22/09/2025", "rate_bp": 500}]}}"#,
                "invalid_field",
            ),
            (
                r#"{"gst": {"hsn": "6109", "rules": [{"effective_from": "2025-09-22", "rate_bp": 25}]}}"#,
                "invalid_field",
            ),
            (
                r#"{"gst": {"hsn": "6109", "rules": [{"effective_from": "2025-09-22", "rate_bp": 20000}]}}"#,
                "invalid_field",
            ),
            (
                r#"{"vat": {"reduced": {"US": [{"from": "2020-01-01", "rate_bp": 700}]}}}"#,
                "unknown_country",
            ),
            (
                r#"{"vat": {"reduced": {"DE": [{"from": "2020-01-01", "rate_bp": 700}, {"from": "2020-01-01", "rate_bp": 500}]}}}"#,
                "overlapping_rules",
            ),
            (r#"{"gst": null, "extra": 1}"#, "malformed"),
        ];
        for (json, reason) in cases {
            assert_eq!(parse(json).err(), Some(reason), "{json}");
        }
        assert!(TaxClassId::parse("gst-18").is_ok());
        for bad in ["", "GST", "a/b", &"x".repeat(41)] {
            assert!(TaxClassId::parse(bad).is_err());
        }
    }
}
