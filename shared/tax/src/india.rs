//! India GST. Whether a supply is intra- or inter-state is decided by the supplier's location —
//! the shipping warehouse's state — against the place of supply, where the goods' movement ends:
//! the ship-to state (IGST Act s.10(1)(a)). Intra-state: CGST + SGST (UTGST in a union territory
//! without a legislature), each half of the rate; inter-state: IGST at the whole rate. Shopify
//! keys its defaults to the store's state and cannot split per warehouse, which is why this is
//! computed here.
//!
//! Rates come from the merchant's tax classes: per class (an HSN code), rules with an
//! `effective_from` date and an optional unit-price ceiling (apparel and footwear up to ₹2,500 a
//! piece are 5 %, above 18 %, since 22 September 2025), so an older order is taxed at the rates
//! of its day. Amounts in paise, half up per line per component.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{Component, Rate, TaxAmount, TaxError};

/// How a state or territory levies the intra-state half of GST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateLevy {
    /// A state, or a union territory with a legislature (Delhi, Puducherry, Jammu and Kashmir).
    Sgst,
    /// A union territory without a legislature.
    Utgst,
}

/// ISO 3166-2:IN subdivision codes (without `IN-`), with the older codes still in use by
/// channels mapped to the current one.
const STATES: [(&str, &str, StateLevy); 43] = [
    ("AN", "AN", StateLevy::Utgst),
    ("AP", "AP", StateLevy::Sgst),
    ("AR", "AR", StateLevy::Sgst),
    ("AS", "AS", StateLevy::Sgst),
    ("BR", "BR", StateLevy::Sgst),
    ("CH", "CH", StateLevy::Utgst),
    ("CT", "CT", StateLevy::Sgst),
    ("CG", "CT", StateLevy::Sgst),
    ("DH", "DH", StateLevy::Utgst),
    ("DN", "DH", StateLevy::Utgst),
    ("DD", "DH", StateLevy::Utgst),
    ("DL", "DL", StateLevy::Sgst),
    ("GA", "GA", StateLevy::Sgst),
    ("GJ", "GJ", StateLevy::Sgst),
    ("HR", "HR", StateLevy::Sgst),
    ("HP", "HP", StateLevy::Sgst),
    ("JK", "JK", StateLevy::Sgst),
    ("JH", "JH", StateLevy::Sgst),
    ("KA", "KA", StateLevy::Sgst),
    ("KL", "KL", StateLevy::Sgst),
    ("LA", "LA", StateLevy::Utgst),
    ("LD", "LD", StateLevy::Utgst),
    ("MP", "MP", StateLevy::Sgst),
    ("MH", "MH", StateLevy::Sgst),
    ("MN", "MN", StateLevy::Sgst),
    ("ML", "ML", StateLevy::Sgst),
    ("MZ", "MZ", StateLevy::Sgst),
    ("NL", "NL", StateLevy::Sgst),
    ("OD", "OD", StateLevy::Sgst),
    ("OR", "OD", StateLevy::Sgst),
    ("PY", "PY", StateLevy::Sgst),
    ("PB", "PB", StateLevy::Sgst),
    ("RJ", "RJ", StateLevy::Sgst),
    ("SK", "SK", StateLevy::Sgst),
    ("TN", "TN", StateLevy::Sgst),
    ("TG", "TG", StateLevy::Sgst),
    ("TS", "TG", StateLevy::Sgst),
    ("TR", "TR", StateLevy::Sgst),
    ("UP", "UP", StateLevy::Sgst),
    ("UT", "UT", StateLevy::Sgst),
    ("UK", "UT", StateLevy::Sgst),
    ("WB", "WB", StateLevy::Sgst),
    ("PD", "PY", StateLevy::Sgst),
];

