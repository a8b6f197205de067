//! What a merchant may ask to export, parsed once at the edge: the kind, the format, an optional
//! day range (at most [`MAX_RANGE_DAYS`]), the filters the kind has, and whether buyer PII is
//! included (only kinds that hold it). A request that parses is one the worker can run.

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

/// The longest range one export covers (a year, as the tax report): longer ones are several.
pub const MAX_RANGE_DAYS: i64 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// One row per order line.
    Orders,
    Shipments,
    /// Stock per SKU and warehouse now.
    Inventory,
    StockLedger,
    /// Deletion receipts.
    Receipts,
    TaxReport,
    /// Everything RetailCoder holds for the merchant (the "data export").
    Account,
}

impl ExportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Shipments => "shipments",
            Self::Inventory => "inventory",
            Self::StockLedger => "stock_ledger",
            Self::Receipts => "receipts",
            Self::TaxReport => "tax_report",
            Self::Account => "account",
        }
    }

    /// Whether its rows are dated (so a range applies).
    fn dated(self) -> bool {
        !matches!(self, Self::Inventory | Self::Account)
    }

    /// Whether its rows can carry buyer PII when asked for.
    pub fn can_hold_pii(self) -> bool {
        matches!(self, Self::Orders | Self::Shipments | Self::Account)
    }

    /// The filters it takes.
    fn filters(self) -> &'static [&'static str] {
        match self {
            Self::Orders => &["status", "channel"],
            Self::Shipments => &["status"],
            Self::StockLedger => &["sku", "warehouse"],
            Self::TaxReport => &["group"],
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// RFC 4180 with a header row.
    #[default]
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/x-ndjson",
        }
    }
}

/// Why a request was refused: a machine-readable reason and the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct RequestError {
    pub reason: &'static str,
    pub field: &'static str,
}

fn refused(reason: &'static str, field: &'static str) -> RequestError {
    RequestError { reason, field }
}

/// The body of `POST /v1/exports`, as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    kind: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    filters: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    include_pii: bool,
}

/// A parsed export request. Its canonical JSON (`serde_json::to_string`) is what an
/// `Idempotency-Key` is compared on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub kind: ExportKind,
    pub format: ExportFormat,
    /// Inclusive days (UTC).
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub filters: std::collections::BTreeMap<String, String>,
    pub include_pii: bool,
}

fn day(raw: &str, field: &'static str) -> Result<Date, RequestError> {
    Date::parse(raw, format_description!("[year]-[month]-[day]"))
        .map_err(|_| refused("invalid_field", field))
}

fn named<T: for<'de> Deserialize<'de>>(raw: &str, field: &'static str) -> Result<T, RequestError> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map_err(|_| refused("invalid_field", field))
}

