//! Routing: which warehouse (or warehouses) ships an order. A pure rule over the merchant's
//! warehouses, their free stock and the merchant's routing rules; the caller reads the inputs
//! and records the decision.
//!
//! 1. No destination country: the order cannot be shipped (`address_not_shippable`).
//! 2. The first of the merchant's rules whose conditions all match the destination and channel
//!    names the candidate warehouses, in its order; without a matching rule every warehouse is a
//!    candidate. Inactive warehouses never are. None left: `no_warehouse_serves`.
//! 3. Candidates are tried in the rule's order, then by priority (lower first), then by id: the
//!    first that can fill every line alone ships everything.
//! 4. Otherwise, if the merchant allows splits, the fewest warehouses that together can fill
//!    the order (the earliest such set in that order), each SKU taken from them in that order.
//! 5. Otherwise `no_stock`, naming the SKUs no single warehouse (or, with splits, no set) can
//!    fill.

use std::collections::BTreeMap;

use crate::{Channel, CountryCode, RegionCode, Sku, WarehouseId};

/// Where an order goes, as coarse as routing needs: no buyer PII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub country: Option<CountryCode>,
    pub region: Option<RegionCode>,
    /// The first characters of the postal code, if a rule needs them (never the whole code).
    pub postal_prefix: Option<String>,
}

/// What one rule asks of an order; an empty list matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleConditions {
    pub countries: Vec<CountryCode>,
    pub regions: Vec<RegionCode>,
    pub postal_prefixes: Vec<String>,
    pub channels: Vec<Channel>,
}

/// A merchant's routing rule: orders matching it ship from these warehouses, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    pub name: String,
    pub when: RuleConditions,
    pub warehouses: Vec<WarehouseId>,
}

/// A warehouse as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: WarehouseId,
    pub priority: u16,
    pub active: bool,
}

/// Units needed per SKU (kits already expanded into components).
pub type Demand = BTreeMap<Sku, i64>;

/// Free units per warehouse and SKU.
pub type FreeStock = BTreeMap<(WarehouseId, Sku), i64>;

/// One shipment of a routed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedShipment {
    pub warehouse: WarehouseId,
    pub units: Demand,
}

/// Why an order could not be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unroutable {
    /// The order has no destination country.
    AddressNotShippable,
    /// No active warehouse may ship to this destination.
    NoWarehouseServes,
    /// Not enough free stock where the order may ship from: these SKUs are short.
    NoStock(Vec<Sku>),
}

impl Unroutable {
    /// The machine-readable reason recorded on the order.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::AddressNotShippable => "address_not_shippable",
            Self::NoWarehouseServes => "no_warehouse_serves",
            Self::NoStock(_) => "no_stock",
        }
    }
}

/// A routing decision: the shipments, and which rule chose them (`None`: no rule matched and
/// every active warehouse was a candidate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub rule: Option<String>,
    pub shipments: Vec<PlannedShipment>,
}

/// The most candidates tried in combinations for a split (by order of preference); beyond, a
/// split uses only the first ones. 2^12 sets at most, each checked in microseconds.
pub const MAX_SPLIT_CANDIDATES: usize = 12;

fn matches(when: &RuleConditions, to: &Destination, channel: Channel) -> bool {
    let any = |list_empty: bool, hit: bool| list_empty || hit;
    any(
        when.countries.is_empty(),
        to.country
            .as_ref()
            .is_some_and(|c| when.countries.contains(c)),
    ) && any(
        when.regions.is_empty(),
        to.region.as_ref().is_some_and(|r| when.regions.contains(r)),
    ) && any(
        when.postal_prefixes.is_empty(),
        to.postal_prefix.as_deref().is_some_and(|p| {
            when.postal_prefixes
                .iter()
                .any(|prefix| p.starts_with(prefix.as_str()))
        }),
    ) && any(when.channels.is_empty(), when.channels.contains(&channel))
}

fn free(stock: &FreeStock, warehouse: &WarehouseId, sku: &Sku) -> i64 {
    stock
        .get(&(warehouse.clone(), sku.clone()))
        .copied()
        .unwrap_or(0)
        .max(0)
}

/// Takes `demand` from `warehouses` in order; `None` if they cannot fill it together.
fn allocate(
    demand: &Demand,
    warehouses: &[&Candidate],
    stock: &FreeStock,
) -> Option<Vec<PlannedShipment>> {
    let mut shipments: Vec<PlannedShipment> = warehouses
        .iter()
        .map(|w| PlannedShipment {
            warehouse: w.id.clone(),
            units: Demand::new(),
        })
        .collect();
    for (sku, &needed) in demand {
        let mut left = needed;
        for shipment in shipments.iter_mut() {
            let take = left.min(free(stock, &shipment.warehouse, sku));
            if take > 0 {
                shipment.units.insert(sku.clone(), take);
                left -= take;
            }
        }
        if left > 0 {
            return None;
        }
    }
    // A warehouse in the set that ended up shipping nothing is not a shipment.
    shipments.retain(|s| !s.units.is_empty());
    Some(shipments)
}

