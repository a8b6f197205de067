//! The merchant API's warehouse routes: where stock is kept and parcels ship from.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/warehouses` | every warehouse of the merchant |
//! | `PUT /v1/warehouses/{id}` | create (201) or replace (200) one |
//! | `GET /v1/warehouses/{id}` | one warehouse |
//! | `DELETE /v1/warehouses/{id}` | delete it; 409 `warehouse_in_use` while units are there |
//!
//! The ship-from address is the merchant's own data: it is answered to the merchant and never
//! logged (its type prints nothing).

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use rc_domain::{
    CountryCode, CourierAccountRef, CutOff, MerchantId, RegionCode, ServiceChoice, ShipFromAddress,
    Warehouse, WarehouseError, WarehouseId,
};
use rc_inventory::{InUse, WarehouseRepository};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{ApiError, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressInput {
    name: String,
    line1: String,
    #[serde(default)]
    line2: Option<String>,
    city: String,
    postal_code: String,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CourierInput {
    kind: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CutOffInput {
    time: String,
    utc_offset: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceInput {
    choose: String,
    #[serde(default)]
    courier: Option<CourierInput>,
    #[serde(default)]
    service: Option<String>,
}

impl ServiceInput {
    fn parse(&self) -> Result<ServiceChoice, WarehouseError> {
        match (self.choose.as_str(), &self.courier, &self.service) {
            ("cheapest", None, None) => Ok(ServiceChoice::Cheapest),
            ("fastest", None, None) => Ok(ServiceChoice::Fastest),
            ("fixed", Some(courier), Some(service)) => Ok(ServiceChoice::Fixed {
                courier: CourierAccountRef::parse(&courier.kind, &courier.name)
                    .map_err(|_| WarehouseError("service.courier"))?,
                service: service.trim().to_owned(),
            }),
            ("fixed", None, _) => Err(WarehouseError("service.courier")),
            ("fixed", _, None) => Err(WarehouseError("service.service")),
            _ => Err(WarehouseError("service.choose")),
        }
    }
}

/// `PUT /v1/warehouses/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarehouseInput {
    name: String,
    address: AddressInput,
    country: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default = "default_priority")]
    priority: i64,
    #[serde(default = "default_active")]
    active: bool,
    #[serde(default)]
    couriers: Vec<CourierInput>,
    #[serde(default)]
    cutoff: Option<CutOffInput>,
    #[serde(default)]
    service: Option<ServiceInput>,
}

fn default_priority() -> i64 {
    100
}

fn default_active() -> bool {
    true
}

impl WarehouseInput {
    fn parse(self) -> Result<Warehouse, WarehouseError> {
        let a = &self.address;
        Warehouse {
            name: self.name.clone(),
            address: ShipFromAddress::parse(
                &a.name,
                &a.line1,
                a.line2.as_deref(),
                &a.city,
                &a.postal_code,
                a.phone.as_deref(),
            )?,
            country: CountryCode::parse(&self.country)?,
            region: self
                .region
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .map(RegionCode::parse)
                .transpose()?,
            priority: Warehouse::priority(self.priority)?,
            active: self.active,
            couriers: self
                .couriers
                .iter()
                .map(|c| CourierAccountRef::parse(&c.kind, &c.name))
                .collect::<Result<_, _>>()?,
            cutoff: self
                .cutoff
                .as_ref()
                .map(|c| CutOff::parse(&c.time, &c.utc_offset))
                .transpose()?,
            service: self
                .service
                .as_ref()
                .map(ServiceInput::parse)
                .transpose()?
                .unwrap_or_default(),
        }
        .check()
    }
}

/// A warehouse as answered to its merchant.
#[derive(Serialize)]
struct WarehouseView<'a> {
    id: &'a str,
    name: &'a str,
    address: &'a ShipFromAddress,
    country: &'a str,
    region: Option<&'a str>,
    priority: u16,
    active: bool,
    couriers: &'a [CourierAccountRef],
    cutoff: Option<serde_json::Value>,
    service: serde_json::Value,
}

fn view<'a>(id: &'a WarehouseId, w: &'a Warehouse) -> WarehouseView<'a> {
    WarehouseView {
        id: id.as_str(),
        name: &w.name,
        address: &w.address,
        country: w.country.as_str(),
        region: w.region.as_ref().map(RegionCode::as_str),
        priority: w.priority,
        active: w.active,
        couriers: &w.couriers,
        cutoff: w
            .cutoff
            .map(|c| json!({"time": c.time(), "utc_offset": c.utc_offset()})),
        service: match &w.service {
            ServiceChoice::Fixed { courier, service } => {
                json!({"choose": "fixed", "courier": courier, "service": service})
            }
            other => json!({"choose": other.as_str()}),
        },
    }
}

/// A warehouse id from the path: the identifier alphabet, or 404.
pub(crate) fn warehouse_from_path(raw: &str) -> Result<WarehouseId, ApiError> {
    WarehouseId::parse(raw).map_err(|_| ApiError::NotFound)
}

pub(crate) struct WarehouseRoutes {
    pub(crate) repo: Arc<WarehouseRepository>,
}

impl WarehouseRoutes {
    pub(crate) async fn list(&self, merchant: &MerchantId) -> Result<Response<Bytes>, ApiError> {
        let all = self.repo.list(merchant).await?;
        let views: Vec<WarehouseView> = all.iter().map(|(id, w)| view(id, w)).collect();
        Ok(json(StatusCode::OK, &json!({ "warehouses": views })))
    }

    pub(crate) async fn show(
        &self,
        merchant: &MerchantId,
        id: &WarehouseId,
    ) -> Result<Response<Bytes>, ApiError> {
        let warehouse = self
            .repo
            .get(merchant, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &view(id, &warehouse)))
    }

    pub(crate) async fn put(
        &self,
        merchant: &MerchantId,
        id: &WarehouseId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let input: WarehouseInput = serde_json::from_slice(body)
            .map_err(|e| ApiError::MalformedJson(rc_channels::describe_json_error(&e)))?;
        let warehouse = input.parse().map_err(|e| ApiError::InvalidPayload {
            reason: "invalid_field",
            message: e.to_string(),
        })?;
        let created = self.repo.put(merchant, id, &warehouse).await?;
        tracing::info!(%merchant, warehouse = %id, created, "warehouse saved");
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json(status, &view(id, &warehouse)))
    }

    pub(crate) async fn delete(
        &self,
        merchant: &MerchantId,
        id: &WarehouseId,
    ) -> Result<Response<Bytes>, ApiError> {
        if self.repo.get(merchant, id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        match self.repo.delete(merchant, id).await? {
            None => {
                tracing::info!(%merchant, warehouse = %id, "warehouse deleted");
                Ok(json(
                    StatusCode::OK,
                    &json!({"id": id.as_str(), "status": "deleted"}),
                ))
            }
            Some(InUse::Stock(_)) => Err(ApiError::InUse {
                reason: "warehouse_in_use",
                message: "units are on hand or reserved at this warehouse: move or adjust them first",
            }),
        }
    }
}
