//! Where each kind's rows come from: one [`RowSource`] per kind, reading a page of the store at a
//! time after a cursor (so an export resumes where its last uploaded part ended) and saying which
//! orders' buyer data a page holds (registered as copies before those rows are written).

use std::sync::Arc;

use async_trait::async_trait;
use rc_domain::{MerchantId, OrderId, Sku};
use rc_inventory::StockRepository;
use rc_orders::{BuyerPiiState, OrderRepository};
use rc_privacy::ReceiptLedger;
use time::format_description::well_known::Rfc3339;

use crate::rows::{ORDER_COLUMNS, ORDER_PII_COLUMNS, OrderRow, order_cells};
use crate::{Cell, ExportKind, ExportRequest};

/// Records read per page.
pub const PAGE: usize = 100;

/// One page of rows.
pub struct SourcePage {
    pub rows: Vec<Vec<Cell>>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<String>,
    /// Orders whose buyer data these rows hold (PII exports only).
    pub pii_orders: Vec<OrderId>,
}

#[async_trait]
pub trait RowSource: Send + Sync {
    fn columns(&self, request: &ExportRequest) -> Vec<&'static str>;
    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String>;
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

fn number(value: impl ToString) -> Cell {
    Cell::Number(value.to_string())
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn epoch(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(rfc3339)
        .unwrap_or_default()
}

/// Whether a day falls in the request's range.
fn in_range(request: &ExportRequest, day: time::Date) -> bool {
    request.from.is_none_or(|from| day >= from) && request.to.is_none_or(|to| day <= to)
}

/// Orders: one row per line; the buyer's columns in a PII export.
pub struct OrdersSource {
    pub orders: Arc<OrderRepository>,
}

#[async_trait]
impl RowSource for OrdersSource {
    fn columns(&self, request: &ExportRequest) -> Vec<&'static str> {
        let mut columns = ORDER_COLUMNS.to_vec();
        if request.include_pii {
            columns.extend(ORDER_PII_COLUMNS);
        }
        columns
    }

    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        let after = cursor
            .map(|c| OrderId::parse(c).map_err(|_| "bad cursor".to_owned()))
            .transpose()?;
        // A status or channel filter reads its index instead of every order (the filters below
        // still apply: an order may move on between the index and its read).
        let channel = request
            .filters
            .get("channel")
            .and_then(|c| rc_domain::Channel::parse(c));
        let status = request
            .filters
            .get("status")
            .and_then(|s| rc_domain::OrderStatus::parse(s));
        let (views, next) = match status {
            Some(status) => {
                self.orders
                    .in_status(merchant, status, channel, PAGE, after.as_ref())
                    .await
            }
            None => {
                self.orders
                    .list(merchant, channel, PAGE, after.as_ref())
                    .await
            }
        }
        .map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        let mut pii_orders = Vec::new();
        for view in &views {
            let status = serde_json::to_value(view.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let channel = view.channel.as_str();
            if !in_range(request, view.placed_at.date())
                || request.filters.get("status").is_some_and(|s| *s != status)
                || request.filters.get("channel").is_some_and(|c| c != channel)
            {
                continue;
            }
            let sealed = view.buyer_pii == BuyerPiiState::Sealed;
            let order_id = OrderId::parse(&view.id).map_err(|_| "order id".to_owned())?;
            let buyer = if request.include_pii && sealed {
                self.orders
                    .buyer(merchant, &order_id)
                    .await
                    .map_err(|e| e.to_string())?
            } else {
                None
            };
            if buyer.is_some() {
                pii_orders.push(order_id.clone());
            }
            let placed_at = rfc3339(view.placed_at);
            let row = OrderRow {
                id: &view.id,
                channel,
                channel_reference: &view.channel_reference,
                marketplace: view.marketplace.as_deref(),
                status: &status,
                placed_at: &placed_at,
                currency: &view.currency,
                lines: &view.lines,
                totals: &view.totals,
                ship_to: view.ship_to.as_ref(),
                buyer_data: if sealed { "sealed" } else { "purged" },
            };
            let mut cells = order_cells(&row, buyer.as_ref());
            if request.include_pii && buyer.is_none() {
                // The buyer's data is gone (or was never there): empty buyer columns.
                for row in &mut cells {
                    row.extend(std::iter::repeat_n(Cell::Empty, ORDER_PII_COLUMNS.len()));
                }
            }
            rows.extend(cells);
        }
        Ok(SourcePage {
            rows,
            next: next.map(|id| id.to_string()),
            pii_orders,
        })
    }
}

/// Deletion receipts, in chain order.
pub struct ReceiptsSource {
    pub receipts: Arc<ReceiptLedger>,
}

const RECEIPT_COLUMNS: [&str; 8] = [
    "seq",
    "scope",
    "subject",
    "rule",
    "deadline",
    "performed_at",
    "removed",
    "hash",
];

#[async_trait]
impl RowSource for ReceiptsSource {
    fn columns(&self, _: &ExportRequest) -> Vec<&'static str> {
        RECEIPT_COLUMNS.to_vec()
    }

    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        let after = cursor
            .map(|c| c.parse::<u64>().map_err(|_| "bad cursor".to_owned()))
            .transpose()?;
        let (receipts, next) = self
            .receipts
            .list(merchant, PAGE, after)
            .await
            .map_err(|e| e.to_string())?;
        let rows = receipts
            .iter()
            .filter(|r| in_range(request, r.performed_at.date()))
            .map(|r| {
                let tag = |v: &dyn erased::Tag| v.tag();
                vec![
                    number(r.seq),
                    text(tag(&r.scope)),
                    text(r.subject.clone()),
                    text(tag(&r.rule)),
                    r.deadline.map_or(Cell::Empty, |d| text(rfc3339(d))),
                    text(rfc3339(r.performed_at)),
                    text(
                        r.removed
                            .iter()
                            .map(|m| format!("{}: {} ({})", m.store, m.what, m.count))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    text(r.hash.clone()),
                ]
            })
            .collect();
        Ok(SourcePage {
            rows,
            next: next.map(|seq| seq.to_string()),
            pii_orders: Vec::new(),
        })
    }
}