/// Routes one order. `demand` must not be empty.
pub fn route(
    demand: &Demand,
    to: &Destination,
    channel: Channel,
    rules: &[RoutingRule],
    warehouses: &[Candidate],
    stock: &FreeStock,
    allow_split: bool,
) -> Result<Routed, Unroutable> {
    if to.country.is_none() {
        return Err(Unroutable::AddressNotShippable);
    }
    let rule = rules.iter().find(|r| matches(&r.when, to, channel));
    let mut candidates: Vec<(usize, &Candidate)> = warehouses
        .iter()
        .filter(|w| w.active)
        .filter_map(|w| match rule {
            Some(rule) => rule
                .warehouses
                .iter()
                .position(|id| *id == w.id)
                .map(|at| (at, w)),
            None => Some((0, w)),
        })
        .collect();
    candidates
        .sort_by(|(a_at, a), (b_at, b)| (a_at, a.priority, &a.id).cmp(&(b_at, b.priority, &b.id)));
    let candidates: Vec<&Candidate> = candidates.into_iter().map(|(_, w)| w).collect();
    if candidates.is_empty() {
        return Err(Unroutable::NoWarehouseServes);
    }
    let shipments = choose(demand, &candidates, stock, allow_split).map_err(Unroutable::NoStock)?;
    Ok(Routed {
        rule: rule.map(|r| r.name.clone()),
        shipments,
    })
}

/// Where to hold an order's units while it cannot be routed (no destination, or no warehouse
/// serves it): every active warehouse by priority, split if need be, so the units are not sold
/// twice while the merchant decides. `Err` names the SKUs short even so.
pub fn hold(
    demand: &Demand,
    warehouses: &[Candidate],
    stock: &FreeStock,
) -> Result<Vec<PlannedShipment>, Vec<Sku>> {
    let mut candidates: Vec<&Candidate> = warehouses.iter().filter(|w| w.active).collect();
    candidates.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
    choose(demand, &candidates, stock, true)
}

