//! The account export — everything RetailCoder holds for the merchant (the "data export"): one
//! row per record, `record_type`, `id` and the record as JSON, section by section: the profile,
//! connections (no secrets), API keys (no key, no hash), warehouses, orders (with the buyer's
//! data only in a PII export), shipments, stock, the stock ledger, deletion receipts and the
//! audit trail. The cursor is `<section>|<the section's own cursor>`.

use std::sync::Arc;

use async_trait::async_trait;
use rc_domain::{BuyerPii, MerchantId, RevealPurpose};
use rc_orders::{ApiKeyRepository, AuditLog, ConnectionRepository, MerchantRepository};
use serde_json::{Value, json};

use crate::sources::{RowSource, SourcePage};
use crate::{Cell, ExportRequest};

const COLUMNS: [&str; 3] = ["record_type", "id", "data"];

/// The account export, over every kind's sources and the account's own records.
pub struct AccountSource {
    pub sources: crate::Sources,
}

/// The account's own records (beyond what the other kinds read).
#[derive(Clone)]
pub struct AccountRecords {
    pub merchants: Arc<MerchantRepository>,
    pub connections: Arc<ConnectionRepository>,
    pub api_keys: Arc<ApiKeyRepository>,
    pub warehouses: Arc<rc_inventory::WarehouseRepository>,
    pub audit: Arc<AuditLog>,
}

const SECTIONS: [&str; 10] = [
    "profile",
    "connection",
    "api_key",
    "warehouse",
    "order",
    "shipment",
    "stock",
    "stock_change",
    "receipt",
    "audit_entry",
];

fn row(kind: &str, id: impl Into<String>, data: &Value) -> Vec<Cell> {
    vec![
        Cell::Text(kind.to_owned()),
        Cell::Text(id.into()),
        Cell::Text(data.to_string()),
    ]
}

/// The buyer's data as JSON, opened for the export.
fn buyer_json(buyer: &BuyerPii) -> Value {
    let purpose = RevealPurpose::DataExport;
    let address = buyer.shipping_address.as_ref().map(|a| a.reveal(purpose));
    json!({
        "name": buyer.name.as_ref().map(|n| n.reveal(purpose).as_str()),
        "email": buyer.email.as_ref().map(|e| e.reveal(purpose).as_str()),
        "phone": buyer.phone.as_ref().map(|p| p.reveal(purpose).as_str()),
        "shipping_address": address.map(|a| json!({
            "name": a.name, "company": a.company, "line1": a.line1, "line2": a.line2,
            "city": a.city, "region": a.region, "postal_code": a.postal_code,
            "country": a.country_code,
        })),
    })
}

