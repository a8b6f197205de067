//! A merchant's routing settings as they travel (API bodies, the stored record): plain JSON,
//! parsed into [`RoutingSettings`] before anything uses them. The stored record is parsed on
//! every read too, so a record written by an older version can never smuggle in a rule the
//! current parser refuses.

use serde::{Deserialize, Serialize};

use crate::{Channel, CountryCode, RegionCode, RoutingRule, RuleConditions, WarehouseId};

/// Rules per merchant: routing reads them for every order.
pub const MAX_ROUTING_RULES: usize = 50;
/// Warehouses one rule may name.
pub const MAX_RULE_WAREHOUSES: usize = 20;
/// Values in one condition list.
pub const MAX_CONDITION_VALUES: usize = 100;
/// Postal-code prefixes are at most this long: RetailCoder keeps no more of a buyer's postal
/// code outside the sealed address (a US ZIP3, a UK outward code's area and district digit), and
/// only while the order holds PII.
pub const MAX_POSTAL_PREFIX: usize = 3;

/// Why routing settings were refused: the field's path (`rules[2].countries`), never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{0}` is invalid")]
pub struct RoutingSettingsError(pub String);

/// A merchant's routing: the rules, first match wins, and whether an order may ship in parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingSettings {
    pub allow_split: bool,
    pub rules: Vec<RoutingRule>,
}

impl Default for RoutingSettings {
    /// No rules: every active warehouse by priority. Splits allowed, as stock was taken from
    /// several warehouses before routing existed.
    fn default() -> Self {
        Self {
            allow_split: true,
            rules: Vec::new(),
        }
    }
}

/// The wire and storage shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoutingSettings {
    pub allow_split: bool,
    #[serde(default)]
    pub rules: Vec<RawRoutingRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoutingRule {
    pub name: String,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub postal_prefixes: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    pub warehouses: Vec<String>,
}

/// The first [`MAX_POSTAL_PREFIX`] letters and digits of a postal code, upper case: all that
/// routing ever sees of it. `None` when the code has none.
pub fn postal_prefix(postal_code: &str) -> Option<String> {
    let prefix: String = postal_code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(MAX_POSTAL_PREFIX)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!prefix.is_empty()).then_some(prefix)
}

