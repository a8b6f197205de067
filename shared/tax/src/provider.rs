//! The provider port: one trait, a strategy per regime (in the spirit of Medusa's tax providers
//! and Saleor's per-country strategies), chosen by where the goods go:
//!
//! | from → to | provider | the record |
//! | --- | --- | --- |
//! | India → India | [`IndiaGst`] | computed: CGST + SGST/UTGST or IGST per line, merchant liable |
//! | anywhere → an EU member | [`EuVat`] | computed: VAT at the place of taxation, OSS / IOSS / domestic |
//! | anything else (the US: marketplace-facilitator states) | [`ChannelRecorded`] | the channel's own tax lines as charged, and who owes them |
//!
//! Computed records are compared with what the channel charged: a difference is flagged
//! (`tax_differs_from_channel`), never silently overwritten.

use rc_domain::Currency;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::eu::{VatClass, VatSale, is_member, vat_rate};
use crate::india::{GstClass, IndianState, gst_amounts};
use crate::{Liable, LineTax, Rate, Scheme, Source, TaxAmount, TaxError, TaxRecord};

/// A country, and its state or region where it matters (`IN`/`MH`, `US`/`CA`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub country: String,
    pub region: Option<String>,
}

impl Place {
    /// `IN-MH`, `DE`: the country, and its region where there is one.
    pub fn jurisdiction(&self) -> String {
        match &self.region {
            Some(region) => format!("{}-{region}", self.country),
            None => self.country.clone(),
        }
    }
}

/// One order line as tax sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    pub quantity: u32,
    /// One unit's price, in minor units (tax included when the order's prices include it).
    pub unit_price: i64,
    /// The line's discount, in minor units.
    pub discount: i64,
    pub gst: Option<GstClass>,
    pub vat: Option<VatClass>,
    /// The warehouse this line ships from, when it is not the order's (a split order).
    pub from: Option<Place>,
}

/// What the channel charged, as its order says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelTax {
    pub lines: Vec<LineTax>,
    /// The marketplace collects and remits (Amazon's `MARKETPLACE_FACILITATOR` model).
    pub marketplace_facilitator: bool,
}

/// Everything a provider needs; no PII (places are codes).
#[derive(Debug, Clone)]
pub struct TaxInput {
    pub currency: Currency,
    pub date: Date,
    pub prices_include_tax: bool,
    pub lines: Vec<LineInput>,
    /// The shipping charged, in minor units.
    pub shipping: i64,
    /// The shipping warehouse.
    pub from: Place,
    pub to: Place,
    /// The merchant's EU distance sales are under EUR 10,000 this year (a merchant setting).
    pub below_eu_threshold: bool,
    /// The scheme the channel reported (Amazon `reportingScheme`), if any.
    pub reported_scheme: Option<Scheme>,
    pub channel: Option<ChannelTax>,
}

pub trait TaxProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn compute(&self, input: &TaxInput) -> Result<TaxRecord, TaxError>;
}

/// India GST, computed.
pub struct IndiaGst;
/// EU VAT, computed.
pub struct EuVat;
/// The channel's own tax, recorded as charged.
pub struct ChannelRecorded;

/// The provider for an order going from `from` to `to`.
pub fn provider_for(input: &TaxInput) -> &'static dyn TaxProvider {
    let country = |p: &Place| p.country.trim().to_ascii_uppercase();
    if country(&input.from) == "IN" && country(&input.to) == "IN" {
        &IndiaGst
    } else if is_member(&input.to.country) {
        &EuVat
    } else {
        &ChannelRecorded
    }
}

/// A line's value: the price times the quantity less the discount, in minor units (tax
/// included when the order's prices include it). Checked before anything uses it: no
/// negative price or discount, no empty line, no overflow.
fn gross(line: &LineInput) -> Result<i64, TaxError> {
    if line.unit_price < 0 || line.discount < 0 {
        return Err(TaxError::Negative);
    }
    if line.quantity == 0 {
        return Err(TaxError::Invalid("quantity"));
    }
    line.unit_price
        .checked_mul(i64::from(line.quantity))
        .and_then(|g| g.checked_sub(line.discount))
        .filter(|g| *g >= 0)
        .ok_or(TaxError::Negative)
}

/// The taxable value of `gross`: itself, or with the tax at `rate` taken out when prices
/// include it.
fn taxable_of(gross: i64, includes_tax: bool, rate: Rate) -> i64 {
    if includes_tax {
        gross - rate.included_in(gross)
    } else {
        gross
    }
}