/// Serializable enums as their JSON names, for cells.
mod erased {
    pub trait Tag {
        fn tag(&self) -> String;
    }

    impl<T: serde::Serialize> Tag for T {
        fn tag(&self) -> String {
            match serde_json::to_value(self) {
                Ok(serde_json::Value::String(text)) => text,
                Ok(other) => other.to_string(),
                Err(_) => String::new(),
            }
        }
    }
}

/// Every stock change, oldest first: one row per SKU × warehouse change.
pub struct LedgerSource {
    pub stock: Arc<StockRepository>,
}

const LEDGER_COLUMNS: [&str; 8] = [
    "at",
    "kind",
    "reason",
    "actor",
    "sku",
    "warehouse",
    "on_hand_change",
    "reserved_change",
];

#[async_trait]
impl RowSource for LedgerSource {
    fn columns(&self, _: &ExportRequest) -> Vec<&'static str> {
        LEDGER_COLUMNS.to_vec()
    }

    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        let page = self
            .stock
            .ledger(
                merchant,
                PAGE,
                cursor.map(|c| rc_store::PageToken(c.to_owned())),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for entry in &page.items {
            let day = time::OffsetDateTime::from_unix_timestamp(entry.at)
                .map(|t| t.date())
                .map_err(|_| "ledger time".to_owned())?;
            if !in_range(request, day) {
                continue;
            }
            for change in &entry.changes {
                if request
                    .filters
                    .get("sku")
                    .is_some_and(|s| s != change.sku.as_str())
                    || request
                        .filters
                        .get("warehouse")
                        .is_some_and(|w| w != change.warehouse.as_str())
                {
                    continue;
                }
                rows.push(vec![
                    text(epoch(entry.at)),
                    text(entry.kind.clone()),
                    text(entry.reason.clone()),
                    text(entry.actor.clone()),
                    text(change.sku.as_str()),
                    text(change.warehouse.as_str()),
                    number(change.on_hand),
                    number(change.reserved),
                ]);
            }
        }
        Ok(SourcePage {
            rows,
            next: page.next.map(|t| t.0),
            pii_orders: Vec::new(),
        })
    }
}

