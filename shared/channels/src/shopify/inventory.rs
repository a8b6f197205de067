//! Shopify inventory through the GraphQL Admin API: `inventorySetQuantities` sets the
//! `available` quantity of inventory items at locations, with `changeFromQuantity` as the
//! compare-and-set guard (what we believe Shopify holds). When Shopify holds something else
//! (a sale on Shopify, a manual edit), the mutation answers `CHANGE_FROM_QUANTITY_STALE` and
//! nothing is applied; the caller reads the current quantities and retries once.

use std::collections::BTreeMap;

use rc_domain::{RevealPurpose, Secret, SecretText};
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::ADMIN_API_VERSION;
use super::{ShopDomain, ShopifyAdmin};
use crate::FetchError;

/// Shopify caps a GraphQL input list at 250 elements: the most quantities one call sets.
pub const MAX_QUANTITIES_PER_CALL: usize = 250;

/// From API 2026-04 Shopify refuses inventory mutations without the `@idempotent(key:)` directive
/// (changelog "Making idempotency mandatory for inventory adjustments and refund mutations").
/// It is the only mutation we send.
const SET_QUANTITIES: &str = "mutation inventorySetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) { inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) { inventoryAdjustmentGroup { reason } userErrors { field message code } } }";

/// The idempotency key of one logical push: a digest of the shop and every level's target and
/// expected quantity, so a retry of the same call (after a timeout or a 5xx) reuses it and Shopify
/// applies it once, while a different change (a new quantity, or a retry after a stale answer,
/// whose `changeFromQuantity` differs) gets a key of its own.
pub fn idempotency_key(shop: &ShopDomain, quantities: &[QuantityToSet]) -> String {
    let mut text = format!("rc-inventory-v1\n{}", shop.as_str());
    for q in quantities {
        text.push_str(&format!(
            "\n{}:{}:{}:{:?}",
            q.level.inventory_item_id, q.level.location_id, q.quantity, q.change_from
        ));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    rc_domain::to_hex(&digest.as_ref()[..16])
}

/// One inventory item at one location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InventoryLevelRef {
    pub inventory_item_id: u64,
    pub location_id: u64,
}

/// A quantity to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantityToSet {
    pub level: InventoryLevelRef,
    pub quantity: i64,
    /// What Shopify should hold now; `None` when unknown (the first push).
    pub change_from: Option<i64>,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutcome {
    Applied,
    /// Shopify holds other quantities than `change_from` said: nothing was applied.
    Stale,
    /// Shopify refused the input (codes, e.g. `ITEM_NOT_STOCKED_AT_LOCATION`): nothing applied.
    Refused(Vec<String>),
}

fn item_gid(id: u64) -> String {
    format!("gid://shopify/InventoryItem/{id}")
}

fn location_gid(id: u64) -> String {
    format!("gid://shopify/Location/{id}")
}

#[derive(Deserialize)]
struct GraphqlAnswer {
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<Value>,
    #[serde(default)]
    extensions: Value,
}

/// How long until the bucket holds what a throttled call asked for, from the answer's
/// `extensions.cost` (`requestedQueryCost`, `throttleStatus.currentlyAvailable` and
/// `restoreRate`); `None` when the answer does not say.
fn throttle_wait(extensions: &Value) -> Option<std::time::Duration> {
    let cost = &extensions["cost"];
    let requested = cost["requestedQueryCost"].as_f64()?;
    let status = &cost["throttleStatus"];
    let available = status["currentlyAvailable"].as_f64()?;
    let restore = status["restoreRate"].as_f64().filter(|r| *r > 0.0)?;
    let seconds = ((requested - available) / restore).clamp(0.05, 10.0);
    Some(std::time::Duration::from_secs_f64(seconds))
}

