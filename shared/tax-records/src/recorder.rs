//! Works out an order's tax record and keeps it: once per order version (a redelivered event
//! finds the record already at that version and does nothing), and again when the warehouses
//! its lines ship from change (a reroute, a split), or when the merchant asks (after fixing a
//! class). Reads the order's public item, its reservation, the warehouses, the SKUs' classes
//! and the tax settings — never the PII item.

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{
    Clock, MerchantId, OrderId, OrderStatus, ReportingScheme, Sku, Warehouse, WarehouseId,
};
use rc_inventory::{Reservation, Reservations, WarehouseRepository};
use rc_orders::{OrderRepository, OrderView};
use rc_tax::{
    LineInput, Place, Scheme, TaxInput, channel_tax, eu::is_member, jurisdiction, provider_for,
};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::records::Charged;
use crate::{
    StoredTaxRecord, TaxClasses, TaxRecordError, TaxRecordState, TaxRecords, TaxSettingsRepository,
    keys,
};

/// Attempts at writing a record that keeps losing races.
const WRITE_ATTEMPTS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Computed (or recomputed) and stored.
    Written(TaxRecordState),
    /// Already there for this order version and these warehouses.
    Unchanged,
    /// The order does not exist (or its account was cancelled).
    NoOrder,
}

pub struct TaxRecorder {
    orders: Arc<OrderRepository>,
    reservations: Arc<Reservations>,
    warehouses: Arc<WarehouseRepository>,
    classes: Arc<TaxClasses>,
    settings: Arc<TaxSettingsRepository>,
    records: Arc<TaxRecords>,
    clock: Arc<dyn Clock>,
}

/// India keeps one time (IST, no daylight saving): a rate change at midnight there is 18:30 UTC
/// the day before.
fn ist() -> UtcOffset {
    UtcOffset::from_hms(5, 30, 0).unwrap_or(UtcOffset::UTC)
}

/// The order's day in its destination's tax calendar.
pub fn tax_day(placed_at: OffsetDateTime, ship_to_country: Option<&str>) -> Date {
    match ship_to_country {
        Some(c) if c.eq_ignore_ascii_case("IN") => placed_at.to_offset(ist()).date(),
        _ => placed_at.to_offset(UtcOffset::UTC).date(),
    }
}

fn place_of(warehouse: &Warehouse) -> Place {
    Place {
        country: warehouse.country.as_str().to_owned(),
        region: warehouse.region.as_ref().map(|r| r.as_str().to_owned()),
    }
}

/// Where each line ships from: the warehouse its SKU's units were reserved at (the one with the
/// most, when split); for a line whose SKU holds no allocation of its own (a kit: its
/// components do), the single warehouse of the whole reservation when there is one; else the
/// merchant's default warehouse (the active one that ships first), as the issue of tax before
/// routing asks.
fn origins(
    view: &OrderView,
    reservation: Option<&Reservation>,
    warehouses: &[(WarehouseId, Warehouse)],
) -> Vec<Option<Place>> {
    let by_id: BTreeMap<&WarehouseId, &Warehouse> =
        warehouses.iter().map(|(i, w)| (i, w)).collect();
    let mut units: BTreeMap<&Sku, BTreeMap<&WarehouseId, i64>> = BTreeMap::new();
    let allocations = reservation
        .map(|r| r.allocations.as_slice())
        .unwrap_or_default();
    for a in allocations {
        *units
            .entry(&a.sku)
            .or_default()
            .entry(&a.warehouse)
            .or_default() += a.quantity;
    }
    let single = {
        let mut all: Vec<&WarehouseId> = allocations.iter().map(|a| &a.warehouse).collect();
        all.sort();
        all.dedup();
        (all.len() == 1).then(|| all[0])
    };
    let default = warehouses
        .iter()
        .filter(|(_, w)| w.active)
        .min_by_key(|(id, w)| (w.priority, id.clone()))
        .map(|(_, w)| w);
    view.lines
        .iter()
        .map(|line| {
            let chosen = units
                .get(&line.sku)
                .and_then(|by| {
                    by.iter()
                        .max_by_key(|(id, n)| (**n, std::cmp::Reverse(**id)))
                })
                .map(|(id, _)| *id)
                .or(single)
                .and_then(|id| by_id.get(id).copied())
                .or(default);
            chosen.map(place_of)
        })
        .collect()
}