/// The unit price a price-ceiling rule compares: the line's value per unit after discount.
fn unit_value(gross: i64, quantity: u32) -> i64 {
    crate::rate::round_half_up(i128::from(gross), i128::from(quantity.max(1)))
}

/// Flags a computed record whose tax differs from what the channel charged (by more than one
/// minor unit per line: rounding).
fn compare_with_channel(record: &mut TaxRecord, channel: Option<&ChannelTax>) {
    let Some(channel) = channel else { return };
    let charged: i64 = channel.lines.iter().map(LineTax::tax).sum();
    let tolerance = i64::try_from(record.lines.len()).unwrap_or(i64::MAX);
    if (record.total() - charged).abs() > tolerance {
        record.flags.push("tax_differs_from_channel".to_owned());
    }
}

impl TaxProvider for IndiaGst {
    fn name(&self) -> &'static str {
        "india_gst"
    }

    fn compute(&self, input: &TaxInput) -> Result<TaxRecord, TaxError> {
        if input.currency.code() != "INR" {
            return Err(TaxError::CurrencyMismatch);
        }
        let region = |p: &Place| IndianState::parse(p.region.as_deref().unwrap_or_default());
        let to = region(&input.to)?;
        let mut lines = Vec::with_capacity(input.lines.len() + 1);
        // The principal supply (the line of highest value) lends shipping its rate and origin.
        let mut principal: Option<(i64, crate::india::GstRule, IndianState)> = None;
        for (index, line) in input.lines.iter().enumerate() {
            let from = line.from.as_ref().unwrap_or(&input.from);
            if !from.country.trim().eq_ignore_ascii_case("IN") {
                return Err(TaxError::UnknownState);
            }
            let from = region(from)?;
            let class = line.gst.as_ref().ok_or(TaxError::NoTaxClass)?;
            class.check()?;
            let gross = gross(line)?;
            let rule = class
                .rule_for(input.date, unit_value(gross, line.quantity))?
                .clone();
            let taxable = taxable_of(gross, input.prices_include_tax, rule.rate);
            if principal
                .as_ref()
                .is_none_or(|(value, ..)| taxable > *value)
            {
                principal = Some((taxable, rule.clone(), from));
            }
            lines.push(LineTax {
                line: Some(index),
                amounts: gst_amounts(taxable, &rule, from, to)?,
            });
        }
        if input.shipping > 0
            && let Some((_, rule, from)) = &principal
        {
            let taxable = taxable_of(input.shipping, input.prices_include_tax, rule.rate);
            lines.push(LineTax {
                line: None,
                amounts: gst_amounts(taxable, rule, *from, to)?,
            });
        }
        let mut record = TaxRecord {
            currency: "INR".to_owned(),
            source: Source::Computed,
            scheme: Scheme::Domestic,
            liable: Liable::Merchant,
            lines,
            flags: Vec::new(),
        };
        compare_with_channel(&mut record, input.channel.as_ref());
        Ok(record)
    }
}

/// Currencies EU B2C prices come in: the euro and the member states' own.
const EU_CURRENCIES: [&str; 8] = ["EUR", "BGN", "CZK", "DKK", "HUF", "PLN", "RON", "SEK"];

