//! The merchant's warehouses: where stock is kept and parcels ship from. Stock is keyed by
//! warehouse id and predates these records: stock under an id without a record keeps working
//! (it is simply a warehouse routing knows nothing about yet), and a record can be added for it
//! at any time.

use std::sync::Arc;

use rc_domain::{
    CountryCode, CourierAccountRef, CutOff, MerchantId, RegionCode, ServiceChoice, ShipFromAddress,
    Warehouse, WarehouseId,
};
use rc_store::{Item, ItemKey, Store, Value};

use crate::{InventoryError, StockRepository};

/// Warehouses read per round trip (a merchant has a handful).
const PAGE: usize = 100;

/// Why a warehouse cannot be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InUse {
    /// Units on hand or reserved there, for this SKU (the first found).
    Stock(rc_domain::Sku),
}

pub struct WarehouseRepository {
    data: Arc<dyn Store>,
    stock: Arc<StockRepository>,
}

pub(crate) fn partition(merchant: &MerchantId) -> String {
    format!("WAREHOUSES#{merchant}")
}

fn key(merchant: &MerchantId, id: &WarehouseId) -> ItemKey {
    ItemKey::new(partition(merchant), id.as_str())
}

fn to_item(mut item: Item, warehouse: &Warehouse) -> Item {
    let text = |v: &str| Value::S(v.to_owned());
    let a = &warehouse.address;
    item.set("name", text(&warehouse.name));
    item.set("addr_name", text(&a.name));
    item.set("addr_line1", text(&a.line1));
    item.set("addr_city", text(&a.city));
    item.set("addr_postal_code", text(&a.postal_code));
    item.set("country", text(warehouse.country.as_str()));
    item.set("priority", Value::N(i64::from(warehouse.priority)));
    item.set("active", Value::Bool(warehouse.active));
    let couriers: Vec<String> = warehouse
        .couriers
        .iter()
        .map(|c| format!("{}/{}", c.kind.as_str(), c.name))
        .collect();
    item.set("couriers", Value::S(couriers.join(",")));
    item.set("service_choice", text(warehouse.service.as_str()));
    let (service_courier, service_name) = match &warehouse.service {
        ServiceChoice::Fixed { courier, service } => (
            Some(format!("{}/{}", courier.kind.as_str(), courier.name)),
            Some(service.clone()),
        ),
        _ => (None, None),
    };
    // Optional fields are rewritten or removed, so an update that drops one drops it.
    let optional = [
        ("addr_line2", a.line2.clone()),
        ("addr_phone", a.phone.clone()),
        (
            "region",
            warehouse.region.as_ref().map(|r| r.as_str().to_owned()),
        ),
        ("service_courier", service_courier),
        ("service_name", service_name),
        ("cutoff_time", warehouse.cutoff.map(|c| c.time())),
        (
            "cutoff_utc_offset",
            warehouse.cutoff.map(|c| c.utc_offset()),
        ),
    ];
    for (name, value) in optional {
        match value {
            Some(value) => item.set(name, Value::S(value)),
            None => item.remove(name),
        }
    }
    item
}

fn from_item(item: &Item) -> Result<(WarehouseId, Warehouse), InventoryError> {
    let corrupt = || InventoryError::Corrupt("warehouse");
    let s = |name| item.string(name).ok_or_else(corrupt);
    let id = WarehouseId::parse(&item.key.sk).map_err(|_| corrupt())?;
    let address = ShipFromAddress::parse(
        s("addr_name")?,
        s("addr_line1")?,
        item.string("addr_line2"),
        s("addr_city")?,
        s("addr_postal_code")?,
        item.string("addr_phone"),
    )
    .map_err(|_| corrupt())?;
    let courier = |c: &str| {
        let (kind, name) = c.split_once('/').ok_or_else(corrupt)?;
        CourierAccountRef::parse(kind, name).map_err(|_| corrupt())
    };
    let couriers = s("couriers")?
        .split(',')
        .filter(|c| !c.is_empty())
        .map(courier)
        .collect::<Result<Vec<_>, _>>()?;
    // Records from before services were chosen: the cheapest.
    let service = match item.string("service_choice").unwrap_or("cheapest") {
        "cheapest" => ServiceChoice::Cheapest,
        "fastest" => ServiceChoice::Fastest,
        "fixed" => ServiceChoice::Fixed {
            courier: courier(s("service_courier")?)?,
            service: s("service_name")?.to_owned(),
        },
        _ => return Err(corrupt()),
    };
    let cutoff = match (item.string("cutoff_time"), item.string("cutoff_utc_offset")) {
        (Some(time), Some(offset)) => Some(CutOff::parse(time, offset).map_err(|_| corrupt())?),
        _ => None,
    };
    let warehouse = Warehouse {
        name: s("name")?.to_owned(),
        address,
        country: CountryCode::parse(s("country")?).map_err(|_| corrupt())?,
        region: item
            .string("region")
            .map(RegionCode::parse)
            .transpose()
            .map_err(|_| corrupt())?,
        priority: item
            .number("priority")
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(corrupt)?,
        active: item.boolean("active").ok_or_else(corrupt)?,
        couriers,
        cutoff,
        service,
    };
    Ok((id, warehouse))
}

impl WarehouseRepository {
    pub fn new(data: Arc<dyn Store>, stock: Arc<StockRepository>) -> Self {
        Self { data, stock }
    }

    /// Creates or replaces the warehouse; true if it was created.
    pub async fn put(
        &self,
        merchant: &MerchantId,
        id: &WarehouseId,
        warehouse: &Warehouse,
    ) -> Result<bool, InventoryError> {
        crate::stock::upsert(self.data.as_ref(), &key(merchant, id), |item| {
            Ok(to_item(item, warehouse))
        })
        .await
    }

    pub async fn get(
        &self,
        merchant: &MerchantId,
        id: &WarehouseId,
    ) -> Result<Option<Warehouse>, InventoryError> {
        match self.data.get(&key(merchant, id)).await? {
            Some(item) => Ok(Some(from_item(&item)?.1)),
            None => Ok(None),
        }
    }

    /// Every warehouse of the merchant, by id.
    pub async fn list(
        &self,
        merchant: &MerchantId,
    ) -> Result<Vec<(WarehouseId, Warehouse)>, InventoryError> {
        let items = rc_store::query_all(self.data.as_ref(), &partition(merchant), "", PAGE).await?;
        items.iter().map(from_item).collect()
    }

    /// Deletes the warehouse record unless stock is on hand or reserved there: `Ok(None)` when
    /// deleted (or there was none), `Ok(Some(why))` when refused. Reads the stock of each of the
    /// merchant's SKUs at this warehouse (one query per SKU): a rare, deliberate operation.
    pub async fn delete(
        &self,
        merchant: &MerchantId,
        id: &WarehouseId,
    ) -> Result<Option<InUse>, InventoryError> {
        for sku in self.stock.skus(merchant).await? {
            let levels = self.stock.levels(merchant, &sku).await?;
            if levels
                .get(id)
                .is_some_and(|level| level.on_hand > 0 || level.reserved > 0)
            {
                return Ok(Some(InUse::Stock(sku)));
            }
        }
        self.data.delete(&key(merchant, id), None).await?;
        Ok(None)
    }
}
