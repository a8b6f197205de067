//! The pages' shapes (askama templates, HTML-escaped by default) and the small formatting
//! rules they share. Pages are filled from the merchant API's answers, so what a page shows
//! is exactly what the user's role may read through the API.

use askama::Template;
use serde_json::Value;

use crate::cookies::{Dates, Preferences};

/// A link in the main navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What every signed-in page carries: the navigation, the user's role, the CSRF token every
/// form posts back, and the density.
pub struct Chrome {
    pub nav: Vec<NavItem>,
    pub role: &'static str,
    pub csrf: String,
    pub compact: bool,
}

pub const NAV: [(&str, &str); 7] = [
    ("/app/needs-action", "Needs action"),
    ("/app/orders", "Orders"),
    ("/app/shipments", "Shipments"),
    ("/app/inventory", "Inventory"),
    ("/app/exports", "Exports"),
    ("/app/privacy", "Privacy center"),
    ("/app/settings", "Settings"),
];

impl Chrome {
    pub fn new(active: &str, role: &'static str, csrf: &str, prefs: Preferences) -> Self {
        Self {
            nav: NAV
                .iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    active: *href == active,
                })
                .collect(),
            role,
            csrf: csrf.to_owned(),
            compact: prefs.density == crate::cookies::Density::Compact,
        }
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: &'static str,
    pub reason: &'static str,
}

/// A table cell: text, or a link, or a button posting to `action`, or a status badge.
#[derive(Default)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub action: Option<String>,
    pub badge: String,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
    pub fn link(text: impl Into<String>, href: String) -> Self {
        Self {
            text: text.into(),
            href: Some(href),
            ..Self::default()
        }
    }
    pub fn badge(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            badge: css_word(&text),
            text,
            ..Self::default()
        }
    }
    pub fn action(label: &str, action: String) -> Self {
        Self {
            text: label.to_owned(),
            action: Some(action),
            ..Self::default()
        }
    }
}

/// A filter link above a table.
pub struct Filter {
    pub href: String,
    pub label: String,
    pub active: bool,
}

/// One row of filter links: a label ("Status") and its choices.
pub struct FilterGroup {
    pub label: &'static str,
    pub choices: Vec<Filter>,
}

pub struct Section {
    pub heading: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub empty: &'static str,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "table.html")]
pub struct TablePage {
    pub chrome: Chrome,
    pub title: String,
    pub intro: String,
    pub filters: Vec<FilterGroup>,
    pub sections: Vec<Section>,
}

pub struct BuyerView {
    pub reason: &'static str,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
}

#[derive(Template)]
#[template(path = "order.html")]
pub struct OrderPage {
    pub chrome: Chrome,
    pub id: String,
    pub reference: String,
    pub channel: String,
    pub status: String,
    pub placed: String,
    pub total: String,
    pub deadline: String,
    /// The reservation's state and why it waits, if it does.
    pub stock: String,
    /// (sku, quantity, unit price)
    pub lines: Vec<(String, String, String)>,
    /// (id, warehouse, status, carrier, tracking, note)
    pub shipments: Vec<(String, String, String, String, String, String)>,
    /// (line, jurisdiction, component, rate, tax)
    pub tax: Vec<(String, String, String, String, String)>,
    pub buyer: Option<BuyerView>,
    pub purged: bool,
    /// Whether the user's role may open buyer details at all.
    pub can_reveal: bool,
}

pub struct ExportRow {
    pub id: String,
    pub created: String,
    pub kind: String,
    pub format: String,
    pub state: String,
    pub rows: String,
    pub ready: bool,
    pub note: String,
}

#[derive(Template)]
#[template(path = "exports.html")]
pub struct ExportsPage {
    pub chrome: Chrome,
    pub exports: Vec<ExportRow>,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    /// (what it is, the value) — a new key or a new user's first password, shown once.
    pub shown_once: Option<(&'static str, String)>,
    pub problem: Option<String>,
    pub merchant: String,
    pub company: String,
    pub currency: String,
    /// Whether the user's role reads and edits the profile (`account:admin`).
    pub profile_editable: bool,
    pub time_zone: String,
    /// The billing contact: the merchant's own personal data, shown to owners and admins only.
    pub contact_name: String,
    pub contact_email: String,
    pub relative: bool,
    pub manages_users: bool,
    /// (id, e-mail, role, added, removable)
    pub users: Vec<(String, String, String, String, bool)>,
    pub grantable: Vec<&'static str>,
    pub connections_visible: bool,
    /// (channel, shop or seller)
    pub connections: Vec<(String, String)>,
    /// Whether the user may cancel the account.
    pub owner: bool,
    pub keys_visible: bool,
    /// (id, name, prefix, scopes, last used)
    pub keys: Vec<(String, String, String, String, String)>,
}

/// A word safe as a CSS class: lower-case letters and `_` only.
pub fn css_word(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .take(40)
        .collect()
}

/// A string field of `value` at a JSON pointer, or "".
pub fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// An instant — RFC 3339 text or epoch seconds — as the user prefers to read it.
pub fn when(value: Option<&Value>, prefs: Preferences, now: i64) -> String {
    let at = match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        }
        _ => None,
    };
    let Some(at) = at else {
        return String::new();
    };
    match prefs.dates {
        Dates::Relative => relative(at - now),
        Dates::Utc => time::OffsetDateTime::from_unix_timestamp(at)
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute] UTC"
                ))
                .ok()
            })
            .unwrap_or_default(),
    }
}