impl TaxRecorder {
    pub fn new(
        orders: Arc<OrderRepository>,
        reservations: Arc<Reservations>,
        warehouses: Arc<WarehouseRepository>,
        classes: Arc<TaxClasses>,
        settings: Arc<TaxSettingsRepository>,
        records: Arc<TaxRecords>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            orders,
            reservations,
            warehouses,
            classes,
            settings,
            records,
            clock,
        }
    }

    /// The order's stored record, if any.
    pub async fn get(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<StoredTaxRecord>, TaxRecordError> {
        let Some(view) = self.orders.view(merchant, order).await? else {
            return Ok(None);
        };
        let day = tax_day(
            view.placed_at,
            view.ship_to.as_ref().map(|s| s.country.as_str()),
        );
        Ok(self
            .records
            .get(merchant, day, order)
            .await?
            .map(|(r, _)| r))
    }

    /// Computes and stores the order's record unless it is already there for this order
    /// version and warehouses (`force`: recompute anyway, as after a class was fixed).
    pub async fn record(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        force: bool,
    ) -> Result<RecordOutcome, TaxRecordError> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(view) = self.orders.view(merchant, order).await? else {
                return Ok(RecordOutcome::NoOrder);
            };
            let country = view.ship_to.as_ref().map(|s| s.country.as_str());
            let day = tax_day(view.placed_at, country);
            let reservation = self.reservations.get(merchant, order).await?;
            let warehouses = self.warehouses.list(merchant).await?;
            let from = origins(&view, reservation.as_ref(), &warehouses);
            let ship_from: Vec<String> = from
                .iter()
                .map(|p| p.as_ref().map(Place::jurisdiction).unwrap_or_default())
                .collect();
            let stored = self.records.get(merchant, day, order).await?;
            if let Some((record, _)) = &stored
                && !force
                && record.order_version >= view.version
                && record.ship_from == ship_from
            {
                return Ok(RecordOutcome::Unchanged);
            }
            let mut record = self.compute(merchant, &view, day, from, ship_from).await?;
            let previous = stored.as_ref().map(|(old, version)| (old, *version));
            if let Some((old, _)) = &stored
                && old.same_content(&record)
            {
                if old.order_version >= view.version {
                    return Ok(RecordOutcome::Unchanged);
                }
                // Same figures: only the version it answers for moves on (and keeps its time).
                record.computed_at = old.computed_at;
            }
            if self
                .records
                .write(merchant, order, &record, previous)
                .await?
            {
                tracing::info!(%merchant, %order, state = ?record.state, reason = record.reason.as_deref().unwrap_or(""), "tax record stored");
                return Ok(RecordOutcome::Written(record.state));
            }
        }
        Err(TaxRecordError::Contended)
    }

    async fn compute(
        &self,
        merchant: &MerchantId,
        view: &OrderView,
        day: Date,
        from: Vec<Option<Place>>,
        ship_from: Vec<String>,
    ) -> Result<StoredTaxRecord, TaxRecordError> {
        let ship_to = jurisdiction(view.ship_to.as_ref());
        let shipping = view.totals.shipping.minor_units();
        let charged = channel_tax(
            &view.lines,
            shipping,
            &view.channel_tax,
            view.ship_to.as_ref(),
        );
        let mut record = StoredTaxRecord {
            order: view.id.clone(),
            day: keys::iso(day),
            state: TaxRecordState::Computed,
            reason: None,
            provider: None,
            currency: view.currency.clone(),
            ship_from,
            ship_to,
            owed: None,
            charged: charged.as_ref().map(|c| Charged {
                total: c.lines.iter().map(rc_tax::LineTax::tax).sum(),
                lines: c.lines.clone(),
                collected_by_marketplace: c.marketplace_facilitator,
            }),
            order_version: view.version,
            computed_at: self.clock.now(),
        };
        if view.status == OrderStatus::Cancelled {
            record.state = TaxRecordState::Void;
            return Ok(record);
        }
        let flag = |mut record: StoredTaxRecord, reason: &str| {
            record.state = TaxRecordState::Flagged;
            record.reason = Some(reason.to_owned());
            record
        };
        // No ship-to (a digital order): nowhere to compute for; what the channel charged is
        // recorded as charged (`ZZ`: the jurisdiction unknown).
        let to = match view.ship_to.as_ref() {
            Some(to) => Place {
                country: to.country.to_ascii_uppercase(),
                region: to.region.clone(),
            },
            None => Place {
                country: "ZZ".into(),
                region: None,
            },
        };
        let order_from = from.iter().flatten().next().cloned();
        let computed_here = to.country == "IN" || is_member(&to.country);
        let Some(order_from) = order_from.or_else(|| (!computed_here).then(|| to.clone())) else {
            // India and the EU are computed from where the goods leave: with no warehouse at
            // all, there is nothing to compute from.
            return Ok(flag(record, "no_ship_from"));
        };
        let currency = rc_domain::Currency::parse(&view.currency)
            .map_err(|_| TaxRecordError::Corrupt("order currency"))?;
        let skus: Vec<Sku> = view.lines.iter().map(|l| l.sku.clone()).collect();
        let classes = if computed_here {
            self.classes.classes_of(merchant, &skus).await?
        } else {
            BTreeMap::new()
        };
        let settings = self.settings.get(merchant).await?;
        let lines = view
            .lines
            .iter()
            .zip(from)
            .map(|(line, from)| {
                let class = classes.get(&line.sku);
                LineInput {
                    quantity: line.quantity.get(),
                    unit_price: line.unit_price.minor_units(),
                    discount: line.charges.discount.map_or(0, |d| d.minor_units()),
                    gst: class.and_then(|c| c.gst.clone()),
                    vat: class.and_then(|c| c.vat.clone()),
                    from,
                }
            })
            .collect();
        let input = TaxInput {
            currency,
            date: day,
            prices_include_tax: view.channel_tax.prices_include_tax,
            lines,
            shipping,
            from: order_from,
            to,
            below_eu_threshold: settings.eu_below_threshold,
            reported_scheme: view.channel_tax.reporting_scheme.map(|s| match s {
                ReportingScheme::Oss => Scheme::Oss,
                ReportingScheme::Ioss => Scheme::Ioss,
            }),
            channel: charged,
        };
        let provider = provider_for(&input);
        record.provider = Some(provider.name().to_owned());
        match provider.compute(&input) {
            Ok(owed) => {
                record.owed = Some(owed);
                Ok(record)
            }
            Err(error) => Ok(flag(record, error.reason())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_tax_day_is_the_destinations() {
        // 20:00 UTC on 21 September 2025 is already the 22nd in India.
        let at = datetime!(2025-09-21 20:00 UTC);
        assert_eq!(tax_day(at, Some("IN")), time::macros::date!(2025 - 09 - 22));
        assert_eq!(tax_day(at, Some("DE")), time::macros::date!(2025 - 09 - 21));
        assert_eq!(tax_day(at, None), time::macros::date!(2025 - 09 - 21));
    }
}
