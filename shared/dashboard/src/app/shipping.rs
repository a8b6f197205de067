//! The shipping settings: warehouses, routing rules and courier accounts, each changed through
//! the merchant API's own routes (`PUT /v1/warehouses/{id}`, `PUT /v1/routing`,
//! `PUT /v1/couriers/{kind}/{name}` and their deletes), so the API's checks, scopes and audit
//! apply unchanged. A refused change shows the form again with the API's message (it names
//! the field, never a value) and the stored values, never what was sent.

use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::{Dashboard, Fail, Form, Signed, encode, field, html, redirect};
use crate::pages::{RuleRow, ShippingPage, WarehousePage, WarehouseRow, text};
use rc_orders::Scope;

/// Blank rows the routing editor offers for new rules.
const BLANK_RULES: usize = 2;
/// The API's limit on routing rules.
const MAX_RULES: usize = 50;
/// The kinds of courier account the API takes.
const COURIER_KINDS: [&str; 4] = ["easypost", "shiprocket", "amazon_shipping", "sandbox"];

/// A comma-separated list as the API takes it: trimmed, empty items dropped.
fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The routing rules a form holds: its rows, in order, without the empty ones. Every row has
/// each of the six fields once (a browser sends empty inputs too), so the n-th values belong
/// together; a form whose columns differ in length is not one we sent.
pub(super) fn rules_from(form: &Form) -> Result<Vec<Value>, Fail> {
    let column = |name: &str| -> Vec<&str> {
        form.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let names = column("name");
    let columns = [
        column("countries"),
        column("regions"),
        column("postal_prefixes"),
        column("channels"),
        column("warehouses"),
    ];
    if names.len() > MAX_RULES + BLANK_RULES || columns.iter().any(|c| c.len() != names.len()) {
        return Err(Fail::Refused("malformed_rules".into()));
    }
    let mut rules = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let [countries, regions, prefixes, channels, warehouses] =
            columns.each_ref().map(|c| list(c[i]));
        let empty = name.trim().is_empty()
            && [&countries, &regions, &prefixes, &channels, &warehouses]
                .iter()
                .all(|l| l.is_empty());
        if empty {
            continue;
        }
        let mut rule = json!({"name": name.trim(), "warehouses": warehouses});
        for (key, values) in [
            ("countries", countries),
            ("regions", regions),
            ("postal_prefixes", prefixes),
            ("channels", channels),
        ] {
            if !values.is_empty() {
                rule[key] = json!(values);
            }
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// A warehouse as the API takes it, from the edit form.
pub(super) fn warehouse_from(form: &Form) -> Value {
    let value = |name: &str| field(form, name).unwrap_or_default().trim().to_owned();
    let optional = |name: &str| Some(value(name)).filter(|v| !v.is_empty());
    let couriers: Vec<Value> = form
        .iter()
        .filter(|(k, _)| k == "courier")
        .filter_map(|(_, v)| v.split_once('/'))
        .map(|(kind, name)| json!({"kind": kind, "name": name}))
        .collect();
    let mut body = json!({
        "name": value("name"),
        "address": {
            "name": value("address_name"),
            "line1": value("line1"),
            "city": value("city"),
            "postal_code": value("postal_code"),
        },
        "country": value("country").to_ascii_uppercase(),
        "active": field(form, "active") == Some("yes"),
        "couriers": couriers,
    });
    for (key, name) in [("line2", "line2"), ("phone", "phone")] {
        if let Some(v) = optional(name) {
            body["address"][key] = json!(v);
        }
    }
    if let Some(region) = optional("region") {
        body["region"] = json!(region.to_ascii_uppercase());
    }
    // An unparsable priority goes to the API as text: it refuses it by name.
    let priority = value("priority");
    body["priority"] = priority
        .parse::<i64>()
        .map_or_else(|_| json!(priority), |p| json!(p));
    match field(form, "choose") {
        Some("fixed") => {
            let (kind, name) = value("fixed_courier")
                .split_once('/')
                .map(|(k, n)| (k.to_owned(), n.to_owned()))
                .unwrap_or_default();
            body["service"] = json!({
                "choose": "fixed",
                "courier": {"kind": kind, "name": name},
                "service": value("fixed_service"),
            });
        }
        Some(choose) => body["service"] = json!({ "choose": choose }),
        None => {}
    }
    if optional("cutoff_time").is_some() || optional("cutoff_offset").is_some() {
        body["cutoff"] =
            json!({"time": value("cutoff_time"), "utc_offset": value("cutoff_offset")});
    }
    body
}

/// A courier account's secrets as the API takes them, by kind: only the fields that kind uses.
pub(super) fn courier_from(form: &Form, kind: &str) -> Value {
    let value = |name: &str| field(form, name).unwrap_or_default().trim().to_owned();
    let mut body = match kind {
        "shiprocket" => json!({
            "email": value("email"),
            "password": field(form, "password").unwrap_or_default(),
            "pickup_location": value("pickup_location"),
        }),
        "amazon_shipping" => json!({ "seller_id": value("seller_id") }),
        _ => json!({ "api_key": value("api_key") }),
    };
    let secret = value("webhook_secret");
    if kind != "amazon_shipping" && !secret.is_empty() {
        body["webhook_secret"] = json!(secret);
    }
    body
}

fn joined(list: &Value) -> String {
    super::joined(list, ", ")
}

impl Dashboard {
    fn may(signed: &Signed, scope: Scope) -> bool {
        signed.user.role.scopes().contains(&scope)
    }

    pub(super) async fn shipping(
        &self,
        signed: &Signed,
        shown_once: Option<(&'static str, String)>,
        problem: Option<String>,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        let warehouses = self
            .api(signed, Method::GET, "/v1/warehouses", None)
            .await?;
        let routing = self.api(signed, Method::GET, "/v1/routing", None).await?;
        let couriers = self.api_if_allowed(signed, "/v1/couriers").await?;
        let edits_stock = Self::may(signed, Scope::InventoryWrite);
        let mut rules: Vec<RuleRow> = routing["rules"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| RuleRow {
                        name: text(r, "/name"),
                        countries: joined(&r["countries"]),
                        regions: joined(&r["regions"]),
                        postal_prefixes: joined(&r["postal_prefixes"]),
                        channels: joined(&r["channels"]),
                        warehouses: joined(&r["warehouses"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if edits_stock {
            let blanks = BLANK_RULES.min(MAX_RULES.saturating_sub(rules.len()));
            rules.extend((0..blanks).map(|_| RuleRow::default()));
        }
        let page = ShippingPage {
            chrome: signed.chrome("/app/settings"),
            shown_once,
            problem,
            edits_stock,
            warehouses: warehouses["warehouses"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|w| WarehouseRow {
                            id: text(w, "/id"),
                            name: text(w, "/name"),
                            place: format!("{} {}", text(w, "/country"), text(w, "/region"))
                                .trim()
                                .to_owned(),
                            priority: text(w, "/priority"),
                            active: if w["active"] == json!(true) {
                                "yes"
                            } else {
                                "no"
                            },
                            couriers: w["couriers"]
                                .as_array()
                                .map(|c| {
                                    c.iter()
                                        .map(|c| {
                                            format!("{}/{}", text(c, "/kind"), text(c, "/name"))
                                        })
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                })
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            allow_split: routing["allow_split"] == json!(true),
            rules,
            couriers_visible: couriers.is_some(),
            couriers: couriers
                .as_ref()
                .and_then(|c| c["couriers"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|c| (text(c, "/kind"), text(c, "/name")))
                .collect(),
        };
        let status = if page.problem.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        Ok(html(status, &page))
    }

    /// The edit form of warehouse `id` (or of a new one), with its stored values.
    pub(super) async fn warehouse(
        &self,
        signed: &Signed,
        id: Option<&str>,
        problem: Option<String>,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        if !Self::may(signed, Scope::InventoryWrite) {
            return Err(Fail::Forbidden);
        }
        let stored = match id {
            Some(id) => {
                self.api(signed, Method::GET, &format!("/v1/warehouses/{id}"), None)
                    .await?
            }
            None => Value::Null,
        };
        let accounts = self.api_if_allowed(signed, "/v1/couriers").await?;
        let mut couriers: Vec<String> = accounts
            .as_ref()
            .and_then(|c| c["couriers"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|c| format!("{}/{}", text(c, "/kind"), text(c, "/name")))
            .collect();
        let chosen: Vec<String> = stored["couriers"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|c| format!("{}/{}", text(c, "/kind"), text(c, "/name")))
                    .collect()
            })
            .unwrap_or_default();
        // A role that cannot list accounts still keeps the warehouse's own.
        for c in &chosen {
            if !couriers.contains(c) {
                couriers.push(c.clone());
            }
        }
        let fixed = &stored["service"]["courier"];
        let page = WarehousePage {
            chrome: signed.chrome("/app/settings"),
            problem,
            is_new: id.is_none(),
            id: id.unwrap_or_default().to_owned(),
            name: text(&stored, "/name"),
            address_name: text(&stored, "/address/name"),
            line1: text(&stored, "/address/line1"),
            line2: text(&stored, "/address/line2"),
            city: text(&stored, "/address/city"),
            postal_code: text(&stored, "/address/postal_code"),
            phone: text(&stored, "/address/phone"),
            country: text(&stored, "/country"),
            region: text(&stored, "/region"),
            priority: if id.is_some() {
                text(&stored, "/priority")
            } else {
                "100".into()
            },
            active: id.is_none() || stored["active"] == json!(true),
            couriers: couriers
                .into_iter()
                .map(|c| {
                    let on = chosen.contains(&c);
                    (c, on)
                })
                .collect(),
            choose: if stored["service"]["choose"].is_string() {
                text(&stored, "/service/choose")
            } else {
                "cheapest".into()
            },
            fixed_courier: if fixed.is_object() {
                format!("{}/{}", text(fixed, "/kind"), text(fixed, "/name"))
            } else {
                String::new()
            },
            fixed_service: text(&stored, "/service/service"),
            cutoff_time: text(&stored, "/cutoff/time"),
            cutoff_offset: text(&stored, "/cutoff/utc_offset"),
        };
        let status = if page.problem.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        Ok(html(status, &page))
    }

    pub(super) async fn save_warehouse(
        &self,
        signed: &Signed,
        form: &Form,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        let id = super::id_segment(field(form, "id").unwrap_or_default())?.to_owned();
        let uri = format!("/v1/warehouses/{id}");
        match self
            .api_change(signed, Method::PUT, &uri, Some(warehouse_from(form)))
            .await?
        {
            Ok(_) => Ok(redirect("/app/settings/shipping")),
            Err(message) => {
                // Refused: the form again, for the stored warehouse or, if there is none, a new one.
                let existing = match self.api(signed, Method::GET, &uri, None).await {
                    Ok(_) => true,
                    Err(Fail::NotFound) => false,
                    Err(other) => return Err(other),
                };
                self.warehouse(signed, existing.then_some(id.as_str()), Some(message))
                    .await
            }
        }
    }

    pub(super) async fn delete_warehouse(
        &self,
        signed: &Signed,
        id: &str,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        match self
            .api_change(
                signed,
                Method::DELETE,
                &format!("/v1/warehouses/{id}"),
                None,
            )
            .await?
        {
            Ok(_) => Ok(redirect("/app/settings/shipping")),
            Err(message) => self.warehouse(signed, Some(id), Some(message)).await,
        }
    }

    pub(super) async fn save_routing(
        &self,
        signed: &Signed,
        form: &Form,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        let body = json!({
            "allow_split": field(form, "allow_split") == Some("yes"),
            "rules": rules_from(form)?,
        });
        match self
            .api_change(signed, Method::PUT, "/v1/routing", Some(body))
            .await?
        {
            Ok(_) => Ok(redirect("/app/settings/shipping")),
            Err(message) => self.shipping(signed, None, Some(message)).await,
        }
    }

    pub(super) async fn save_courier(
        &self,
        signed: &Signed,
        form: &Form,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        let kind = field(form, "kind")
            .filter(|k| COURIER_KINDS.contains(k))
            .ok_or(Fail::Refused("unknown_courier".into()))?;
        let name = super::id_segment(field(form, "name").unwrap_or_default())?;
        match self
            .api_change(
                signed,
                Method::PUT,
                &format!("/v1/couriers/{kind}/{}", encode(name)),
                Some(courier_from(form, kind)),
            )
            .await?
        {
            Ok(saved) => {
                let shown = saved["tracking_webhook"].as_str().map(|path| {
                    (
                        "Courier account saved. Give the courier this tracking webhook path on \
                         your API's address:",
                        path.to_owned(),
                    )
                });
                self.shipping(signed, shown, None).await
            }
            Err(message) => self.shipping(signed, None, Some(message)).await,
        }
    }

    pub(super) async fn remove_courier(
        &self,
        signed: &Signed,
        kind: &str,
        name: &str,
    ) -> Result<Response<bytes::Bytes>, Fail> {
        if !COURIER_KINDS.contains(&kind) {
            return Err(Fail::NotFound);
        }
        self.api(
            signed,
            Method::DELETE,
            &format!("/v1/couriers/{kind}/{name}"),
            None,
        )
        .await?;
        Ok(redirect("/app/settings/shipping"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn row<'a>(name: &'a str, countries: &'a str, warehouses: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("name", name),
            ("countries", countries),
            ("regions", ""),
            ("postal_prefixes", ""),
            ("channels", ""),
            ("warehouses", warehouses),
        ]
    }

    #[test]
    fn routing_rows_become_rules_in_order_without_the_empty_ones() {
        let mut pairs = row("east", " US , CA,", "east, main");
        pairs.extend(row("", "", ""));
        pairs.extend(row("rest", "", "main"));
        let rules = rules_from(&form(&pairs)).map_err(|_| ()).expect("rules");
        assert_eq!(
            rules,
            vec![
                json!({"name": "east", "countries": ["US", "CA"], "warehouses": ["east", "main"]}),
                json!({"name": "rest", "warehouses": ["main"]}),
            ]
        );
    }

    #[test]
    fn a_routing_form_with_uneven_columns_is_refused() {
        let mut pairs = row("east", "US", "east");
        pairs.push(("warehouses", "main"));
        assert!(matches!(rules_from(&form(&pairs)), Err(Fail::Refused(_))));
    }

    #[test]
    fn a_half_filled_rule_goes_to_the_api_to_be_refused_by_name() {
        // A name without warehouses is not dropped: the API says which field is missing.
        let rules = rules_from(&form(&row("east", "", "")))
            .map_err(|_| ())
            .expect("rules");
        assert_eq!(rules, vec![json!({"name": "east", "warehouses": []})]);
    }

    #[test]
    fn a_warehouse_form_becomes_the_apis_body() {
        let body = warehouse_from(&form(&[
            ("id", "east"),
            ("name", "East"),
            ("address_name", "Acme"),
            ("line1", "1 Dock St"),
            ("line2", ""),
            ("city", "Newark"),
            ("postal_code", "07102"),
            ("phone", ""),
            ("country", "us"),
            ("region", "nj"),
            ("priority", "10"),
            ("active", "yes"),
            ("courier", "easypost/main"),
            ("courier", "sandbox/test"),
            ("choose", "fastest"),
            ("fixed_courier", ""),
            ("fixed_service", ""),
            ("cutoff_time", "17:30"),
            ("cutoff_offset", "-05:00"),
        ]));
        assert_eq!(
            body,
            json!({
                "name": "East",
                "address": {"name": "Acme", "line1": "1 Dock St", "city": "Newark", "postal_code": "07102"},
                "country": "US",
                "region": "NJ",
                "priority": 10,
                "active": true,
                "couriers": [{"kind": "easypost", "name": "main"}, {"kind": "sandbox", "name": "test"}],
                "service": {"choose": "fastest"},
                "cutoff": {"time": "17:30", "utc_offset": "-05:00"},
            })
        );
        // Unticked "active" is inactive; a priority that is not a number is left for the API.
        let body = warehouse_from(&form(&[("priority", "soon")]));
        assert_eq!(body["active"], json!(false));
        assert_eq!(body["priority"], json!("soon"));
    }

    #[test]
    fn a_courier_form_sends_only_what_its_kind_uses() {
        let all = form(&[
            ("api_key", "EZ_KEY"),
            ("email", "ops@example.com"),
            ("password", "pw"),
            ("pickup_location", "Main"),
            ("seller_id", "A1SELLER"),
            ("webhook_secret", "hook"),
        ]);
        assert_eq!(
            courier_from(&all, "easypost"),
            json!({"api_key": "EZ_KEY", "webhook_secret": "hook"})
        );
        assert_eq!(
            courier_from(&all, "shiprocket"),
            json!({"email": "ops@example.com", "password": "pw", "pickup_location": "Main", "webhook_secret": "hook"})
        );
        assert_eq!(
            courier_from(&all, "amazon_shipping"),
            json!({"seller_id": "A1SELLER"})
        );
    }
}