/// The states' and territories' names as Amazon.in and others send them in `stateOrRegion`
/// (compared without case, spaces, `&` or `and`), to their code.
const NAMES: [(&str, &str); 41] = [
    ("ANDAMANNICOBARISLANDS", "AN"),
    ("ANDHRAPRADESH", "AP"),
    ("ARUNACHALPRADESH", "AR"),
    ("ASSAM", "AS"),
    ("BIHAR", "BR"),
    ("CHANDIGARH", "CH"),
    ("CHHATTISGARH", "CT"),
    ("DADRANAGARHAVELIDAMANDIU", "DH"),
    ("DADRANAGARHAVELI", "DH"),
    ("DAMANDIU", "DH"),
    ("DELHI", "DL"),
    ("NEWDELHI", "DL"),
    ("NCTOFDELHI", "DL"),
    ("GOA", "GA"),
    ("GUJARAT", "GJ"),
    ("HARYANA", "HR"),
    ("HIMACHALPRADESH", "HP"),
    ("JAMMUKASHMIR", "JK"),
    ("JHARKHAND", "JH"),
    ("KARNATAKA", "KA"),
    ("KERALA", "KL"),
    ("LADAKH", "LA"),
    ("LAKSHADWEEP", "LD"),
    ("MADHYAPRADESH", "MP"),
    ("MAHARASHTRA", "MH"),
    ("MANIPUR", "MN"),
    ("MEGHALAYA", "ML"),
    ("MIZORAM", "MZ"),
    ("NAGALAND", "NL"),
    ("ODISHA", "OD"),
    ("ORISSA", "OD"),
    ("PUDUCHERRY", "PY"),
    ("PONDICHERRY", "PY"),
    ("PUNJAB", "PB"),
    ("RAJASTHAN", "RJ"),
    ("SIKKIM", "SK"),
    ("TAMILNADU", "TN"),
    ("TELANGANA", "TG"),
    ("TRIPURA", "TR"),
    ("UTTARPRADESH", "UP"),
    ("UTTARAKHAND", "UT"),
];

/// A state or union territory of India.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndianState {
    pub code: &'static str,
    pub levy: StateLevy,
}

impl IndianState {
    /// A state code as channels send it (`MH`, `IN-MH`, `TS`, any case).
    pub fn parse(raw: &str) -> Result<Self, TaxError> {
        let raw = raw.trim().to_ascii_uppercase();
        let mut code = raw.strip_prefix("IN-").unwrap_or(&raw);
        if code.len() > 2 {
            // A name: "Tamil Nadu", "JAMMU & KASHMIR", "Andaman and Nicobar Islands".
            let squeezed: String = code
                .replace(" AND ", " ")
                .chars()
                .filter(char::is_ascii_alphabetic)
                .collect();
            code = NAMES
                .iter()
                .find(|(name, _)| *name == squeezed)
                .map_or(code, |(_, code)| code);
        }
        STATES
            .iter()
            .find(|(alias, ..)| *alias == code)
            .map(|(_, code, levy)| IndianState { code, levy: *levy })
            .ok_or(TaxError::UnknownState)
    }

    pub fn jurisdiction(&self) -> String {
        format!("IN-{}", self.code)
    }
}

/// One rate rule of a tax class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GstRule {
    pub effective_from: Date,
    pub rate: Rate,
    /// The rule applies to units priced at most this much (paise); `None`: any price.
    pub max_unit_price: Option<i64>,
    /// Compensation cess on top, if any.
    pub cess: Option<Rate>,
}

/// A merchant's GST tax class: an HSN code and its rules over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GstClass {
    pub hsn: String,
    pub rules: Vec<GstRule>,
}

impl GstClass {
    /// Checks the rules: an HSN code of 2 to 8 digits, at least one rule, and per effective date
    /// distinct price ceilings with exactly one rule for any price (so every price has a rate).
    pub fn check(&self) -> Result<(), TaxError> {
        let hsn_ok =
            (2..=8).contains(&self.hsn.len()) && self.hsn.bytes().all(|b| b.is_ascii_digit());
        if !hsn_ok {
            return Err(TaxError::Invalid("hsn"));
        }
        if self.rules.is_empty() {
            return Err(TaxError::Invalid("rules"));
        }
        let mut by_date: BTreeMap<Date, Vec<Option<i64>>> = BTreeMap::new();
        for rule in &self.rules {
            if rule.max_unit_price.is_some_and(|p| p <= 0) {
                return Err(TaxError::Invalid("rules.max_unit_price"));
            }
            by_date
                .entry(rule.effective_from)
                .or_default()
                .push(rule.max_unit_price);
        }
        for ceilings in by_date.values() {
            let mut sorted = ceilings.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != ceilings.len() {
                return Err(TaxError::OverlappingRules);
            }
            if ceilings.iter().filter(|c| c.is_none()).count() != 1 {
                return Err(TaxError::Invalid("rules.max_unit_price"));
            }
        }
        Ok(())
    }

