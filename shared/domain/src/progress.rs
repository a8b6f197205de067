//! What an order's shipments say about the order, pure: when it shipped (all its parcels left
//! the warehouses: the last one's pickup starts the PII clock), whether it is delivered, and
//! which of its lines each parcel carries (what a marketplace is told per package).

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::{ShipmentStatus, Sku};

/// One shipment as the order's progress sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShipmentProgress {
    pub status: ShipmentStatus,
    /// When its parcel left the warehouse (the first event that said so).
    pub left_at: Option<OffsetDateTime>,
}

/// Where an order stands by its shipments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderProgress {
    /// Shipments that count: all but voided or cancelled ones.
    pub shipments: usize,
    /// Of those, how many have left the warehouse.
    pub left: usize,
    /// Set when every counting shipment has left: the last one's pickup time.
    pub shipped_at: Option<OffsetDateTime>,
    /// Every counting shipment is delivered.
    pub delivered: bool,
}

/// The order's progress from its shipments. An order without a counting shipment has none
/// (it ships by other means, or not at all).
pub fn order_progress(shipments: &[ShipmentProgress]) -> OrderProgress {
    let counting: Vec<&ShipmentProgress> = shipments
        .iter()
        .filter(|s| !matches!(s.status, ShipmentStatus::Voided | ShipmentStatus::Cancelled))
        .collect();
    let left: Vec<OffsetDateTime> = counting.iter().filter_map(|s| s.left_at).collect();
    let all_left = !counting.is_empty() && left.len() == counting.len();
    OrderProgress {
        shipments: counting.len(),
        left: left.len(),
        shipped_at: if all_left {
            left.iter().max().copied()
        } else {
            None
        },
        delivered: !counting.is_empty()
            && counting
                .iter()
                .all(|s| s.status == ShipmentStatus::Delivered),
    }
}

/// One order line as packages carry it: its quantity and what one unit is made of (a kit's
/// components, or the SKU itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDemand {
    pub quantity: i64,
    pub components: Vec<(Sku, i64)>,
}

