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
//! incomplete period says it is. It reads the daily totals each record's write keeps (at most
//! [`crate::TOTAL_SHARDS`] items a day, one query page per 500 of a month), never an order or a
//! PII item; [`TaxReporter::report_from_records`] sums the records themselves instead.

use std::collections::BTreeMap;
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

    pub fn columns(&self) -> &'static [&'static str] {
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

    /// The `<kind>#YYYY-MM` key prefix of every month the period touches.
    fn months(&self, kind: char) -> Vec<String> {
        let mut months = Vec::new();
        let (mut year, mut month) = (self.from.year(), self.from.month());
        loop {
            months.push(format!("{kind}#{year:04}-{:02}", u8::from(month)));
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

/// The separator of a contribution name's parts (never in a code: see [`part`]).
const SEP: char = '|';
/// The names of the record counters.
const COMPUTED: &str = "#computed";
const FLAGGED: &str = "#flagged";
const VOID: &str = "#void";

impl ReportGroup {
    fn tag(&self) -> &'static str {
        match self {
            Self::Jurisdiction => "j",
            Self::Gstr1 => "g",
            Self::Oss => "o",
        }
    }

    /// How many leading columns make a row's key.
    fn key_width(&self) -> usize {
        match self {
            Self::Jurisdiction => 6,
            Self::Gstr1 => 3,
            Self::Oss => 4,
        }
    }
}

/// A key part as a name may hold it: a code, with any separator replaced.
fn part(raw: &str) -> String {
    raw.replace(SEP, "/")
}

/// What one record adds to the totals, by name: `<group>|<key parts>|<column>` for each row it
/// touches (its `orders` column 1), and the counters (`#computed`, `#flagged`, `#void`). The
/// daily totals are sums of these; subtracting a record's old contributions and adding its new
/// ones keeps them equal to the sum over the records.
pub fn contributions(record: &StoredTaxRecord) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    match record.state {
        TaxRecordState::Void => {
            out.insert(VOID.to_owned(), 1);
        }
        TaxRecordState::Flagged => {
            out.insert(FLAGGED.to_owned(), 1);
        }
        TaxRecordState::Computed => {
            out.insert(COMPUTED.to_owned(), 1);
            if let Some(owed) = &record.owed {
                for group in [
                    ReportGroup::Jurisdiction,
                    ReportGroup::Gstr1,
                    ReportGroup::Oss,
                ] {
                    for (key, amounts) in rows_of(group, owed) {
                        let columns = group.columns();
                        let prefix =
                            format!("{}{SEP}{}{SEP}", group.tag(), key.join(&SEP.to_string()));
                        let width = group.key_width();
                        for (at, amount) in amounts.into_iter().enumerate() {
                            if amount != 0 {
                                *out.entry(format!("{prefix}{}", columns[width + at]))
                                    .or_default() += amount;
                            }
                        }
                        out.insert(format!("{prefix}orders"), 1);
                    }
                }
            }
        }
    }
    out
}

/// The rows one owed record touches in `group`: key parts and amounts (in column order).
fn rows_of(group: ReportGroup, owed: &TaxRecord) -> BTreeMap<Vec<String>, Vec<i64>> {
    let mut rows: BTreeMap<Vec<String>, Vec<i64>> = BTreeMap::new();
    let currency = part(&owed.currency);
    let mut add = |key: Vec<String>, amounts: &[i64]| {
        let row = rows.entry(key).or_insert_with(|| vec![0; amounts.len()]);
        for (sum, amount) in row.iter_mut().zip(amounts) {
            *sum = sum.saturating_add(*amount);
        }
    };
    match group {
        ReportGroup::Jurisdiction => {
            for amount in owed.lines.iter().flat_map(|l| &l.amounts) {
                let key = vec![
                    currency.clone(),
                    part(&amount.jurisdiction),
                    snake(&amount.component),
                    percent(amount.rate.map(|r| r.bp())),
                    snake(&owed.scheme),
                    snake(&owed.liable),
                ];
                add(key, &[amount.taxable, amount.tax]);
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
                return rows;
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
                    part(&first.jurisdiction),
                    percent(Some(rate)),
                ];
                let state = gst(Component::Sgst) + gst(Component::Utgst);
                add(
                    key,
                    &[
                        first.taxable,
                        gst(Component::Igst),
                        gst(Component::Cgst),
                        state,
                        gst(Component::Cess),
                    ],
                );
            }
        }
        ReportGroup::Oss => {
            if !matches!(owed.scheme, Scheme::Oss | Scheme::Ioss) || owed.liable != Liable::Merchant
            {
                return rows;
            }
            for amount in owed.lines.iter().flat_map(|l| &l.amounts) {
                if amount.component != Component::Vat {
                    continue;
                }
                let key = vec![
                    currency.clone(),
                    snake(&owed.scheme),
                    part(&amount.jurisdiction),
                    percent(amount.rate.map(|r| r.bp())),
                ];
                add(key, &[amount.taxable, amount.tax]);
            }
        }
    }
    rows
}

