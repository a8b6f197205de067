//! Inventory values: warehouses, stock levels, kits, adjustments.

use rc_domain::Sku;
use serde::{Deserialize, Serialize};

/// The most units one stock item may hold: far below overflow of any sum we compute.
pub const MAX_UNITS: i64 = 1_000_000_000;

/// One SKU in one warehouse. `available` is kept equal to `on_hand - reserved` by every change,
/// so a reservation can be guarded by one condition (`available >= n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StockLevel {
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// A merchant's change to stock, with the reason it is recorded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Adjustment {
    /// A count: on hand becomes exactly this (never below what is reserved).
    Set { on_hand: i64 },
    /// A correction up or down (down never below what is free).
    Add { delta: i64 },
    /// Goods received from a supplier.
    Receive { quantity: i64 },
    /// Goods returned by a buyer, back in sellable stock.
    Return { quantity: i64 },
}

impl Adjustment {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Set { .. } => "set",
            Self::Add { .. } => "add",
            Self::Receive { .. } => "receive",
            Self::Return { .. } => "return",
        }
    }

    /// Refuses absurd values before anything is read.
    pub fn check(&self) -> Result<(), &'static str> {
        let ok = match *self {
            Self::Set { on_hand } => (0..=MAX_UNITS).contains(&on_hand),
            Self::Add { delta } => delta != 0 && delta.unsigned_abs() <= MAX_UNITS.unsigned_abs(),
            Self::Receive { quantity } | Self::Return { quantity } => {
                (1..=MAX_UNITS).contains(&quantity)
            }
        };
        if ok {
            Ok(())
        } else {
            Err("quantity out of range")
        }
    }
}

/// One component of a kit: `quantity` units of `sku` per kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitComponent {
    pub sku: Sku,
    pub quantity: u32,
}

/// The most components a kit may have (each is a stock condition in the reservation).
pub const MAX_KIT_COMPONENTS: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustments_out_of_range_are_refused_without_overflow() {
        let cases = [
            (Adjustment::Add { delta: i64::MIN }, false),
            (Adjustment::Add { delta: i64::MAX }, false),
            (Adjustment::Add { delta: 0 }, false),
            (Adjustment::Add { delta: -MAX_UNITS }, true),
            (
                Adjustment::Add {
                    delta: MAX_UNITS + 1,
                },
                false,
            ),
            (Adjustment::Set { on_hand: -1 }, false),
            (Adjustment::Set { on_hand: 0 }, true),
            (Adjustment::Receive { quantity: i64::MIN }, false),
            (
                Adjustment::Return {
                    quantity: MAX_UNITS,
                },
                true,
            ),
        ];
        for (adjustment, ok) in cases {
            assert_eq!(adjustment.check().is_ok(), ok, "{adjustment:?}");
        }
    }
}