/// The first candidate that fills everything alone; else, with splits, the fewest that do
/// together; else the SKUs that are short.
fn choose(
    demand: &Demand,
    candidates: &[&Candidate],
    stock: &FreeStock,
    allow_split: bool,
) -> Result<Vec<PlannedShipment>, Vec<Sku>> {
    for warehouse in candidates {
        if let Some(shipments) = allocate(demand, &[warehouse], stock) {
            return Ok(shipments);
        }
    }
    if allow_split {
        let pool = &candidates[..candidates.len().min(MAX_SPLIT_CANDIDATES)];
        for size in 2..=pool.len() {
            // Sets of `size` in order of preference: the lexicographically first set of indices.
            let mut set: Vec<usize> = (0..size).collect();
            loop {
                let chosen: Vec<&Candidate> = set.iter().map(|&i| pool[i]).collect();
                if let Some(shipments) = allocate(demand, &chosen, stock) {
                    return Ok(shipments);
                }
                // Next combination.
                let Some(i) = (0..size).rev().find(|&i| set[i] < pool.len() - size + i) else {
                    break;
                };
                set[i] += 1;
                for j in i + 1..size {
                    set[j] = set[j - 1] + 1;
                }
            }
        }
    }
    let reach: &[&Candidate] = if allow_split { candidates } else { &[] };
    let short = demand
        .iter()
        .filter(|(sku, needed)| {
            let best_single = candidates
                .iter()
                .map(|w| free(stock, &w.id, sku))
                .max()
                .unwrap_or(0);
            let together: i64 = reach.iter().map(|w| free(stock, &w.id, sku)).sum();
            best_single.max(together) < **needed
        })
        .map(|(sku, _)| sku.clone())
        .collect::<Vec<_>>();
    Err(if short.is_empty() {
        // Every SKU is there somewhere, just never all in one warehouse (and no splits).
        demand.keys().cloned().collect()
    } else {
        short
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> WarehouseId {
        WarehouseId::parse(raw).expect("id")
    }

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).expect("sku")
    }

    fn to(country: &str, region: Option<&str>, postal: Option<&str>) -> Destination {
        Destination {
            country: Some(CountryCode::parse(country).expect("country")),
            region: region.map(|r| RegionCode::parse(r).expect("region")),
            postal_prefix: postal.map(str::to_owned),
        }
    }

    fn demand(lines: &[(&str, i64)]) -> Demand {
        lines.iter().map(|(s, n)| (sku(s), *n)).collect()
    }

    fn stock(levels: &[(&str, &str, i64)]) -> FreeStock {
        levels
            .iter()
            .map(|(w, s, n)| ((id(w), sku(s)), *n))
            .collect()
    }

    /// Three warehouses: Mumbai (priority 1), Delhi (2), Pune (3, inactive unless said).
    fn warehouses(pune_active: bool) -> Vec<Candidate> {
        vec![
            Candidate {
                id: id("delhi"),
                priority: 2,
                active: true,
            },
            Candidate {
                id: id("mumbai"),
                priority: 1,
                active: true,
            },
            Candidate {
                id: id("pune"),
                priority: 3,
                active: pune_active,
            },
        ]
    }

    fn rules() -> Vec<RoutingRule> {
        vec![
            RoutingRule {
                name: "north-from-delhi".into(),
                when: RuleConditions {
                    countries: vec![CountryCode::parse("IN").expect("c")],
                    regions: vec![RegionCode::parse("DL").expect("r")],
                    ..RuleConditions::default()
                },
                warehouses: vec![id("delhi"), id("mumbai")],
            },
            RoutingRule {
                name: "amazon-pune-only".into(),
                when: RuleConditions {
                    channels: vec![Channel::Amazon],
                    postal_prefixes: vec!["41".into()],
                    ..RuleConditions::default()
                },
                warehouses: vec![id("pune")],
            },
        ]
    }

    type Expect = Result<
        (
            Option<&'static str>,
            Vec<(&'static str, Vec<(&'static str, i64)>)>,
        ),
        &'static str,
    >;

    #[test]
    fn orders_route_by_rule_priority_stock_and_splits() {
        let plenty = stock(&[
            ("mumbai", "MUG", 10),
            ("mumbai", "CAP", 10),
            ("delhi", "MUG", 10),
            ("delhi", "CAP", 10),
            ("pune", "MUG", 10),
        ]);
        let split_only = stock(&[
            ("mumbai", "MUG", 5),
            ("delhi", "CAP", 5),
            ("pune", "CAP", 5),
        ]);
        let thin = stock(&[("mumbai", "MUG", 1), ("delhi", "MUG", 1)]);
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            &str,
            Demand,
            Destination,
            Channel,
            &FreeStock,
            bool,
            bool,
            Expect,
        )> = vec![
            (
                "no rule: the highest priority that fills everything",
                demand(&[("MUG", 2), ("CAP", 1)]),
                to("IN", Some("KA"), None),
                Channel::Shopify,
                &plenty,
                false,
                false,
                Ok((None, vec![("mumbai", vec![("CAP", 1), ("MUG", 2)])])),
            ),
            (
                "a matching rule's order beats priority",
                demand(&[("MUG", 1)]),
                to("IN", Some("DL"), None),
                Channel::Shopify,
                &plenty,
                false,
                false,
                Ok((Some("north-from-delhi"), vec![("delhi", vec![("MUG", 1)])])),
            ),
            (
                "a rule whose warehouses are all inactive serves nobody",
                demand(&[("MUG", 1)]),
                to("IN", Some("MH"), Some("411001")),
                Channel::Amazon,
                &plenty,
                false,
                false,
                Err("no_warehouse_serves"),
            ),
            (
                "the same rule once Pune is active",
                demand(&[("MUG", 1)]),
                to("IN", Some("MH"), Some("411001")),
                Channel::Amazon,
                &plenty,
                true,
                false,
                Ok((Some("amazon-pune-only"), vec![("pune", vec![("MUG", 1)])])),
            ),
            (
                "the channel condition: a Shopify order in Pune routes by priority",
                demand(&[("MUG", 1)]),
                to("IN", Some("MH"), Some("411001")),
                Channel::Shopify,
                &plenty,
                true,
                false,
                Ok((None, vec![("mumbai", vec![("MUG", 1)])])),
            ),
            (
                "no single warehouse, splits allowed: the fewest shipments",
                demand(&[("MUG", 2), ("CAP", 2)]),
                to("IN", None, None),
                Channel::Shopify,
                &split_only,
                true,
                true,
                Ok((
                    None,
                    vec![("mumbai", vec![("MUG", 2)]), ("delhi", vec![("CAP", 2)])],
                )),
            ),
            (
                "no single warehouse, no splits: every SKU named",
                demand(&[("MUG", 2), ("CAP", 2)]),
                to("IN", None, None),
                Channel::Shopify,
                &split_only,
                true,
                false,
                Err("no_stock"),
            ),
            (
                "one SKU's units split across two warehouses",
                demand(&[("MUG", 2)]),
                to("IN", None, None),
                Channel::Shopify,
                &thin,
                false,
                true,
                Ok((
                    None,
                    vec![("mumbai", vec![("MUG", 1)]), ("delhi", vec![("MUG", 1)])],
                )),
            ),
            (
                "not enough anywhere",
                demand(&[("MUG", 3)]),
                to("IN", None, None),
                Channel::Shopify,
                &thin,
                false,
                true,
                Err("no_stock"),
            ),
            (
                "no country: not shippable",
                demand(&[("MUG", 1)]),
                Destination {
                    country: None,
                    region: None,
                    postal_prefix: None,
                },
                Channel::Shopify,
                &plenty,
                false,
                true,
                Err("address_not_shippable"),
            ),
        ];
        for (name, demand, destination, channel, stock, pune, split, expected) in cases {
            let got = route(
                &demand,
                &destination,
                channel,
                &rules(),
                &warehouses(pune),
                stock,
                split,
            );
            let got = got
                .map(|routed| {
                    (
                        routed.rule,
                        routed
                            .shipments
                            .into_iter()
                            .map(|s| {
                                (
                                    s.warehouse.as_str().to_owned(),
                                    s.units
                                        .into_iter()
                                        .map(|(k, n)| (k.as_str().to_owned(), n))
                                        .collect::<Vec<_>>(),
                                )
                            })
                            .collect::<Vec<_>>(),
                    )
                })
                .map_err(|e| e.reason());
            let expected = expected.map(|(rule, shipments)| {
                (
                    rule.map(str::to_owned),
                    shipments
                        .into_iter()
                        .map(|(w, units)| {
                            (
                                w.to_owned(),
                                units
                                    .into_iter()
                                    .map(|(k, n)| (k.to_owned(), n))
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            });
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn the_short_skus_are_named() {
        let got = route(
            &demand(&[("MUG", 1), ("CAP", 5)]),
            &to("IN", None, None),
            Channel::Shopify,
            &[],
            &warehouses(false),
            &stock(&[
                ("mumbai", "MUG", 1),
                ("mumbai", "CAP", 2),
                ("delhi", "CAP", 2),
            ]),
            true,
        );
        assert_eq!(got, Err(Unroutable::NoStock(vec![sku("CAP")])));
    }

    #[test]
    fn a_split_uses_the_fewest_warehouses_even_when_more_preferred_ones_exist() {
        // Mumbai and Delhi each hold one SKU; Pune holds both: one shipment from Pune beats two.
        let got = route(
            &demand(&[("MUG", 1), ("CAP", 1)]),
            &to("IN", None, None),
            Channel::Shopify,
            &[],
            &warehouses(true),
            &stock(&[
                ("mumbai", "MUG", 1),
                ("delhi", "CAP", 1),
                ("pune", "MUG", 1),
                ("pune", "CAP", 1),
            ]),
            true,
        )
        .expect("routed");
        assert_eq!(got.shipments.len(), 1);
        assert_eq!(got.shipments[0].warehouse, id("pune"));
    }

    #[test]
    fn unroutable_orders_are_held_where_stock_is_by_priority() {
        let stock = stock(&[
            ("delhi", "MUG", 5),
            ("mumbai", "MUG", 1),
            ("pune", "MUG", 9),
            ("mumbai", "CAP", 2),
        ]);
        let cases = [
            // Mumbai first by priority, but cannot fill MUG×2: Delhi can't fill CAP: a split.
            (
                demand(&[("MUG", 2), ("CAP", 1)]),
                false,
                Ok(vec!["delhi", "mumbai"]),
            ),
            (demand(&[("MUG", 1)]), false, Ok(vec!["mumbai"])),
            // Pune is inactive: its 9 units are not held.
            (demand(&[("MUG", 7)]), false, Err(vec!["MUG"])),
            (demand(&[("MUG", 7)]), true, Ok(vec!["pune"])),
        ];
        for (demand, pune_active, expected) in cases {
            let got = hold(&demand, &warehouses(pune_active), &stock)
                .map(|s| {
                    let mut from: Vec<String> =
                        s.iter().map(|s| s.warehouse.as_str().to_owned()).collect();
                    from.sort();
                    from
                })
                .map_err(|short| {
                    short
                        .iter()
                        .map(|s| s.as_str().to_owned())
                        .collect::<Vec<_>>()
                });
            let expected = expected
                .map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>())
                .map_err(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
            assert_eq!(got, expected, "{demand:?} pune active {pune_active}");
        }
    }
}
