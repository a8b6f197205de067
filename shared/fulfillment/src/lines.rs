//! Which of the order's lines each package carries, and how far each line has got: what a
//! marketplace is told per package, and what the merchant sees per line (a partial shipment).

use std::collections::BTreeMap;

use rc_domain::{LineDemand, MerchantId, ShipmentStatus, Sku, package_lines};
use rc_inventory::StockRepository;
use rc_orders::OrderView;
use serde::Serialize;

use crate::{FulfillmentError, Shipment};

/// Lines (index into the order's lines) and quantities per package number. Kits are read as
/// they are defined now. A package sent outside RetailCoder (no units) carries every line.
pub async fn lines_by_package(
    stock: &StockRepository,
    merchant: &MerchantId,
    view: &OrderView,
    shipments: &[Shipment],
) -> Result<BTreeMap<u8, Vec<(usize, i64)>>, FulfillmentError> {
    let mut demands = Vec::with_capacity(view.lines.len());
    for line in &view.lines {
        let components: Vec<(Sku, i64)> = match stock.kit(merchant, &line.sku).await? {
            Some(kit) if !kit.is_empty() => kit
                .iter()
                .map(|c| (c.sku.clone(), i64::from(c.quantity)))
                .collect(),
            _ => vec![(line.sku.clone(), 1)],
        };
        demands.push(LineDemand {
            quantity: i64::from(line.quantity.get()),
            components,
        });
    }
    let packages: Vec<(u8, BTreeMap<Sku, i64>)> = shipments
        .iter()
        .filter(|s| !matches!(s.status, ShipmentStatus::Voided | ShipmentStatus::Cancelled))
        .filter(|s| !s.units.is_empty())
        .map(|s| (s.id.number(), s.units.clone()))
        .collect();
    let mut lines = package_lines(&demands, &packages);
    for s in shipments.iter().filter(|s| s.units.is_empty()) {
        lines.insert(
            s.id.number(),
            view.lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i, i64::from(l.quantity.get())))
                .collect(),
        );
    }
    Ok(lines)
}

/// How far one order line has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineProgress {
    pub sku: Sku,
    pub quantity: i64,
    /// Units in packages that left the warehouse.
    pub shipped: i64,
    pub delivered: i64,
    pub returned: i64,
}

/// Each line's progress by its packages (never more than the line's quantity).
pub async fn line_progress(
    stock: &StockRepository,
    merchant: &MerchantId,
    view: &OrderView,
    shipments: &[Shipment],
) -> Result<Vec<LineProgress>, FulfillmentError> {
    let by_package = lines_by_package(stock, merchant, view, shipments).await?;
    let mut progress: Vec<LineProgress> = view
        .lines
        .iter()
        .map(|l| LineProgress {
            sku: l.sku.clone(),
            quantity: i64::from(l.quantity.get()),
            shipped: 0,
            delivered: 0,
            returned: 0,
        })
        .collect();
    for shipment in shipments {
        let Some(lines) = by_package.get(&shipment.id.number()) else {
            continue;
        };
        let left = shipment.progress().left_at.is_some();
        for (index, units) in lines {
            let Some(line) = progress.get_mut(*index) else {
                continue;
            };
            if left {
                line.shipped = (line.shipped + units).min(line.quantity);
            }
            match shipment.status {
                ShipmentStatus::Delivered => {
                    line.delivered = (line.delivered + units).min(line.quantity);
                }
                ShipmentStatus::Returned => {
                    line.returned = (line.returned + units).min(line.quantity);
                }
                _ => {}
            }
        }
    }
    Ok(progress)
}