impl AccountSource {
    /// One page of `section` after `cursor`: rows, the section's next cursor, PII orders.
    async fn section(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        section: &str,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let single = |rows: Vec<Vec<Cell>>| SourcePage {
            rows,
            next: None,
            pii_orders: Vec::new(),
        };
        match section {
            "profile" => {
                let profile = self
                    .sources
                    .account
                    .merchants
                    .get(merchant)
                    .await
                    .map_err(|e| err(&e))?;
                Ok(single(
                    profile
                        .map(|p| {
                            // The billing contact (personal data) stays behind `GET
                            // /v1/account` and its `account:admin` scope: an exports key does
                            // not reach it.
                            let data = json!({
                                "company_name": p.company_name,
                                "default_currency": p.default_currency,
                                "time_zone": p.time_zone,
                            });
                            vec![row("profile", merchant.as_str(), &data)]
                        })
                        .unwrap_or_default(),
                ))
            }
            "connection" => {
                let list = self
                    .sources
                    .account
                    .connections
                    .list(merchant)
                    .await
                    .map_err(|e| err(&e))?;
                Ok(single(
                    list.iter()
                        .map(|c| {
                            let data = serde_json::to_value(c).unwrap_or(Value::Null);
                            row(
                                "connection",
                                format!("{}/{}", c.channel, c.reference),
                                &data,
                            )
                        })
                        .collect(),
                ))
            }
            "api_key" => {
                let keys = self
                    .sources
                    .account
                    .api_keys
                    .list(merchant)
                    .await
                    .map_err(|e| err(&e))?;
                Ok(single(
                    keys.iter()
                        .map(|k| {
                            let data = serde_json::to_value(k).unwrap_or(Value::Null);
                            let id = data["id"].as_str().unwrap_or_default().to_owned();
                            row("api_key", id, &data)
                        })
                        .collect(),
                ))
            }
            "warehouse" => {
                let list = self
                    .sources
                    .account
                    .warehouses
                    .list(merchant)
                    .await
                    .map_err(|e| err(&e))?;
                Ok(single(
                    list.iter()
                        .map(|(id, w)| {
                            let data = json!({
                                "name": w.name,
                                "country": w.country.as_str(),
                                "region": w.region.as_ref().map(|r| r.as_str()),
                                "priority": w.priority,
                                "active": w.active,
                            });
                            row("warehouse", id.as_str(), &data)
                        })
                        .collect(),
                ))
            }
            "order" => {
                let after = cursor
                    .map(|c| rc_domain::OrderId::parse(c).map_err(|_| "bad cursor".to_owned()))
                    .transpose()?;
                let (views, next) = self
                    .sources
                    .orders
                    .list(merchant, None, crate::PAGE, after.as_ref())
                    .await
                    .map_err(|e| err(&e))?;
                let mut rows = Vec::with_capacity(views.len());
                let mut pii_orders = Vec::new();
                for view in &views {
                    let mut data = serde_json::to_value(view).unwrap_or(Value::Null);
                    if request.include_pii
                        && view.buyer_pii == rc_orders::BuyerPiiState::Sealed
                        && let Ok(order) = rc_domain::OrderId::parse(&view.id)
                        && let Some(buyer) = self
                            .sources
                            .orders
                            .buyer(merchant, &order)
                            .await
                            .map_err(|e| err(&e))?
                    {
                        data["buyer"] = buyer_json(&buyer);
                        pii_orders.push(order);
                    }
                    rows.push(row("order", view.id.clone(), &data));
                }
                Ok(SourcePage {
                    rows,
                    next: next.map(|id| id.to_string()),
                    pii_orders,
                })
            }
            "shipment" => {
                // Every shipment, whatever its date: the shipments source's rows, as records.
                let all = ExportRequest {
                    from: None,
                    to: None,
                    filters: Default::default(),
                    ..request.clone()
                };
                let page = crate::sources::ShipmentsSource {
                    shipments: self.sources.shipments.clone(),
                }
                .page(merchant, &all, cursor)
                .await?;
                Ok(as_records("shipment", &self.shipment_columns(), page))
            }
            "stock" => {
                let page = crate::sources::InventorySource {
                    stock: self.sources.stock.clone(),
                }
                .page(merchant, request, cursor)
                .await?;
                Ok(as_records(
                    "stock",
                    &["sku", "warehouse", "on_hand", "reserved", "available"],
                    page,
                ))
            }
            "stock_change" => {
                let all = ExportRequest {
                    from: None,
                    to: None,
                    filters: Default::default(),
                    ..request.clone()
                };
                let source = crate::sources::LedgerSource {
                    stock: self.sources.stock.clone(),
                };
                let columns = source.columns(&all);
                let page = source.page(merchant, &all, cursor).await?;
                Ok(as_records("stock_change", &columns, page))
            }
            "receipt" => {
                let all = ExportRequest {
                    from: None,
                    to: None,
                    filters: Default::default(),
                    ..request.clone()
                };
                let source = crate::sources::ReceiptsSource {
                    receipts: self.sources.receipts.clone(),
                };
                let columns = source.columns(&all);
                let page = source.page(merchant, &all, cursor).await?;
                Ok(as_records("receipt", &columns, page))
            }
            _ => {
                let Some((entries, next)) = self
                    .sources
                    .account
                    .audit
                    .list(merchant, crate::PAGE, cursor)
                    .await
                    .map_err(|e| err(&e))?
                else {
                    return Ok(single(Vec::new()));
                };
                Ok(SourcePage {
                    rows: entries
                        .iter()
                        .map(|e| {
                            let data = serde_json::to_value(e).unwrap_or(Value::Null);
                            row("audit_entry", e.seq.to_string(), &data)
                        })
                        .collect(),
                    next,
                    pii_orders: Vec::new(),
                })
            }
        }
    }

    fn shipment_columns(&self) -> Vec<&'static str> {
        crate::sources::SHIPMENT_COLUMNS.to_vec()
    }
}

/// A kind's rows as account records: each row an object keyed by its columns.
fn as_records(kind: &str, columns: &[&'static str], page: SourcePage) -> SourcePage {
    let rows = page
        .rows
        .iter()
        .map(|cells| {
            let object: serde_json::Map<String, Value> = columns
                .iter()
                .zip(cells)
                .map(|(name, cell)| {
                    let value = match cell {
                        Cell::Text(t) | Cell::Number(t) => Value::String(t.clone()),
                        Cell::Empty => Value::Null,
                    };
                    ((*name).to_owned(), value)
                })
                .collect();
            let id = match cells.first() {
                Some(Cell::Text(t) | Cell::Number(t)) => t.clone(),
                _ => String::new(),
            };
            row(kind, id, &Value::Object(object))
        })
        .collect();
    SourcePage {
        rows,
        next: page.next,
        pii_orders: page.pii_orders,
    }
}

#[async_trait]
impl RowSource for AccountSource {
    fn columns(&self, _: &ExportRequest) -> Vec<&'static str> {
        COLUMNS.to_vec()
    }

    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        let (mut index, inner) = match cursor {
            None => (0, None),
            Some(c) => {
                let (i, rest) = c.split_once('|').ok_or("bad cursor")?;
                (
                    i.parse::<usize>().map_err(|_| "bad cursor".to_owned())?,
                    (!rest.is_empty()).then(|| rest.to_owned()),
                )
            }
        };
        let Some(section) = SECTIONS.get(index) else {
            return Ok(SourcePage {
                rows: Vec::new(),
                next: None,
                pii_orders: Vec::new(),
            });
        };
        let page = self
            .section(merchant, request, section, inner.as_deref())
            .await?;
        let next = match page.next {
            Some(inner) => Some(format!("{index}|{inner}")),
            None => {
                index += 1;
                (index < SECTIONS.len()).then(|| format!("{index}|"))
            }
        };
        Ok(SourcePage {
            rows: page.rows,
            next,
            pii_orders: page.pii_orders,
        })
    }
}