    /// The rule for a unit priced `unit_price` (paise) sold on `date`: the latest effective
    /// date not after `date`, then the lowest ceiling the price fits under.
    pub fn rule_for(&self, date: Date, unit_price: i64) -> Result<&GstRule, TaxError> {
        let day = self
            .rules
            .iter()
            .filter(|r| r.effective_from <= date)
            .map(|r| r.effective_from)
            .max()
            .ok_or(TaxError::NoRateOnDate)?;
        let mut candidates: Vec<&GstRule> = self
            .rules
            .iter()
            .filter(|r| r.effective_from == day)
            .filter(|r| r.max_unit_price.is_none_or(|max| unit_price <= max))
            .collect();
        candidates.sort_by_key(|r| r.max_unit_price.unwrap_or(i64::MAX));
        candidates.first().copied().ok_or(TaxError::NoRateOnDate)
    }
}

/// The date the 56th GST Council's two-slab structure (5 %, 18 %, and 40 % for luxury and
/// demerit goods) took effect, replacing 12 % and 28 % (notified 17 September 2025).
pub fn slabs_2025() -> Date {
    time::macros::date!(2025 - 09 - 22)
}

/// Tax classes to start from, for the merchant to assign and adjust (HSN codes illustrate):
/// `gst-5`, `gst-18`, `gst-40` (from 22 September 2025; 12 % and 28 % before, for older
/// orders) and `apparel` (≤ ₹1,000 a piece 5 %, above 12 %, until 21 September 2025; then
/// ≤ ₹2,500 5 %, above 18 %).
pub fn seed_classes() -> BTreeMap<&'static str, GstClass> {
    let before = time::macros::date!(2017 - 07 - 01);
    let rule = |from, bp, max| GstRule {
        effective_from: from,
        rate: Rate::known(bp),
        max_unit_price: max,
        cess: None,
    };
    let class = |hsn: &str, rules| GstClass {
        hsn: hsn.to_owned(),
        rules,
    };
    BTreeMap::from([
        (
            "gst-5",
            class(
                "1905",
                vec![rule(before, 1_800, None), rule(slabs_2025(), 500, None)],
            ),
        ),
        (
            "gst-18",
            class(
                "8517",
                vec![rule(before, 1_800, None), rule(slabs_2025(), 1_800, None)],
            ),
        ),
        (
            "gst-40",
            class(
                "8703",
                vec![rule(before, 2_800, None), rule(slabs_2025(), 4_000, None)],
            ),
        ),
        (
            "apparel",
            class(
                "6109",
                vec![
                    rule(before, 500, Some(100_000)),
                    rule(before, 1_200, None),
                    rule(slabs_2025(), 500, Some(250_000)),
                    rule(slabs_2025(), 1_800, None),
                ],
            ),
        ),
    ])
}

