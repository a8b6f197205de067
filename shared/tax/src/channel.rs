//! What the channel charged, as the tax record names it: the order's charged tax lines become
//! [`TaxAmount`]s by component (read from the channel's title: "CGST", "VAT", ...; US lines are
//! sales tax), in the ship-to jurisdiction (codes, never an address).

use rc_domain::{ChannelTaxFacts, ChargedTax, LineItem, ShipToRegion};

use crate::{ChannelTax, Component, LineTax, Rate, TaxAmount};

/// The component a channel's tax line title names.
pub fn component_of(title: &str, country: &str) -> Component {
    let title = title.to_ascii_uppercase();
    let has = |word: &str| title.contains(word);
    if has("UTGST") {
        Component::Utgst
    } else if has("CGST") {
        Component::Cgst
    } else if has("SGST") {
        Component::Sgst
    } else if has("IGST") {
        Component::Igst
    } else if has("CESS") {
        Component::Cess
    } else if ["VAT", "MWST", "TVA", "IVA", "BTW", "MOMS"]
        .iter()
        .any(|w| has(w))
    {
        Component::Vat
    } else if country.eq_ignore_ascii_case("US") {
        Component::SalesTax
    } else {
        Component::Other
    }
}

/// `US-CA`, `IN-MH`, `DE`: the ship-to region's jurisdiction code (`ZZ` when unknown).
pub fn jurisdiction(ship_to: Option<&ShipToRegion>) -> String {
    match ship_to {
        Some(s) => match s.region.as_deref().filter(|r| !r.is_empty()) {
            Some(region) => format!(
                "{}-{}",
                s.country.to_ascii_uppercase(),
                region.to_ascii_uppercase()
            ),
            None => s.country.to_ascii_uppercase(),
        },
        None => "ZZ".to_owned(),
    }
}

fn amounts(charged: &[ChargedTax], taxable: i64, ship_to: Option<&ShipToRegion>) -> Vec<TaxAmount> {
    let country = ship_to.map_or("", |s| s.country.as_str());
    let place = jurisdiction(ship_to);
    charged
        .iter()
        .map(|t| TaxAmount {
            component: component_of(&t.title, country),
            jurisdiction: place.clone(),
            rate: t.rate_bp.and_then(|bp| Rate::basis_points(bp).ok()),
            taxable,
            tax: t.amount.minor_units(),
        })
        .collect()
}

/// The channel's tax on an order, per line and for the shipping, as charged; `None` when the
/// channel said nothing about tax at all.
pub fn channel_tax(
    lines: &[LineItem],
    shipping: i64,
    facts: &ChannelTaxFacts,
    ship_to: Option<&ShipToRegion>,
) -> Option<ChannelTax> {
    if !facts.reported {
        return None;
    }
    let mut out: Vec<LineTax> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.charges.tax.is_empty())
        .map(|(index, l)| {
            let gross = l
                .unit_price
                .minor_units()
                .saturating_mul(i64::from(l.quantity.get()))
                .saturating_sub(l.charges.discount.map_or(0, |d| d.minor_units()));
            LineTax {
                line: Some(index),
                amounts: amounts(&l.charges.tax, gross, ship_to),
            }
        })
        .collect();
    if !facts.shipping_tax.is_empty() {
        out.push(LineTax {
            line: None,
            amounts: amounts(&facts.shipping_tax, shipping, ship_to),
        });
    }
    Some(ChannelTax {
        lines: out,
        marketplace_facilitator: facts.collected_by_marketplace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_name_components() {
        let cases = [
            ("CGST", "IN", Component::Cgst),
            ("SGST 9%", "IN", Component::Sgst),
            ("UTGST", "IN", Component::Utgst),
            ("IGST", "IN", Component::Igst),
            ("Compensation Cess", "IN", Component::Cess),
            ("FR TVA 20%", "FR", Component::Vat),
            ("DE MwSt", "DE", Component::Vat),
            ("VAT", "GB", Component::Vat),
            ("State Tax", "US", Component::SalesTax),
            ("TAX", "US", Component::SalesTax),
            ("GST", "AU", Component::Other),
        ];
        for (title, country, component) in cases {
            assert_eq!(component_of(title, country), component, "{title}");
        }
        let ca = ShipToRegion {
            country: "us".into(),
            region: Some("ca".into()),
        };
        assert_eq!(jurisdiction(Some(&ca)), "US-CA");
        assert_eq!(jurisdiction(None), "ZZ");
    }
}