impl ShopifyAdmin {
    pub(super) async fn graphql(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        body: &Value,
    ) -> Result<Value, FetchError> {
        let url = format!(
            "{}/admin/api/{ADMIN_API_VERSION}/graphql.json",
            self.base(shop)
        );
        let token = access_token.reveal(RevealPurpose::Authentication).as_str();
        // GraphQL throttling answers 200 with a THROTTLED error: wait for the bucket to hold
        // the call's cost (the answer says how full it is and how fast it refills), else back
        // off, and ask again.
        let mut wait = std::time::Duration::from_millis(500);
        for _ in 0..super::admin::ATTEMPTS * 2 {
            let response = self
                .send(|| {
                    self.http()
                        .post(&url)
                        .header("x-shopify-access-token", token)
                        .json(body)
                })
                .await?;
            let body = crate::read_capped(response, crate::MAX_ANSWER_BYTES).await?;
            let answer: GraphqlAnswer = serde_json::from_slice(&body)
                .map_err(|_| FetchError::Unavailable("Shopify answer is not GraphQL".into()))?;
            let throttled = answer
                .errors
                .iter()
                .any(|e| e["extensions"]["code"] == "THROTTLED");
            if throttled {
                match throttle_wait(&answer.extensions) {
                    Some(until_refilled) => tokio::time::sleep(until_refilled).await,
                    None => {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
                continue;
            }
            if !answer.errors.is_empty() {
                return Err(FetchError::Rejected(400));
            }
            return answer
                .data
                .ok_or_else(|| FetchError::Unavailable("Shopify answer has no data".into()));
        }
        Err(FetchError::Throttled)
    }

    /// Sets `available` for up to [`MAX_QUANTITIES_PER_CALL`] levels in one call.
    pub async fn set_available(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        quantities: &[QuantityToSet],
        reference: &str,
    ) -> Result<SetOutcome, FetchError> {
        assert!(quantities.len() <= MAX_QUANTITIES_PER_CALL);
        let body = json!({
            "query": SET_QUANTITIES,
            "variables": {
                "idempotencyKey": idempotency_key(shop, quantities),
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "referenceDocumentUri": reference,
                    "quantities": quantities.iter().map(|q| json!({
                        "inventoryItemId": item_gid(q.level.inventory_item_id),
                        "locationId": location_gid(q.level.location_id),
                        "quantity": q.quantity,
                        // Mandatory to pass, even as null (no check).
                        "changeFromQuantity": q.change_from,
                    })).collect::<Vec<_>>(),
                }
            }
        });
        let data = self.graphql(shop, access_token, &body).await?;
        let errors = data["inventorySetQuantities"]["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if errors.is_empty() {
            return Ok(SetOutcome::Applied);
        }
        let codes: Vec<String> = errors
            .iter()
            .map(|e| e["code"].as_str().unwrap_or("UNKNOWN").to_owned())
            .collect();
        if codes
            .iter()
            .all(|c| c == "CHANGE_FROM_QUANTITY_STALE" || c == "COMPARE_QUANTITY_STALE")
        {
            Ok(SetOutcome::Stale)
        } else {
            Ok(SetOutcome::Refused(codes))
        }
    }

    /// The `available` quantity Shopify holds for each level (absent: not stocked there).
    pub async fn available(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        levels: &[InventoryLevelRef],
    ) -> Result<BTreeMap<InventoryLevelRef, i64>, FetchError> {
        assert!(levels.len() <= MAX_QUANTITIES_PER_CALL);
        // One aliased field per level; ids are numbers we format, never caller text.
        let fields: Vec<String> = levels
            .iter()
            .enumerate()
            .map(|(i, level)| {
                format!(
                    r#"l{i}: inventoryItem(id: "{}") {{ inventoryLevel(locationId: "{}") {{ quantities(names: ["available"]) {{ name quantity }} }} }}"#,
                    item_gid(level.inventory_item_id),
                    location_gid(level.location_id)
                )
            })
            .collect();
        let body = json!({ "query": format!("query {{ {} }}", fields.join(" ")) });
        let data = self.graphql(shop, access_token, &body).await?;
        let mut held = BTreeMap::new();
        for (i, level) in levels.iter().enumerate() {
            let quantity = data[format!("l{i}")]["inventoryLevel"]["quantities"]
                .as_array()
                .and_then(|q| q.iter().find(|q| q["name"] == "available"))
                .and_then(|q| q["quantity"].as_i64());
            if let Some(quantity) = quantity {
                held.insert(*level, quantity);
            }
        }
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_call_waits_for_the_bucket_to_hold_its_cost() {
        let extensions = serde_json::json!({"cost": {"requestedQueryCost": 52, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 2, "restoreRate": 100.0}}});
        assert_eq!(
            throttle_wait(&extensions),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(throttle_wait(&serde_json::json!({})), None);
        let full = serde_json::json!({"cost": {"requestedQueryCost": 10,
            "throttleStatus": {"currentlyAvailable": 500, "restoreRate": 100.0}}});
        assert_eq!(
            throttle_wait(&full),
            Some(std::time::Duration::from_millis(50)),
            "a floor"
        );
    }

    fn push(quantity: i64, change_from: Option<i64>) -> QuantityToSet {
        QuantityToSet {
            level: InventoryLevelRef {
                inventory_item_id: 1,
                location_id: 2,
            },
            quantity,
            change_from,
        }
    }

    #[test]
    fn a_retry_reuses_its_idempotency_key_and_another_change_gets_its_own() {
        let shop = ShopDomain::parse("shop.myshopify.com").expect("shop");
        let other = ShopDomain::parse("other.myshopify.com").expect("shop");
        let key = idempotency_key(&shop, &[push(5, Some(7))]);
        assert_eq!(key, idempotency_key(&shop, &[push(5, Some(7))]), "a retry");
        assert_eq!(key.len(), 32);
        for different in [
            idempotency_key(&shop, &[push(4, Some(7))]),
            idempotency_key(&shop, &[push(5, Some(6))]),
            idempotency_key(&shop, &[push(5, None)]),
            idempotency_key(&other, &[push(5, Some(7))]),
            idempotency_key(&shop, &[push(5, Some(7)), push(5, Some(7))]),
        ] {
            assert_ne!(key, different);
        }
    }

    #[test]
    fn the_mutation_carries_the_idempotent_directive() {
        assert!(SET_QUANTITIES.contains("@idempotent(key: $idempotencyKey)"));
        assert!(SET_QUANTITIES.contains("$idempotencyKey: String!"));
    }
}