impl ExportRequest {
    /// Parses a request body; `today` (UTC) bounds the range.
    pub fn parse(body: &[u8], today: Date) -> Result<Self, RequestError> {
        let raw: RawRequest =
            serde_json::from_slice(body).map_err(|_| refused("invalid_body", "body"))?;
        let kind: ExportKind =
            named(&raw.kind, "kind").map_err(|_| refused("unknown_kind", "kind"))?;
        let format = match raw.format.as_deref() {
            None => ExportFormat::default(),
            Some(f) => named(f, "format").map_err(|_| refused("unknown_format", "format"))?,
        };
        let from = raw.from.as_deref().map(|d| day(d, "from")).transpose()?;
        let to = raw.to.as_deref().map(|d| day(d, "to")).transpose()?;
        if !kind.dated() && (from.is_some() || to.is_some()) {
            return Err(refused(
                "not_dated",
                if from.is_some() { "from" } else { "to" },
            ));
        }
        if to.is_some_and(|to| to > today) {
            return Err(refused("in_the_future", "to"));
        }
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(refused("from_after_to", "from"));
            }
            if (to - from).whole_days() + 1 > MAX_RANGE_DAYS {
                return Err(refused("range_too_long", "to"));
            }
        }
        if let (Some(from), None) = (from, to)
            && (today - from).whole_days() + 1 > MAX_RANGE_DAYS
        {
            return Err(refused("range_too_long", "from"));
        }
        for (name, value) in &raw.filters {
            if !kind.filters().contains(&name.as_str()) {
                return Err(refused("unknown_filter", "filters"));
            }
            if value.is_empty() || value.len() > 100 || value.chars().any(char::is_control) {
                return Err(refused("invalid_field", "filters"));
            }
            if name == "group" && !matches!(value.as_str(), "jurisdiction" | "gstr1" | "oss") {
                return Err(refused("invalid_field", "filters"));
            }
        }
        if raw.include_pii && !kind.can_hold_pii() {
            return Err(refused("no_pii_in_kind", "include_pii"));
        }
        Ok(Self {
            kind,
            format,
            from,
            to,
            filters: raw.filters,
            include_pii: raw.include_pii,
        })
    }

    /// The canonical form an `Idempotency-Key` is compared on.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 30);

    #[test]
    fn requests_parse_or_say_which_field_is_wrong() {
        type Expected = Result<(), (&'static str, &'static str)>;
        let cases: &[(&str, Expected)] = &[
            (r#"{"kind": "orders"}"#, Ok(())),
            (
                r#"{"kind": "orders", "format": "jsonl", "from": "2026-01-01", "to": "2026-11-30"}"#,
                Ok(()),
            ),
            (r#"{"kind": "account", "include_pii": true}"#, Ok(())),
            (
                r#"{"kind": "stock_ledger", "filters": {"sku": "CUP-1"}}"#,
                Ok(()),
            ),
            (r#"{"kind": "everything"}"#, Err(("unknown_kind", "kind"))),
            (
                r#"{"kind": "orders", "format": "xlsx"}"#,
                Err(("unknown_format", "format")),
            ),
            (
                r#"{"kind": "orders", "from": "2026-11-30", "to": "2026-11-01"}"#,
                Err(("from_after_to", "from")),
            ),
            (
                r#"{"kind": "orders", "from": "2016-01-01", "to": "2026-01-01"}"#,
                Err(("range_too_long", "to")),
            ),
            (
                r#"{"kind": "orders", "from": "2016-01-01"}"#,
                Err(("range_too_long", "from")),
            ),
            (
                r#"{"kind": "orders", "to": "2026-12-01"}"#,
                Err(("in_the_future", "to")),
            ),
            (
                r#"{"kind": "orders", "from": "30/11/2026"}"#,
                Err(("invalid_field", "from")),
            ),
            (
                r#"{"kind": "inventory", "from": "2026-11-01"}"#,
                Err(("not_dated", "from")),
            ),
            (
                r#"{"kind": "tax_report", "include_pii": true}"#,
                Err(("no_pii_in_kind", "include_pii")),
            ),
            (
                r#"{"kind": "orders", "filters": {"warehouse": "main"}}"#,
                Err(("unknown_filter", "filters")),
            ),
            (
                r#"{"kind": "orders", "filters": {"status": ""}}"#,
                Err(("invalid_field", "filters")),
            ),
            (
                r#"{"kind": "orders", "extra": 1}"#,
                Err(("invalid_body", "body")),
            ),
            (r#"[1, 2]"#, Err(("invalid_body", "body"))),
        ];
        for (body, expected) in cases {
            let got = ExportRequest::parse(body.as_bytes(), TODAY)
                .map(|_| ())
                .map_err(|e| (e.reason, e.field));
            assert_eq!(&got, expected, "{body}");
        }
    }

    #[test]
    fn the_canonical_form_ignores_how_the_request_was_written() {
        let a = ExportRequest::parse(br#"{"kind": "orders", "format": "csv"}"#, TODAY).expect("a");
        let b = ExportRequest::parse(br#"{"format":"csv","kind":"orders"}"#, TODAY).expect("b");
        let c = ExportRequest::parse(br#"{"kind": "orders"}"#, TODAY).expect("c");
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), c.canonical(), "csv is the default");
        let d =
            ExportRequest::parse(br#"{"kind": "orders", "include_pii": true}"#, TODAY).expect("d");
        assert_ne!(a.canonical(), d.canonical());
    }
}