/// Which lines (by index) and how many of each every package carries, from the units each
/// holds. Whole line units go to the first package holding all their components; what is left
/// (a kit split between warehouses) goes to the last package holding any of its components,
/// else to the last package. Deterministic: a retry tells the marketplace the same thing.
pub fn package_lines(
    lines: &[LineDemand],
    packages: &[(u8, BTreeMap<Sku, i64>)],
) -> BTreeMap<u8, Vec<(usize, i64)>> {
    let mut out: BTreeMap<u8, BTreeMap<usize, i64>> = BTreeMap::new();
    let mut left: Vec<i64> = lines.iter().map(|l| l.quantity.max(0)).collect();
    for (number, units) in packages {
        let mut free = units.clone();
        for (index, line) in lines.iter().enumerate() {
            if left[index] == 0 || line.components.is_empty() {
                continue;
            }
            let fits = line
                .components
                .iter()
                .map(|(sku, per)| free.get(sku).copied().unwrap_or(0) / (*per).max(1))
                .min()
                .unwrap_or(0);
            let take = fits.min(left[index]);
            if take <= 0 {
                continue;
            }
            for (sku, per) in &line.components {
                if let Some(n) = free.get_mut(sku) {
                    *n -= take * per;
                }
            }
            left[index] -= take;
            *out.entry(*number).or_default().entry(index).or_default() += take;
        }
    }
    for (index, line) in lines.iter().enumerate() {
        if left[index] == 0 {
            continue;
        }
        let carrier = packages
            .iter()
            .rev()
            .find(|(_, units)| {
                line.components
                    .iter()
                    .any(|(sku, _)| units.contains_key(sku))
            })
            .or(packages.last());
        if let Some((number, _)) = carrier {
            *out.entry(*number).or_default().entry(index).or_default() += left[index];
        }
    }
    out.into_iter()
        .map(|(n, lines)| (n, lines.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::ShipmentStatus::*;
    use super::*;

    fn at(hour: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000 + hour * 3600).expect("time")
    }

    fn s(status: ShipmentStatus, left: Option<i64>) -> ShipmentProgress {
        ShipmentProgress {
            status,
            left_at: left.map(at),
        }
    }

    #[test]
    fn an_order_ships_when_its_last_parcel_leaves_and_is_delivered_when_all_are() {
        /// (name, shipments, left, shipped at (hour), delivered)
        type Case = (
            &'static str,
            Vec<ShipmentProgress>,
            usize,
            Option<i64>,
            bool,
        );
        let cases: Vec<Case> = vec![
            ("no shipments", vec![], 0, None, false),
            ("labelled only", vec![s(LabelCreated, None)], 0, None, false),
            (
                "one picked up",
                vec![s(PickedUp, Some(2))],
                1,
                Some(2),
                false,
            ),
            (
                "one of two left: not shipped",
                vec![s(InTransit, Some(2)), s(LabelCreated, None)],
                1,
                None,
                false,
            ),
            (
                "two a day apart: the second's time",
                vec![s(InTransit, Some(2)), s(PickedUp, Some(26))],
                2,
                Some(26),
                false,
            ),
            (
                "the later one may be numbered first",
                vec![s(Delivered, Some(30)), s(InTransit, Some(3))],
                2,
                Some(30),
                false,
            ),
            (
                "a voided label does not count",
                vec![s(Voided, None), s(PickedUp, Some(5))],
                1,
                Some(5),
                false,
            ),
            (
                "all delivered",
                vec![s(Delivered, Some(1)), s(Delivered, Some(4))],
                2,
                Some(4),
                true,
            ),
            (
                "one returned: shipped, not delivered",
                vec![s(Delivered, Some(1)), s(Returned, Some(4))],
                2,
                Some(4),
                false,
            ),
            (
                "a label that failed holds the order back",
                vec![s(PickedUp, Some(1)), s(LabelFailed, None)],
                1,
                None,
                false,
            ),
        ];
        for (name, shipments, left, shipped, delivered) in cases {
            let progress = order_progress(&shipments);
            assert_eq!(progress.left, left, "{name}");
            assert_eq!(progress.shipped_at, shipped.map(at), "{name}");
            assert_eq!(progress.delivered, delivered, "{name}");
        }
    }

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).expect("sku")
    }

    fn units(pairs: &[(&str, i64)]) -> BTreeMap<Sku, i64> {
        pairs.iter().map(|(s, n)| (sku(s), *n)).collect()
    }

    fn line(quantity: i64, components: &[(&str, i64)]) -> LineDemand {
        LineDemand {
            quantity,
            components: components.iter().map(|(s, n)| (sku(s), *n)).collect(),
        }
    }

    #[test]
    fn packages_carry_the_lines_whose_units_they_hold() {
        type Case = (
            &'static str,
            Vec<LineDemand>,
            Vec<(u8, BTreeMap<Sku, i64>)>,
            Vec<(u8, Vec<(usize, i64)>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "one package carries everything",
                vec![line(2, &[("MUG", 1)]), line(1, &[("CAP", 1)])],
                vec![(1, units(&[("MUG", 2), ("CAP", 1)]))],
                vec![(1, vec![(0, 2), (1, 1)])],
            ),
            (
                "lines split by warehouse",
                vec![line(2, &[("MUG", 1)]), line(1, &[("CAP", 1)])],
                vec![(1, units(&[("CAP", 1)])), (2, units(&[("MUG", 2)]))],
                vec![(1, vec![(1, 1)]), (2, vec![(0, 2)])],
            ),
            (
                "one line's units split across two packages",
                vec![line(3, &[("MUG", 1)])],
                vec![(1, units(&[("MUG", 2)])), (2, units(&[("MUG", 1)]))],
                vec![(1, vec![(0, 2)]), (2, vec![(0, 1)])],
            ),
            (
                "a kit travels whole",
                vec![line(2, &[("CUP", 1), ("LID", 2)])],
                vec![(1, units(&[("CUP", 2), ("LID", 4)]))],
                vec![(1, vec![(0, 2)])],
            ),
            (
                "a kit split between warehouses goes with its last part",
                vec![line(1, &[("CUP", 1), ("LID", 1)])],
                vec![(1, units(&[("CUP", 1)])), (2, units(&[("LID", 1)]))],
                vec![(2, vec![(0, 1)])],
            ),
        ];
        for (name, lines, packages, expected) in cases {
            let got = package_lines(&lines, &packages);
            let expected: BTreeMap<u8, Vec<(usize, i64)>> = expected.into_iter().collect();
            assert_eq!(got, expected, "{name}");
        }
    }
}