/// Stock now: one row per SKU and warehouse.
pub struct InventorySource {
    pub stock: Arc<StockRepository>,
}

const INVENTORY_COLUMNS: [&str; 5] = ["sku", "warehouse", "on_hand", "reserved", "available"];

#[async_trait]
impl RowSource for InventorySource {
    fn columns(&self, _: &ExportRequest) -> Vec<&'static str> {
        INVENTORY_COLUMNS.to_vec()
    }

    async fn page(
        &self,
        merchant: &MerchantId,
        _: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        let after = cursor
            .map(|c| Sku::parse(c).map_err(|_| "bad cursor".to_owned()))
            .transpose()?;
        let (skus, more) = self
            .stock
            .skus_page(merchant, PAGE, after.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for sku in &skus {
            for (warehouse, level) in self
                .stock
                .levels(merchant, sku)
                .await
                .map_err(|e| e.to_string())?
            {
                rows.push(vec![
                    text(sku.as_str()),
                    text(warehouse.as_str()),
                    number(level.on_hand),
                    number(level.reserved),
                    number(level.available),
                ]);
            }
        }
        Ok(SourcePage {
            rows,
            next: more
                .then(|| skus.last().map(|s| s.as_str().to_owned()))
                .flatten(),
            pii_orders: Vec::new(),
        })
    }
}

/// Shipments: one row per shipment, status by status (the status index), without addresses.
pub struct ShipmentsSource {
    pub shipments: Arc<rc_fulfillment::ShipmentRepository>,
}

pub(crate) const SHIPMENT_COLUMNS: [&str; 14] = [
    "shipment_id",
    "order_id",
    "warehouse",
    "status",
    "reason",
    "units",
    "carrier",
    "service",
    "tracking_code",
    "label_cost",
    "label_currency",
    "confirmation",
    "created_at",
    "updated_at",
];

#[async_trait]
impl RowSource for ShipmentsSource {
    fn columns(&self, _: &ExportRequest) -> Vec<&'static str> {
        SHIPMENT_COLUMNS.to_vec()
    }

    /// The cursor is `<status position>|<last shipment id>`.
    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        cursor: Option<&str>,
    ) -> Result<SourcePage, String> {
        use rc_domain::{ShipmentId, ShipmentStatus};
        let (mut position, mut after) = match cursor {
            None => (0usize, None),
            Some(c) => {
                let (p, a) = c.split_once('|').ok_or("bad cursor")?;
                let after = if a.is_empty() {
                    None
                } else {
                    Some(ShipmentId::parse(a).map_err(|_| "bad cursor".to_owned())?)
                };
                (p.parse().map_err(|_| "bad cursor".to_owned())?, after)
            }
        };
        let wanted = request.filters.get("status");
        loop {
            let Some(status) = ShipmentStatus::ALL.get(position).copied() else {
                return Ok(SourcePage {
                    rows: Vec::new(),
                    next: None,
                    pii_orders: Vec::new(),
                });
            };
            if wanted.is_some_and(|w| w != status.as_str()) {
                position += 1;
                after = None;
                continue;
            }
            let (shipments, next) = self
                .shipments
                .by_status(merchant, status, after.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            let rows = shipments
                .iter()
                .filter(|s| {
                    time::OffsetDateTime::from_unix_timestamp(s.created_at)
                        .is_ok_and(|t| in_range(request, t.date()))
                })
                .map(|s| {
                    let purchase = s.purchase.as_ref();
                    vec![
                        text(s.id.to_string()),
                        text(s.order.to_string()),
                        text(s.warehouse.as_str()),
                        text(s.status.as_str()),
                        s.reason.clone().map_or(Cell::Empty, text),
                        text(
                            s.units
                                .iter()
                                .map(|(sku, n)| format!("{}x{n}", sku.as_str()))
                                .collect::<Vec<_>>()
                                .join(" "),
                        ),
                        purchase.map_or(Cell::Empty, |p| text(p.carrier.clone())),
                        purchase.map_or(Cell::Empty, |p| text(p.service.clone())),
                        purchase.map_or(Cell::Empty, |p| text(p.tracking_code.clone())),
                        purchase
                            .and_then(|p| p.cost.as_ref())
                            .map_or(Cell::Empty, |m| Cell::Number(crate::decimal(m))),
                        purchase
                            .and_then(|p| p.cost.as_ref())
                            .map_or(Cell::Empty, |m| text(m.currency().code())),
                        s.confirmation
                            .as_ref()
                            .map_or(Cell::Empty, |c| text(erased::Tag::tag(&c.state))),
                        text(epoch(s.created_at)),
                        text(epoch(s.updated_at)),
                    ]
                })
                .collect();
            let next = match next {
                Some(id) => Some(format!("{position}|{id}")),
                None if position + 1 < ShipmentStatus::ALL.len() => {
                    Some(format!("{}|", position + 1))
                }
                None => None,
            };
            return Ok(SourcePage {
                rows,
                next,
                pii_orders: Vec::new(),
            });
        }
    }
}

