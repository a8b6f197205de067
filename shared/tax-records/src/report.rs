//! The tax report: aggregates only — never an order, never a buyer — over the records of a
//! date range, in one of the shapes an accountant asks for:
//!
//! - `jurisdiction` (default): per currency, jurisdiction, component, rate, scheme and liable
//!   party: taxable value, tax, orders;
//! - `gstr1`: India's GSTR-1 B2C summary (table 7), per place of supply and GST rate: taxable
//!   value once per line, IGST, CGST, SGST/UTGST, cess, orders;
//! - `oss`: the EU OSS/IOSS return's lines, per scheme, member state of consumption and rate:
//!   taxable value, VAT, orders.
//!
//! Void records (cancelled orders) are skipped; flagged ones are counted, so a report over an
//! incomplete period says it is. It reads the tax partition only: one query page per 500
//! records of each month in the range.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rc_domain::{Currency, MerchantId};
use rc_store::{PageToken, Store};
use rc_tax::{Component, Liable, Scheme, TaxRecord};
use serde::Serialize;
use time::{Date, Month};

pub use crate::keys::iso;
use crate::records::from_item;
use crate::{StoredTaxRecord, TaxRecordError, TaxRecordState, keys};

/// Records read per query page.
pub const PAGE: usize = 500;
/// The longest period one report covers (a year, leap or not).
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportGroup {
    Jurisdiction,
    Gstr1,
    Oss,
}

impl ReportGroup {
    pub fn parse(raw: Option<&str>) -> Result<Self, &'static str> {
        match raw {
            None | Some("jurisdiction") => Ok(Self::Jurisdiction),
            Some("gstr1") => Ok(Self::Gstr1),
            Some("oss") => Ok(Self::Oss),
            Some(_) => Err("group"),
        }
    }

    fn columns(&self) -> &'static [&'static str] {
        match self {
            Self::Jurisdiction => &[
                "currency",
                "jurisdiction",
                "component",
                "rate_percent",
                "scheme",
                "liable",
                "taxable_value",
                "tax",
                "orders",
            ],
            Self::Gstr1 => &[
                "currency",
                "place_of_supply",
                "rate_percent",
                "taxable_value",
                "igst",
                "cgst",
                "sgst_utgst",
                "cess",
                "orders",
            ],
            Self::Oss => &[
                "currency",
                "scheme",
                "member_state",
                "rate_percent",
                "taxable_value",
                "vat",
                "orders",
            ],
        }
    }
}

/// A report's days, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    pub from: Date,
    pub to: Date,
}

impl ReportPeriod {
    /// `from` and `to` as `YYYY-MM-DD`, `from` ≤ `to`, at most [`MAX_DAYS`] days; the field at
    /// fault when refused.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, &'static str> {
        let day = |raw: Option<&str>, field| {
            raw.and_then(|r| {
                Date::parse(r, time::macros::format_description!("[year]-[month]-[day]")).ok()
            })
            .ok_or(field)
        };
        let (from, to) = (day(from, "from")?, day(to, "to")?);
        if to < from || (to - from).whole_days() >= MAX_DAYS {
            return Err("to");
        }
        Ok(Self { from, to })
    }

    /// The `D#YYYY-MM` key prefix of every month the period touches.
    fn months(&self) -> Vec<String> {
        let mut months = Vec::new();
        let (mut year, mut month) = (self.from.year(), self.from.month());
        loop {
            months.push(format!("D#{year:04}-{:02}", u8::from(month)));
            if (year, month) == (self.to.year(), self.to.month()) {
                return months;
            }
            if month == Month::December {
                year += 1;
            }
            month = month.next();
        }
    }
}

/// One cell: text, a count, or an amount in a currency's minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Text(String),
    Count(u64),
    Amount(i64, u32),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Count(n) => n.to_string(),
            Self::Amount(minor, exponent) => decimal(*minor, *exponent),
        }
    }
}

/// `minor` minor units as a decimal string with `exponent` digits after the point.
fn decimal(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale.unsigned_abs(),
        abs % scale.unsigned_abs(),
        width = exponent as usize
    )
}