/// The GST on one line (or the shipping): `taxable` paise at `rule`, supplied from `from` to
/// `to`. Intra-state: CGST and SGST/UTGST, each at half the rate on the taxable value; inter-
/// state: IGST at the whole rate; cess on top when the rule has one.
pub fn gst_amounts(
    taxable: i64,
    rule: &GstRule,
    from: IndianState,
    to: IndianState,
) -> Result<Vec<TaxAmount>, TaxError> {
    let jurisdiction = to.jurisdiction();
    let amount = |component, rate: Rate| TaxAmount {
        component,
        jurisdiction: jurisdiction.clone(),
        rate: Some(rate),
        taxable,
        tax: rate.of(taxable),
    };
    let mut amounts = if from.code == to.code {
        let half = rule.rate.half().ok_or(TaxError::Invalid("rules.rate"))?;
        let state = match to.levy {
            StateLevy::Sgst => Component::Sgst,
            StateLevy::Utgst => Component::Utgst,
        };
        vec![amount(Component::Cgst, half), amount(state, half)]
    } else {
        vec![amount(Component::Igst, rule.rate)]
    };
    if let Some(cess) = rule.cess {
        amounts.push(amount(Component::Cess, cess));
    }
    Ok(amounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn state(code: &str) -> IndianState {
        IndianState::parse(code).expect("state")
    }

    #[test]
    fn states_parse_with_their_old_codes_and_levies() {
        assert_eq!(state("IN-mh").code, "MH");
        assert_eq!(state("TS").code, "TG");
        assert_eq!(state("OR").code, "OD");
        assert_eq!(
            state("CH").levy,
            StateLevy::Utgst,
            "Chandigarh: no legislature"
        );
        assert_eq!(state("DL").levy, StateLevy::Sgst, "Delhi has a legislature");
        assert_eq!(state("LA").levy, StateLevy::Utgst);
        for (name, code) in [
            ("MAHARASHTRA", "MH"),
            ("Tamil Nadu", "TN"),
            ("Jammu & Kashmir", "JK"),
            ("Andaman and Nicobar Islands", "AN"),
            ("Orissa", "OD"),
            ("Dadra and Nagar Haveli and Daman and Diu", "DH"),
        ] {
            assert_eq!(IndianState::parse(name).map(|s| s.code), Ok(code), "{name}");
        }
        assert_eq!(IndianState::parse("Atlantis"), Err(TaxError::UnknownState));
        assert_eq!(IndianState::parse("XX"), Err(TaxError::UnknownState));
        assert_eq!(IndianState::parse(""), Err(TaxError::UnknownState));
    }

    #[test]
    fn rules_by_date_and_price() {
        let classes = seed_classes();
        let apparel = &classes["apparel"];
        apparel.check().expect("valid");
        // (date, unit price in paise, rate bp)
        let cases = [
            (date!(2025 - 09 - 21), 150_000, 1_200), // ₹1,500 before: 12 %
            (date!(2025 - 09 - 21), 90_000, 500),    // ₹900 before: 5 %
            (date!(2025 - 09 - 22), 150_000, 500),   // ₹1,500 from the change: 5 %
            (date!(2025 - 09 - 22), 250_000, 500),   // ₹2,500 exactly: 5 %
            (date!(2025 - 09 - 22), 250_001, 1_800), // a paisa more: 18 %
        ];
        for (day, price, bp) in cases {
            let rule = apparel.rule_for(day, price).expect("rule");
            assert_eq!(rule.rate.bp(), bp, "{day} at {price}");
        }
        assert_eq!(
            apparel.rule_for(date!(2017 - 06 - 30), 1).err(),
            Some(TaxError::NoRateOnDate)
        );
        for class in classes.values() {
            class.check().expect("seeded classes are valid");
        }
    }

    #[test]
    fn bad_classes_are_refused_by_reason() {
        let rule = |max| GstRule {
            effective_from: slabs_2025(),
            rate: Rate::basis_points(500).expect("rate"),
            max_unit_price: max,
            cess: None,
        };
        let cases = [
            (
                GstClass {
                    hsn: "61a9".into(),
                    rules: vec![rule(None)],
                },
                TaxError::Invalid("hsn"),
            ),
            (
                GstClass {
                    hsn: "6109".into(),
                    rules: vec![],
                },
                TaxError::Invalid("rules"),
            ),
            (
                GstClass {
                    hsn: "6109".into(),
                    rules: vec![rule(None), rule(None)],
                },
                TaxError::OverlappingRules,
            ),
            (
                GstClass {
                    hsn: "6109".into(),
                    rules: vec![rule(Some(100))],
                },
                TaxError::Invalid("rules.max_unit_price"),
            ),
            (
                GstClass {
                    hsn: "6109".into(),
                    rules: vec![rule(Some(-1)), rule(None)],
                },
                TaxError::Invalid("rules.max_unit_price"),
            ),
        ];
        for (class, error) in cases {
            assert_eq!(class.check(), Err(error));
        }
    }

    #[test]
    fn intra_state_splits_inter_state_integrates() {
        let rule = GstRule {
            effective_from: slabs_2025(),
            rate: Rate::basis_points(1_800).expect("rate"),
            max_unit_price: None,
            cess: None,
        };
        // ₹1,000.50 taxable within Maharashtra: 9 % + 9 % = 90.045 → 90.05 each.
        let intra = gst_amounts(100_050, &rule, state("MH"), state("MH")).expect("gst");
        let components: Vec<(Component, i64)> =
            intra.iter().map(|a| (a.component, a.tax)).collect();
        assert_eq!(
            components,
            vec![(Component::Cgst, 9_005), (Component::Sgst, 9_005)]
        );
        // From Maharashtra to Karnataka: IGST 18 % = 180.09.
        let inter = gst_amounts(100_050, &rule, state("MH"), state("KA")).expect("gst");
        assert_eq!(inter.len(), 1);
        assert_eq!(
            (inter[0].component, inter[0].tax),
            (Component::Igst, 18_009)
        );
        assert_eq!(inter[0].jurisdiction, "IN-KA", "the place of supply");
        // Within Chandigarh (no legislature): UTGST.
        let ut = gst_amounts(10_000, &rule, state("CH"), state("CH")).expect("gst");
        assert_eq!(ut[1].component, Component::Utgst);
    }
}