/// The tax report of the request's range, as `GET /v1/reports/tax` answers it (one page: it
/// reads at most 8 items a day), grouped by `filters.group` (`jurisdiction` by default).
pub struct TaxReportSource {
    pub reporter: Arc<rc_tax_records::TaxReporter>,
    pub clock: Arc<dyn rc_domain::Clock>,
}

#[async_trait]
impl RowSource for TaxReportSource {
    fn columns(&self, request: &ExportRequest) -> Vec<&'static str> {
        rc_tax_records::ReportGroup::parse(request.filters.get("group").map(String::as_str))
            .unwrap_or(rc_tax_records::ReportGroup::Jurisdiction)
            .columns()
            .to_vec()
    }

    async fn page(
        &self,
        merchant: &MerchantId,
        request: &ExportRequest,
        _: Option<&str>,
    ) -> Result<SourcePage, String> {
        let group =
            rc_tax_records::ReportGroup::parse(request.filters.get("group").map(String::as_str))
                .map_err(str::to_owned)?;
        let to = request.to.unwrap_or_else(|| self.clock.now().date());
        let from = request.from.unwrap_or(to - time::Duration::days(30));
        let period = rc_tax_records::ReportPeriod { from, to };
        let report = self
            .reporter
            .report(merchant, period, group)
            .await
            .map_err(|e| e.to_string())?;
        let rows = report
            .rows()
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|cell| {
                        if cell
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
                            && !cell.is_empty()
                            && cell != "-"
                        {
                            Cell::Number(cell)
                        } else {
                            Cell::Text(cell)
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(SourcePage {
            rows,
            next: None,
            pii_orders: Vec::new(),
        })
    }
}

/// The sources of every kind this deployment exports.
#[derive(Clone)]
pub struct Sources {
    pub orders: Arc<OrderRepository>,
    pub stock: Arc<StockRepository>,
    pub receipts: Arc<ReceiptLedger>,
    pub shipments: Arc<rc_fulfillment::ShipmentRepository>,
    pub tax: Arc<rc_tax_records::TaxReporter>,
    pub clock: Arc<dyn rc_domain::Clock>,
    /// The account's own records (the account export).
    pub account: crate::account::AccountRecords,
}

impl Sources {
    /// The source of `kind` (`None` is kept for a kind a deployment cannot export).
    pub fn of(&self, kind: ExportKind) -> Option<Arc<dyn RowSource>> {
        Some(match kind {
            ExportKind::Orders => Arc::new(OrdersSource {
                orders: self.orders.clone(),
            }),
            ExportKind::Receipts => Arc::new(ReceiptsSource {
                receipts: self.receipts.clone(),
            }),
            ExportKind::StockLedger => Arc::new(LedgerSource {
                stock: self.stock.clone(),
            }),
            ExportKind::Inventory => Arc::new(InventorySource {
                stock: self.stock.clone(),
            }),
            ExportKind::Shipments => Arc::new(ShipmentsSource {
                shipments: self.shipments.clone(),
            }),
            ExportKind::TaxReport => Arc::new(TaxReportSource {
                reporter: self.tax.clone(),
                clock: self.clock.clone(),
            }),
            ExportKind::Account => Arc::new(crate::account::AccountSource {
                sources: self.clone(),
            }),
        })
    }
}