/// Sums of contributions: a period's daily totals added up, or its records' contributions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals(BTreeMap<String, i64>);

impl Totals {
    pub fn add(&mut self, name: &str, value: i64) {
        let sum = self.0.entry(name.to_owned()).or_default();
        *sum = sum.saturating_add(value);
    }

    pub fn add_all(&mut self, contributions: &BTreeMap<String, i64>) {
        for (name, value) in contributions {
            self.add(name, *value);
        }
    }

    fn count(&self, name: &str) -> u64 {
        u64::try_from(self.0.get(name).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// The report of `group` from these totals.
    pub fn report(&self, group: ReportGroup, period: ReportPeriod, stats: ReadStats) -> TaxReport {
        let columns = group.columns();
        let width = group.key_width();
        let tag = format!("{}{SEP}", group.tag());
        let mut rows: BTreeMap<Vec<String>, BTreeMap<&str, i64>> = BTreeMap::new();
        for (name, value) in self.0.range(tag.clone()..) {
            let Some(rest) = name.strip_prefix(&tag) else {
                break;
            };
            let parts: Vec<&str> = rest.split(SEP).collect();
            let Some((column, key)) = parts.split_last() else {
                continue;
            };
            let Some(column) = columns.iter().find(|c| *c == column) else {
                continue;
            };
            if key.len() != width {
                continue;
            }
            let key: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
            *rows.entry(key).or_default().entry(column).or_default() += value;
        }
        let rows = rows
            .into_iter()
            .filter(|(_, sums)| sums.get("orders").copied().unwrap_or(0) > 0)
            .map(|(key, sums)| {
                let exponent = Currency::parse(&key[0]).map_or(2, |c| c.exponent());
                let mut row: Vec<Cell> = key.into_iter().map(Cell::Text).collect();
                for column in &columns[width..columns.len() - 1] {
                    row.push(Cell::Amount(
                        sums.get(column).copied().unwrap_or(0),
                        exponent,
                    ));
                }
                row.push(Cell::Count(
                    u64::try_from(sums.get("orders").copied().unwrap_or(0)).unwrap_or(0),
                ));
                row
            })
            .collect();
        TaxReport {
            group,
            period,
            rows,
            computed: self.count(COMPUTED),
            flagged: self.count(FLAGGED),
            void: self.count(VOID),
            stats,
        }
    }
}

/// What producing a report read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadStats {
    /// Query pages read (store requests).
    pub pages: u64,
    /// Items read (daily totals, or records; never anything else).
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

/// Reads reports: from the daily totals (what the API serves), or by walking the records
/// themselves (the same figures, proved equal by the tests; the audit path).
pub struct TaxReporter {
    data: Arc<dyn Store>,
}

impl TaxReporter {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    /// Every item of the merchant's tax partition under `kind` (`T` totals, `D` records) in
    /// the period's days, page by page.
    async fn each(
        &self,
        merchant: &MerchantId,
        period: ReportPeriod,
        kind: char,
        stats: &mut ReadStats,
        visit: &mut (dyn FnMut(&rc_store::Item) -> Result<(), TaxRecordError> + Send),
    ) -> Result<(), TaxRecordError> {
        let partition = keys::records_partition(merchant);
        let (first, last) = (
            format!("{kind}#{}", keys::iso(period.from)),
            format!("{kind}#{}#~", keys::iso(period.to)),
        );
        for month in period.months(kind) {
            let mut after: Option<PageToken> = None;
            loop {
                let page = self
                    .data
                    .query_partition(&partition, &month, PAGE, after)
                    .await?;
                stats.pages += 1;
                for item in &page.items {
                    stats.items += 1;
                    if item.key.sk >= first && item.key.sk <= last {
                        visit(item)?;
                    }
                }
                match page.next {
                    Some(token) => after = Some(token),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// The report from the daily totals: a few items per day, whatever the number of orders.
    pub async fn report(
        &self,
        merchant: &MerchantId,
        period: ReportPeriod,
        group: ReportGroup,
    ) -> Result<TaxReport, TaxRecordError> {
        let mut totals = Totals::default();
        let mut stats = ReadStats::default();
        self.each(merchant, period, 'T', &mut stats, &mut |item| {
            for (name, value) in &item.attrs {
                if let rc_store::Value::N(n) = value {
                    totals.add(name, *n);
                }
            }
            Ok(())
        })
        .await?;
        Ok(totals.report(group, period, stats))
    }

    /// The report from the records themselves, one by one.
    pub async fn report_from_records(
        &self,
        merchant: &MerchantId,
        period: ReportPeriod,
        group: ReportGroup,
    ) -> Result<TaxReport, TaxRecordError> {
        let mut totals = Totals::default();
        let mut stats = ReadStats::default();
        self.each(merchant, period, 'D', &mut stats, &mut |item| {
            totals.add_all(&contributions(&from_item(item)?));
            Ok(())
        })
        .await?;
        Ok(totals.report(group, period, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_or_say_which_field() {
        let ok = ReportPeriod::parse(Some("2025-12-15"), Some("2026-02-03")).expect("period");
        assert_eq!(ok.months('D'), vec!["D#2025-12", "D#2026-01", "D#2026-02"]);
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

    fn record(order: &str, to: &str, state: TaxRecordState) -> StoredTaxRecord {
        use rc_tax::{LineInput, Place, TaxInput, provider_for};
        let place = |region: &str| Place {
            country: "IN".into(),
            region: Some(region.into()),
        };
        let input = TaxInput {
            currency: Currency::parse("INR").expect("inr"),
            date: time::macros::date!(2026 - 11 - 02),
            prices_include_tax: false,
            lines: vec![LineInput {
                quantity: 2,
                unit_price: 100_000,
                discount: 0,
                gst: Some(rc_tax::india::seed_classes()["gst-18"].clone()),
                vat: None,
                from: None,
            }],
            shipping: 5_000,
            from: place("MH"),
            to: place(to),
            below_eu_threshold: false,
            reported_scheme: None,
            channel: None,
        };
        StoredTaxRecord {
            order: order.into(),
            day: "2026-11-02".into(),
            state,
            reason: None,
            provider: Some("india_gst".into()),
            currency: "INR".into(),
            ship_from: vec!["IN-MH".into()],
            ship_to: format!("IN-{to}"),
            owed: (state == TaxRecordState::Computed)
                .then(|| provider_for(&input).compute(&input).expect("gst")),
            charged: None,
            order_version: 1,
            computed_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn totals_moved_by_differences_equal_the_records() {
        let period = ReportPeriod::parse(Some("2026-11-01"), Some("2026-11-30")).expect("period");
        let (a, b) = (
            record("o1", "MH", TaxRecordState::Computed),
            record("o2", "KA", TaxRecordState::Computed),
        );
        let mut totals = Totals::default();
        totals.add_all(&contributions(&a));
        totals.add_all(&contributions(&b));
        // o1 recomputed as shipped to Karnataka, then cancelled: each change moves the totals
        // by its difference only.
        let moved = record("o1", "KA", TaxRecordState::Computed);
        let cancelled = record("o1", "KA", TaxRecordState::Void);
        for (old, new) in [(&a, &moved), (&moved, &cancelled)] {
            for (name, value) in contributions(old) {
                totals.add(&name, -value);
            }
            totals.add_all(&contributions(new));
        }
        let mut direct = Totals::default();
        direct.add_all(&contributions(&cancelled));
        direct.add_all(&contributions(&b));
        for group in [
            ReportGroup::Jurisdiction,
            ReportGroup::Gstr1,
            ReportGroup::Oss,
        ] {
            let stats = ReadStats::default();
            let (moved, direct) = (
                totals.report(group, period, stats),
                direct.report(group, period, stats),
            );
            assert_eq!(moved.rows(), direct.rows(), "{group:?}");
            assert_eq!((moved.computed, moved.void), (1, 1));
        }
        // Only o2 remains counted: one GSTR-1 row, Karnataka at 18 %, IGST on ₹2,050.
        let gstr1 = totals.report(ReportGroup::Gstr1, period, ReadStats::default());
        assert_eq!(
            gstr1.rows(),
            vec![vec![
                "INR", "IN-KA", "18", "2050.00", "369.00", "0.00", "0.00", "0.00", "1"
            ]]
        );
        assert!(
            gstr1
                .to_csv()
                .starts_with("currency,place_of_supply,rate_percent")
        );
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