impl TaxProvider for EuVat {
    fn name(&self) -> &'static str {
        "eu_vat"
    }

    fn compute(&self, input: &TaxInput) -> Result<TaxRecord, TaxError> {
        if !EU_CURRENCIES.contains(&input.currency.code()) {
            return Err(TaxError::CurrencyMismatch);
        }
        fn sale_from<'a>(input: &'a TaxInput, from: &'a Place) -> VatSale<'a> {
            VatSale {
                from: &from.country,
                to: &input.to.country,
                date: input.date,
                below_threshold: input.below_eu_threshold,
                reported: input.reported_scheme,
            }
        }
        let mut lines = Vec::with_capacity(input.lines.len() + 1);
        let mut scheme = Scheme::Domestic;
        let mut principal: Option<(i64, &'static str, Rate)> = None;
        let vat = |country: &str, rate: Rate, taxable: i64| TaxAmount {
            component: crate::Component::Vat,
            jurisdiction: country.to_owned(),
            rate: Some(rate),
            taxable,
            tax: rate.of(taxable),
        };
        for (index, line) in input.lines.iter().enumerate() {
            let sale = sale_from(input, line.from.as_ref().unwrap_or(&input.from));
            let (country, rate, found) = vat_rate(&sale, line.vat.as_ref())?;
            scheme = found;
            let taxable = taxable_of(gross(line)?, input.prices_include_tax, rate);
            if principal
                .as_ref()
                .is_none_or(|(value, ..)| taxable > *value)
            {
                principal = Some((taxable, country, rate));
            }
            lines.push(LineTax {
                line: Some(index),
                amounts: vec![vat(country, rate, taxable)],
            });
        }
        // Shipping at the rate of the principal supply (its line of highest value).
        if input.shipping > 0
            && let Some((_, country, rate)) = principal
        {
            let taxable = taxable_of(input.shipping, input.prices_include_tax, rate);
            lines.push(LineTax {
                line: None,
                amounts: vec![vat(country, rate, taxable)],
            });
        }
        let marketplace = input
            .channel
            .as_ref()
            .is_some_and(|c| c.marketplace_facilitator);
        let mut record = TaxRecord {
            currency: input.currency.code().to_owned(),
            source: Source::Computed,
            scheme,
            liable: if marketplace {
                Liable::Marketplace
            } else {
                Liable::Merchant
            },
            lines,
            flags: Vec::new(),
        };
        compare_with_channel(&mut record, input.channel.as_ref());
        Ok(record)
    }
}