/// `1800` → `18`, `2550` → `25.5`, `25` → `0.25`.
fn percent(bp: Option<u32>) -> String {
    let Some(bp) = bp else {
        return String::new();
    };
    let text = format!("{}.{:02}", bp / 100, bp % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Sums of one row.
#[derive(Debug, Default)]
struct Sums {
    amounts: Vec<i64>,
    orders: BTreeSet<String>,
}

impl Sums {
    fn add(&mut self, at: usize, amount: i64) {
        if self.amounts.len() <= at {
            self.amounts.resize(at + 1, 0);
        }
        self.amounts[at] = self.amounts[at].saturating_add(amount);
    }
}

/// Aggregates records into rows, one record at a time.
#[derive(Debug)]
pub struct Aggregator {
    group: ReportGroup,
    rows: BTreeMap<Vec<String>, Sums>,
    /// Records counted (computed), flagged (not computable), void (cancelled).
    pub computed: u64,
    pub flagged: u64,
    pub void: u64,
}

impl Aggregator {
    pub fn new(group: ReportGroup) -> Self {
        Self {
            group,
            rows: BTreeMap::new(),
            computed: 0,
            flagged: 0,
            void: 0,
        }
    }

    pub fn add(&mut self, record: &StoredTaxRecord) {
        match record.state {
            TaxRecordState::Void => self.void += 1,
            TaxRecordState::Flagged => self.flagged += 1,
            TaxRecordState::Computed => {
                self.computed += 1;
                if let Some(owed) = &record.owed {
                    self.add_owed(&record.order, owed);
                }
            }
        }
    }

    fn row(&mut self, key: Vec<String>, order: &str) -> &mut Sums {
        let sums = self.rows.entry(key).or_default();
        if !sums.orders.contains(order) {
            sums.orders.insert(order.to_owned());
        }
        sums
    }

    fn add_owed(&mut self, order: &str, owed: &TaxRecord) {
        let currency = owed.currency.clone();
        match self.group {
            ReportGroup::Jurisdiction => {
                for amount in owed.lines.iter().flat_map(|l| &l.amounts) {
                    let key = vec![
                        currency.clone(),
                        amount.jurisdiction.clone(),
                        snake(&amount.component),
                        percent(amount.rate.map(|r| r.bp())),
                        snake(&owed.scheme),
                        snake(&owed.liable),
                    ];
                    let sums = self.row(key, order);
                    sums.add(0, amount.taxable);
                    sums.add(1, amount.tax);
                }
            }
            ReportGroup::Gstr1 => {
                let indian = owed.lines.iter().flat_map(|l| &l.amounts).any(|a| {
                    matches!(
                        a.component,
                        Component::Igst | Component::Cgst | Component::Sgst | Component::Utgst
                    )
                });
                if !indian || owed.liable != Liable::Merchant {
                    return;
                }
                for line in &owed.lines {
                    let gst = |c: Component| {
                        line.amounts
                            .iter()
                            .filter(|a| a.component == c)
                            .map(|a| a.tax)
                            .sum::<i64>()
                    };
                    let levy: Vec<_> = line
                        .amounts
                        .iter()
                        .filter(|a| a.component != Component::Cess)
                        .collect();
                    let Some(first) = levy.first() else { continue };
                    let rate: u32 = levy.iter().filter_map(|a| a.rate.map(|r| r.bp())).sum();
                    let key = vec![
                        currency.clone(),
                        first.jurisdiction.clone(),
                        percent(Some(rate)),
                    ];
                    let taxable = first.taxable;
                    let (igst, cgst) = (gst(Component::Igst), gst(Component::Cgst));
                    let state = gst(Component::Sgst) + gst(Component::Utgst);
                    let cess = gst(Component::Cess);
                    let sums = self.row(key, order);
                    for (at, amount) in [taxable, igst, cgst, state, cess].into_iter().enumerate() {
                        sums.add(at, amount);
                    }
                }
            }
            ReportGroup::Oss => {
                if !matches!(owed.scheme, Scheme::Oss | Scheme::Ioss)
                    || owed.liable != Liable::Merchant
                {
                    return;
                }
                for amount in owed.lines.iter().flat_map(|l| &l.amounts) {
                    if amount.component != Component::Vat {
                        continue;
                    }
                    let key = vec![
                        currency.clone(),
                        snake(&owed.scheme),
                        amount.jurisdiction.clone(),
                        percent(amount.rate.map(|r| r.bp())),
                    ];
                    let sums = self.row(key, order);
                    sums.add(0, amount.taxable);
                    sums.add(1, amount.tax);
                }
            }
        }
    }

    pub fn finish(self, period: ReportPeriod, stats: ReadStats) -> TaxReport {
        let amounts = self.group.columns().len() - 1 - key_width(self.group);
        let rows = self
            .rows
            .into_iter()
            .map(|(key, sums)| {
                let exponent = Currency::parse(&key[0]).map_or(2, |c| c.exponent());
                let mut row: Vec<Cell> = key.into_iter().map(Cell::Text).collect();
                for at in 0..amounts {
                    row.push(Cell::Amount(
                        sums.amounts.get(at).copied().unwrap_or(0),
                        exponent,
                    ));
                }
                row.push(Cell::Count(sums.orders.len() as u64));
                row
            })
            .collect();
        TaxReport {
            group: self.group,
            period,
            rows,
            computed: self.computed,
            flagged: self.flagged,
            void: self.void,
            stats,
        }
    }
}

fn key_width(group: ReportGroup) -> usize {
    match group {
        ReportGroup::Jurisdiction => 6,
        ReportGroup::Gstr1 => 3,
        ReportGroup::Oss => 4,
    }
}

/// What producing a report read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadStats {
    /// Query pages read (store requests).
    pub pages: u64,
    /// Items read (tax records only).
    pub items: u64,
}

#[derive(Debug)]
pub struct TaxReport {
    pub group: ReportGroup,
    pub period: ReportPeriod,
    rows: Vec<Vec<Cell>>,
    /// Orders counted, orders flagged (their tax unknown: fix and recompute), orders void.
    pub computed: u64,
    pub flagged: u64,
    pub void: u64,
    pub stats: ReadStats,
}

impl TaxReport {
    /// The report as JSON: its period and counts, and its rows as objects keyed by column.
    pub fn to_json(&self) -> serde_json::Value {
        let columns = self.group.columns();
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object = columns
                    .iter()
                    .zip(row)
                    .map(|(name, cell)| {
                        let value = match cell {
                            Cell::Count(n) => serde_json::json!(n),
                            other => serde_json::json!(other.text()),
                        };
                        ((*name).to_owned(), value)
                    })
                    .collect::<serde_json::Map<_, _>>();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::json!({
            "group": self.group,
            "from": keys::iso(self.period.from),
            "to": keys::iso(self.period.to),
            "orders": {"counted": self.computed, "flagged": self.flagged, "void": self.void},
            "rows": rows,
        })
    }

    /// The rows as CSV (RFC 4180): a header, then one line per row. Cells are codes, numbers
    /// and decimal amounts; any cell that could read as a formula is quoted with a leading `'`.
    pub fn to_csv(&self) -> String {
        let mut out = self.group.columns().join(",");
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| csv_cell(&c.text())).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The rows, as text cells (tests and benchmarks compare reports with this).
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| r.iter().map(Cell::text).collect())
            .collect()
    }
}

fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// Reads records for reports.
pub struct TaxReporter {
    data: Arc<dyn Store>,
}

impl TaxReporter {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    pub async fn report(
        &self,
        merchant: &MerchantId,
        period: ReportPeriod,
        group: ReportGroup,
    ) -> Result<TaxReport, TaxRecordError> {
        let mut aggregator = Aggregator::new(group);
        let mut stats = ReadStats::default();
        let partition = keys::records_partition(merchant);
        let (first, last) = (
            format!("D#{}", keys::iso(period.from)),
            format!("D#{}#~", keys::iso(period.to)),
        );
        for month in period.months() {
            let mut after: Option<PageToken> = None;
            loop {
                let page = self
                    .data
                    .query_partition(&partition, &month, PAGE, after)
                    .await?;
                stats.pages += 1;
                for item in &page.items {
                    stats.items += 1;
                    if item.key.sk < first || item.key.sk > last {
                        continue;
                    }
                    aggregator.add(&from_item(item)?);
                }
                match page.next {
                    Some(token) => after = Some(token),
                    None => break,
                }
            }
        }
        Ok(aggregator.finish(period, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_or_say_which_field() {
        let ok = ReportPeriod::parse(Some("2025-12-15"), Some("2026-02-03")).expect("period");
        assert_eq!(ok.months(), vec!["D#2025-12", "D#2026-01", "D#2026-02"]);
        let cases = [
            (None, Some("2026-01-01"), "from"),
            (Some("2026-01-01"), None, "to"),
            (Some("2026-13-01"), Some("2026-12-31"), "from"),
            (Some("2026-02-01"), Some("2026-01-31"), "to"),
            (Some("2025-01-01"), Some("2026-01-02"), "to"),
        ];
        for (from, to, field) in cases {
            assert_eq!(ReportPeriod::parse(from, to), Err(field));
        }
        // A leap year's 366 days fit.
        assert!(ReportPeriod::parse(Some("2028-01-01"), Some("2028-12-31")).is_ok());
        assert_eq!(ReportGroup::parse(Some("vat")), Err("group"));
    }

    #[test]
    fn numbers_print_exactly() {
        assert_eq!(decimal(123_456, 2), "1234.56");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(decimal(7, 0), "7");
        assert_eq!(decimal(1_005, 3), "1.005");
        assert_eq!(percent(Some(1_800)), "18");
        assert_eq!(percent(Some(2_550)), "25.5");
        assert_eq!(percent(Some(25)), "0.25");
        assert_eq!(percent(None), "");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