fn list<T>(
    values: &[String],
    field: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, RoutingSettingsError> {
    if values.len() > MAX_CONDITION_VALUES {
        return Err(RoutingSettingsError(field.to_owned()));
    }
    values
        .iter()
        .map(|v| parse(v).ok_or_else(|| RoutingSettingsError(field.to_owned())))
        .collect()
}

fn channel(raw: &str) -> Option<Channel> {
    match raw {
        "shopify" => Some(Channel::Shopify),
        "amazon" => Some(Channel::Amazon),
        _ => None,
    }
}

impl RawRoutingSettings {
    pub fn parse(&self) -> Result<RoutingSettings, RoutingSettingsError> {
        if self.rules.len() > MAX_ROUTING_RULES {
            return Err(RoutingSettingsError("rules".into()));
        }
        let mut rules: Vec<RoutingRule> = Vec::with_capacity(self.rules.len());
        for (i, raw) in self.rules.iter().enumerate() {
            let field = |name: &str| format!("rules[{i}].{name}");
            let name = raw.name.trim();
            let name_ok = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_. ".contains(&b));
            if !name_ok || rules.iter().any(|r| r.name == name) {
                return Err(RoutingSettingsError(field("name")));
            }
            let warehouses = list(&raw.warehouses, &field("warehouses"), |w| {
                WarehouseId::parse(w).ok()
            })?;
            let mut unique = warehouses.clone();
            unique.sort();
            unique.dedup();
            if warehouses.is_empty()
                || warehouses.len() > MAX_RULE_WAREHOUSES
                || unique.len() != warehouses.len()
            {
                return Err(RoutingSettingsError(field("warehouses")));
            }
            let postal_prefixes = list(&raw.postal_prefixes, &field("postal_prefixes"), |p| {
                let ok = (1..=MAX_POSTAL_PREFIX).contains(&p.len())
                    && p.bytes().all(|b| b.is_ascii_alphanumeric());
                ok.then(|| p.to_ascii_uppercase())
            })?;
            rules.push(RoutingRule {
                name: name.to_owned(),
                when: RuleConditions {
                    countries: list(&raw.countries, &field("countries"), |c| {
                        CountryCode::parse(c).ok()
                    })?,
                    regions: list(&raw.regions, &field("regions"), |r| {
                        RegionCode::parse(r).ok()
                    })?,
                    postal_prefixes,
                    channels: list(&raw.channels, &field("channels"), channel)?,
                },
                warehouses,
            });
        }
        Ok(RoutingSettings {
            allow_split: self.allow_split,
            rules,
        })
    }
}

impl RoutingSettings {
    pub fn to_raw(&self) -> RawRoutingSettings {
        let strings = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect();
        RawRoutingSettings {
            allow_split: self.allow_split,
            rules: self
                .rules
                .iter()
                .map(|r| RawRoutingRule {
                    name: r.name.clone(),
                    countries: strings(r.when.countries.iter().map(|c| c.as_str()).collect()),
                    regions: strings(r.when.regions.iter().map(|c| c.as_str()).collect()),
                    postal_prefixes: r.when.postal_prefixes.clone(),
                    channels: strings(r.when.channels.iter().map(|c| c.as_str()).collect()),
                    warehouses: strings(r.warehouses.iter().map(|w| w.as_str()).collect()),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Result<RoutingSettings, String> {
        let raw: RawRoutingSettings = serde_json::from_str(json).map_err(|_| "json".to_owned())?;
        raw.parse().map_err(|e| e.0)
    }

    #[test]
    fn settings_parse_or_name_the_field() {
        let good = r#"{"allow_split": false, "rules": [
            {"name": "west", "countries": ["us"], "regions": ["CA", "or"],
             "postal_prefixes": ["9", "a1b"], "channels": ["shopify"], "warehouses": ["reno", "main"]}]}"#;
        let settings = raw(good).expect("parses");
        assert!(!settings.allow_split);
        let rule = &settings.rules[0];
        assert_eq!(rule.when.countries[0].as_str(), "US");
        assert_eq!(rule.when.postal_prefixes, vec!["9", "A1B"]);
        assert_eq!(rule.warehouses[1].as_str(), "main");
        // What is stored is what parses back to the same settings.
        let round = settings.to_raw().parse().expect("round trip");
        assert_eq!(round, settings);

        let cases = [
            (
                r#"{"allow_split": true, "rules": [{"name": "", "warehouses": ["a"]}]}"#,
                "rules[0].name",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "warehouses": []}]}"#,
                "rules[0].warehouses",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "warehouses": ["a", "a"]}]}"#,
                "rules[0].warehouses",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "warehouses": ["a"]}, {"name": "x", "warehouses": ["b"]}]}"#,
                "rules[1].name",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "countries": ["USA"], "warehouses": ["a"]}]}"#,
                "rules[0].countries",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "postal_prefixes": ["9410"], "warehouses": ["a"]}]}"#,
                "rules[0].postal_prefixes",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "channels": ["ebay"], "warehouses": ["a"]}]}"#,
                "rules[0].channels",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "warehouses": ["a b"]}]}"#,
                "rules[0].warehouses",
            ),
            (
                r#"{"allow_split": true, "rules": [{"name": "x", "warehouses": ["a"], "extra": 1}]}"#,
                "json",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(raw(json), Err(field.to_owned()), "{json}");
        }
    }

    #[test]
    fn only_a_short_prefix_of_a_postal_code_is_kept() {
        assert_eq!(postal_prefix("94105-1234").as_deref(), Some("941"));
        assert_eq!(postal_prefix("sw1a 1aa").as_deref(), Some("SW1"));
        assert_eq!(postal_prefix("4 1"), Some("41".into()));
        assert_eq!(postal_prefix(" - "), None);
    }
}