impl TaxProvider for ChannelRecorded {
    fn name(&self) -> &'static str {
        "channel"
    }

    fn compute(&self, input: &TaxInput) -> Result<TaxRecord, TaxError> {
        let channel = input.channel.clone().unwrap_or_default();
        let charged = channel.lines.iter().any(|l| l.tax() != 0);
        let (scheme, liable) = match (channel.marketplace_facilitator, charged) {
            (true, _) => (Scheme::MarketplaceFacilitator, Liable::Marketplace),
            (false, true) => (Scheme::Domestic, Liable::Merchant),
            (false, false) => (Scheme::None, Liable::Merchant),
        };
        let mut flags = Vec::new();
        if !charged {
            // Zero is what the channel said, not a computation: visible as such.
            flags.push("no_tax_charged".to_owned());
        }
        Ok(TaxRecord {
            currency: input.currency.code().to_owned(),
            source: Source::Channel,
            scheme,
            liable,
            lines: channel.lines,
            flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Component;
    use proptest::prelude::*;
    use time::macros::date;

    fn place(country: &str, region: Option<&str>) -> Place {
        Place {
            country: country.into(),
            region: region.map(str::to_owned),
        }
    }

    fn class(name: &str) -> GstClass {
        crate::india::seed_classes()[name].clone()
    }

    fn line(quantity: u32, unit_price: i64, discount: i64, gst: Option<&str>) -> LineInput {
        LineInput {
            quantity,
            unit_price,
            discount,
            gst: gst.map(class),
            vat: None,
            from: None,
        }
    }

    fn input(currency: &str, from: Place, to: Place, lines: Vec<LineInput>) -> TaxInput {
        TaxInput {
            currency: Currency::parse(currency).expect("currency"),
            date: date!(2026 - 02 - 01),
            prices_include_tax: false,
            lines,
            shipping: 0,
            from,
            to,
            below_eu_threshold: false,
            reported_scheme: None,
            channel: None,
        }
    }

    /// (component, jurisdiction, rate bp, taxable, tax) of every amount, lines in order.
    fn amounts(record: &TaxRecord) -> Vec<(Component, String, u32, i64, i64)> {
        record
            .lines
            .iter()
            .flat_map(|l| l.amounts.iter())
            .map(|a| {
                (
                    a.component,
                    a.jurisdiction.clone(),
                    a.rate.map_or(0, |r| r.bp()),
                    a.taxable,
                    a.tax,
                )
            })
            .collect()
    }

    fn compute(input: &TaxInput) -> Result<TaxRecord, TaxError> {
        provider_for(input).compute(input)
    }

    #[test]
    fn india_worked_examples() {
        let mh = || place("IN", Some("MH"));
        // Two phones at ₹500 less ₹100 within Maharashtra, ₹50 shipping: 18 % split 9 + 9.
        let mut intra = input(
            "INR",
            mh(),
            mh(),
            vec![line(2, 50_000, 10_000, Some("gst-18"))],
        );
        intra.shipping = 5_000;
        let record = compute(&intra).expect("gst");
        assert_eq!(
            amounts(&record),
            vec![
                (Component::Cgst, "IN-MH".into(), 900, 90_000, 8_100),
                (Component::Sgst, "IN-MH".into(), 900, 90_000, 8_100),
                (Component::Cgst, "IN-MH".into(), 900, 5_000, 450),
                (Component::Sgst, "IN-MH".into(), 900, 5_000, 450),
            ]
        );
        assert_eq!(
            (record.scheme, record.liable),
            (Scheme::Domestic, Liable::Merchant)
        );
        assert_eq!(record.lines[1].line, None, "the shipping");

        // A ₹1,180 T-shirt, tax included, from Maharashtra to Karnataka: 5 % IGST inside.
        let mut inter = input(
            "INR",
            mh(),
            place("IN", Some("KA")),
            vec![line(1, 118_000, 0, Some("apparel"))],
        );
        inter.prices_include_tax = true;
        let record = compute(&inter).expect("gst");
        assert_eq!(
            amounts(&record),
            vec![(Component::Igst, "IN-KA".into(), 500, 112_381, 5_619)]
        );
        // ₹3,000 a piece is over the ₹2,500 ceiling: 18 %.
        let dear = input(
            "INR",
            mh(),
            place("IN", Some("KA")),
            vec![line(2, 300_000, 0, Some("apparel"))],
        );
        assert_eq!(amounts(&compute(&dear).expect("gst"))[0].2, 1_800);
        // A discount that brings a piece under the ceiling counts.
        let discounted = input(
            "INR",
            mh(),
            place("IN", Some("KA")),
            vec![line(2, 300_000, 120_000, Some("apparel"))],
        );
        assert_eq!(amounts(&compute(&discounted).expect("gst"))[0].2, 500);

        // Across 22 September 2025: 28 % the day before, 40 % from the day.
        let mut before = input(
            "INR",
            mh(),
            place("IN", Some("DL")),
            vec![line(1, 100_000, 0, Some("gst-40"))],
        );
        before.date = date!(2025 - 09 - 21);
        assert_eq!(amounts(&compute(&before).expect("gst"))[0].2, 2_800);
        before.date = date!(2025 - 09 - 22);
        assert_eq!(amounts(&compute(&before).expect("gst"))[0].4, 40_000);

        // Within Chandigarh: CGST + UTGST.
        let ch = || place("IN", Some("CH"));
        let ut = input("INR", ch(), ch(), vec![line(1, 10_000, 0, Some("gst-5"))]);
        let components: Vec<Component> = amounts(&compute(&ut).expect("gst"))
            .iter()
            .map(|a| a.0)
            .collect();
        assert_eq!(components, vec![Component::Cgst, Component::Utgst]);
    }

    #[test]
    fn a_split_order_is_taxed_per_origin() {
        // To Karnataka: one line from Bengaluru (intra-state), one from Mumbai (inter-state);
        // the shipping follows the line of highest value (Mumbai's).
        let mut order = input(
            "INR",
            place("IN", Some("MH")),
            place("IN", Some("KA")),
            vec![
                line(1, 10_000, 0, Some("gst-18")),
                line(1, 50_000, 0, Some("gst-18")),
            ],
        );
        order.lines[0].from = Some(place("IN", Some("KA")));
        order.shipping = 1_000;
        let components: Vec<(Option<usize>, Component)> = compute(&order)
            .expect("gst")
            .lines
            .iter()
            .flat_map(|l| l.amounts.iter().map(move |a| (l.line, a.component)))
            .collect();
        assert_eq!(
            components,
            vec![
                (Some(0), Component::Cgst),
                (Some(0), Component::Sgst),
                (Some(1), Component::Igst),
                (None, Component::Igst),
            ]
        );
        // A line shipped from outside India cannot be under GST.
        order.lines[0].from = Some(place("DE", None));
        assert_eq!(
            compute(&order).map_err(|e| e.reason()).err(),
            Some("unknown_state")
        );
    }

    /// Every slab, within a state and across states: ₹1,000.00 a unit, two units, ₹100 off.
    #[test]
    fn every_slab_intra_and_inter_state() {
        let cases = [
            // (class, rate bp on 2026-02-01, to)
            ("gst-5", 500),
            ("gst-18", 1_800),
            ("gst-40", 4_000),
            ("apparel", 500),
        ];
        for (class, rate) in cases {
            let taxable = 190_000;
            let whole = crate::Rate::basis_points(rate).expect("rate").of(taxable);
            let half = crate::Rate::basis_points(rate / 2)
                .expect("rate")
                .of(taxable);
            let intra = input(
                "INR",
                place("IN", Some("GJ")),
                place("IN", Some("GJ")),
                vec![line(2, 100_000, 10_000, Some(class))],
            );
            assert_eq!(
                amounts(&compute(&intra).expect("gst")),
                vec![
                    (Component::Cgst, "IN-GJ".into(), rate / 2, taxable, half),
                    (Component::Sgst, "IN-GJ".into(), rate / 2, taxable, half),
                ],
                "{class}"
            );
            let inter = input(
                "INR",
                place("IN", Some("GJ")),
                place("IN", Some("RJ")),
                vec![line(2, 100_000, 10_000, Some(class))],
            );
            assert_eq!(
                amounts(&compute(&inter).expect("gst")),
                vec![(Component::Igst, "IN-RJ".into(), rate, taxable, whole)],
                "{class}"
            );
        }
    }

    #[test]
    fn eu_worked_examples() {
        // From Germany to France, EUR 100.00 net: French VAT 20 % through the OSS.
        let sale = input(
            "EUR",
            place("DE", None),
            place("FR", None),
            vec![line(1, 10_000, 0, None)],
        );
        let record = compute(&sale).expect("vat");
        assert_eq!(
            amounts(&record),
            vec![(Component::Vat, "FR".into(), 2_000, 10_000, 2_000)]
        );
        assert_eq!(record.scheme, Scheme::Oss);
        // Finland's rate change, prices including VAT (EUR 125.50): 24 % the day before.
        let mut fi = input(
            "EUR",
            place("DE", None),
            place("FI", None),
            vec![line(1, 12_550, 0, None)],
        );
        fi.prices_include_tax = true;
        fi.date = date!(2024 - 09 - 01);
        assert_eq!(
            amounts(&compute(&fi).expect("vat")),
            vec![(Component::Vat, "FI".into(), 2_550, 10_000, 2_550)]
        );
        fi.date = date!(2024 - 08 - 31);
        assert_eq!(amounts(&compute(&fi).expect("vat"))[0].2, 2_400);
        // 2025's changes, the day before and the day of: Slovakia 20 → 23 % (1 January),
        // Estonia 22 → 24 % (1 July), Romania 19 → 21 % (1 August).
        for (country, day, before, after) in [
            ("SK", date!(2025 - 01 - 01), 2_000, 2_300),
            ("EE", date!(2025 - 07 - 01), 2_200, 2_400),
            ("RO", date!(2025 - 08 - 01), 1_900, 2_100),
        ] {
            let mut sale = input(
                "EUR",
                place("DE", None),
                place(country, None),
                vec![line(1, 10_000, 0, None)],
            );
            sale.date = day.previous_day().expect("day");
            assert_eq!(
                amounts(&compute(&sale).expect("vat"))[0].2,
                before,
                "{country}"
            );
            sale.date = day;
            let record = compute(&sale).expect("vat");
            assert_eq!(
                amounts(&record)[0],
                (
                    Component::Vat,
                    country.into(),
                    after,
                    10_000,
                    i64::from(after)
                ),
                "{country}"
            );
        }
        // Under the EUR 10,000 threshold: German VAT.
        let mut small = sale.clone();
        small.below_eu_threshold = true;
        let record = compute(&small).expect("vat");
        assert_eq!(
            (amounts(&record)[0].1.as_str(), record.scheme),
            ("DE", Scheme::Domestic)
        );
    }

    #[test]
    fn us_marketplace_facilitator_is_recorded_not_computed() {
        let mut order = input(
            "USD",
            place("US", Some("KY")),
            place("US", Some("CA")),
            vec![line(1, 2_000, 0, None)],
        );
        order.channel = Some(ChannelTax {
            marketplace_facilitator: true,
            lines: vec![LineTax {
                line: Some(0),
                amounts: vec![TaxAmount {
                    component: Component::SalesTax,
                    jurisdiction: "US-CA".into(),
                    rate: None,
                    taxable: 2_000,
                    tax: 145,
                }],
            }],
        });
        let record = compute(&order).expect("recorded");
        assert_eq!(
            (record.source, record.scheme, record.liable, record.total()),
            (
                Source::Channel,
                Scheme::MarketplaceFacilitator,
                Liable::Marketplace,
                145
            )
        );
        // A Shopify store's order without tax lines: zero, and said so.
        order.channel = None;
        let record = compute(&order).expect("recorded");
        assert_eq!(
            (record.total(), record.flags.clone()),
            (0, vec!["no_tax_charged".to_owned()])
        );
    }

    #[test]
    fn a_difference_from_the_channel_is_flagged() {
        let mh = || place("IN", Some("MH"));
        let mut order = input(
            "INR",
            mh(),
            place("IN", Some("KA")),
            vec![line(1, 100_000, 0, Some("gst-18"))],
        );
        let charged = |tax| ChannelTax {
            marketplace_facilitator: false,
            lines: vec![LineTax {
                line: Some(0),
                amounts: vec![TaxAmount {
                    component: Component::Other,
                    jurisdiction: "IN".into(),
                    rate: None,
                    taxable: 100_000,
                    tax,
                }],
            }],
        };
        order.channel = Some(charged(18_000));
        assert!(compute(&order).expect("gst").flags.is_empty());
        order.channel = Some(charged(12_000));
        assert_eq!(
            compute(&order).expect("gst").flags,
            vec!["tax_differs_from_channel"]
        );
    }

    #[test]
    fn bad_input_is_a_reason() {
        let mh = || place("IN", Some("MH"));
        let cases = [
            (
                input("USD", mh(), mh(), vec![line(1, 100, 0, Some("gst-18"))]),
                "currency_mismatch",
            ),
            (
                input("INR", mh(), mh(), vec![line(1, 100, 0, None)]),
                "no_tax_class",
            ),
            (
                input(
                    "INR",
                    mh(),
                    place("IN", Some("ZZ")),
                    vec![line(1, 100, 0, Some("gst-18"))],
                ),
                "unknown_state",
            ),
            (
                input("INR", mh(), mh(), vec![line(1, -100, 0, Some("gst-18"))]),
                "negative_amount",
            ),
            (
                input("INR", mh(), mh(), vec![line(1, 100, 200, Some("gst-18"))]),
                "negative_amount",
            ),
            (
                input("INR", mh(), mh(), vec![line(0, 100, 0, Some("gst-18"))]),
                "invalid_field",
            ),
            (
                // A value past any total: refused, never overflowed.
                input(
                    "INR",
                    mh(),
                    mh(),
                    vec![line(u32::MAX, i64::MAX / 2, 0, Some("gst-18"))],
                ),
                "negative_amount",
            ),
            (
                input(
                    "USD",
                    place("DE", None),
                    place("FR", None),
                    vec![line(1, 100, 0, None)],
                ),
                "currency_mismatch",
            ),
        ];
        for (order, reason) in cases {
            assert_eq!(compute(&order).map_err(|e| e.reason()).err(), Some(reason));
        }
    }

    proptest! {
        /// Components add up to the line's tax at the whole rate, within a paisa per
        /// component; nothing is negative; tax-included prices keep value + tax = the price
        /// within a paisa.
        #[test]
        fn components_add_up_within_rounding(
            price in 1i64..10_000_000,
            quantity in 1u32..50,
            slab in prop::sample::select(vec!["gst-5", "gst-18", "gst-40", "apparel"]),
            intra in any::<bool>(),
            included in any::<bool>(),
        ) {
            let to = if intra { "MH" } else { "KA" };
            let mut order = input("INR", place("IN", Some("MH")), place("IN", Some(to)), vec![line(quantity, price, 0, Some(slab))]);
            order.prices_include_tax = included;
            let record = compute(&order).expect("gst");
            let line = &record.lines[0];
            let rate = line.amounts.iter().map(|a| a.rate.map_or(0, |r| r.bp())).sum::<u32>();
            let taxable = line.amounts[0].taxable;
            let whole = crate::Rate::basis_points(rate).expect("rate").of(taxable);
            prop_assert!((line.tax() - whole).abs() <= 1);
            prop_assert!(line.amounts.iter().all(|a| a.tax >= 0 && a.taxable >= 0));
            if included {
                let gross = price * i64::from(quantity);
                prop_assert!((taxable + line.tax() - gross).abs() <= 1);
            }
        }
    }
}