/// `seconds` from now, in words: "in 12 d", "3 h ago", "now".
pub fn relative(seconds: i64) -> String {
    let magnitude = seconds.unsigned_abs();
    let (n, unit) = match magnitude {
        0..60 => return "now".into(),
        60..3_600 => (magnitude / 60, "min"),
        3_600..86_400 => (magnitude / 3_600, "h"),
        _ => (magnitude / 86_400, "d"),
    };
    if seconds > 0 {
        format!("in {n} {unit}")
    } else {
        format!("{n} {unit} ago")
    }
}

/// An amount in minor units with its currency, as a decimal ("12.50 EUR").
pub fn money(value: &Value) -> String {
    let amount = value
        .get("amount_minor")
        .or_else(|| value.get("minor"))
        .and_then(Value::as_i64);
    let currency = value
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match amount {
        Some(minor) => {
            let digits = rc_domain::Currency::parse(currency)
                .map(|c| c.exponent())
                .unwrap_or(2);
            format!("{} {currency}", decimal(minor, digits))
        }
        None => String::new(),
    }
}

fn decimal(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale as u64,
        abs % scale as u64,
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_as_preferred() {
        let now = time::macros::datetime!(2026-11-30 12:00 UTC).unix_timestamp();
        let utc = Preferences::default();
        let rel = Preferences {
            dates: Dates::Relative,
            ..Preferences::default()
        };
        let cases = [
            (serde_json::json!(now), utc, "2026-11-30 12:00 UTC"),
            (
                serde_json::json!("2026-11-29T08:05:00Z"),
                utc,
                "2026-11-29 08:05 UTC",
            ),
            (serde_json::json!(now - 3 * 3_600), rel, "3 h ago"),
            (serde_json::json!(now + 12 * 86_400), rel, "in 12 d"),
            (serde_json::json!(now + 30), rel, "now"),
            (serde_json::json!("not a time"), utc, ""),
        ];
        for (value, prefs, expected) in cases {
            assert_eq!(when(Some(&value), prefs, now), expected, "{value}");
        }
    }

    #[test]
    fn amounts_are_exact_decimals() {
        let cases = [
            (
                serde_json::json!({"amount_minor": 1250, "currency": "EUR"}),
                "12.50 EUR",
            ),
            (
                serde_json::json!({"amount_minor": 5, "currency": "USD"}),
                "0.05 USD",
            ),
            (
                serde_json::json!({"amount_minor": 1250, "currency": "JPY"}),
                "1250 JPY",
            ),
            (
                serde_json::json!({"amount_minor": -199, "currency": "INR"}),
                "-1.99 INR",
            ),
            (serde_json::json!({}), ""),
        ];
        for (value, expected) in cases {
            assert_eq!(money(&value), expected, "{value}");
        }
    }

    #[test]
    fn css_words_cannot_break_out_of_the_attribute() {
        assert_eq!(css_word("label_failed"), "label_failed");
        assert_eq!(css_word("x\" onclick=\"y"), "xonclicky");
    }
}

/// One warehouse in the shipping settings' list.
pub struct WarehouseRow {
    pub id: String,
    pub name: String,
    pub place: String,
    pub priority: String,
    pub active: &'static str,
    pub couriers: String,
}

/// One routing rule as the editor shows it: every list joined with commas.
#[derive(Default)]
pub struct RuleRow {
    pub name: String,
    pub countries: String,
    pub regions: String,
    pub postal_prefixes: String,
    pub channels: String,
    pub warehouses: String,
}

#[derive(Template)]
#[template(path = "shipping.html")]
pub struct ShippingPage {
    pub chrome: Chrome,
    pub shown_once: Option<(&'static str, String)>,
    /// The API's message for a refused change: field names, never values.
    pub problem: Option<String>,
    pub edits_stock: bool,
    pub warehouses: Vec<WarehouseRow>,
    pub allow_split: bool,
    pub rules: Vec<RuleRow>,
    pub couriers_visible: bool,
    pub couriers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "warehouse.html")]
pub struct WarehousePage {
    pub chrome: Chrome,
    pub problem: Option<String>,
    pub is_new: bool,
    pub id: String,
    pub name: String,
    pub address_name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    pub phone: String,
    pub country: String,
    pub region: String,
    pub priority: String,
    pub active: bool,
    /// Every courier account (`kind/name`), and whether this warehouse ships with it.
    pub couriers: Vec<(String, bool)>,
    pub choose: String,
    pub fixed_courier: String,
    pub fixed_service: String,
    pub cutoff_time: String,
    pub cutoff_offset: String,
}
