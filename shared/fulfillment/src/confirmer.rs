//! Telling the order's marketplace that a package left, exactly once per package:
//!
//! - **Amazon**: `confirmShipment` with the shipment's number as `packageReferenceId` — an
//!   upsert, so a retry (or a changed tracking number) edits the same package. A refusal is
//!   read back (`getOrder`): an order Amazon already shows shipped was confirmed before.
//!   Skipped for labels bought through Amazon Shipping (Amazon knows them).
//! - **Shopify**: the order's fulfillments are read first — one carrying the package's
//!   tracking number is the package's own (a retry after a lost answer creates nothing) —
//!   then `fulfillmentCreate` per fulfillment order with the package's lines; a changed
//!   tracking number is sent with `fulfillmentTrackingInfoUpdate`.
//!
//! Every try is recorded on the shipment (state, reason, attempts, next try); a try that may
//! succeed later waits with backoff ([`rc_domain::retry_after`]) and fails for good after
//! [`rc_domain::MAX_CONFIRMATION_ATTEMPTS`].

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_channels::FetchError;
use rc_channels::amazon::PackageConfirmation;
use rc_channels::port::{
    AmazonOrdersSource, AmazonShipmentConfirmation, SellerAccount, ShopAccount, ShopifyFulfillment,
};
use rc_channels::shopify::{FulfillmentOrderLines, FulfillmentOutcome, TrackingInfo};
use rc_domain::{
    Channel, ConfirmationState, CourierKind, LineItem, MerchantId, OrderStatus, SellerId,
    ShopDomain, amazon_carrier_code,
};
use rc_inventory::StockRepository;
use rc_orders::{ConnectionRepository, OrderView};
use time::OffsetDateTime;

use crate::{FulfillmentError, FulfillmentSettingsRepository, Shipment};

/// The marketplace clients confirmations go through.
#[derive(Clone)]
pub struct Marketplaces {
    pub amazon: Arc<dyn AmazonShipmentConfirmation>,
    pub amazon_orders: Arc<dyn AmazonOrdersSource>,
    pub shopify: Arc<dyn ShopifyFulfillment>,
}

/// How one try ended.
enum Tried {
    Confirmed {
        reason: Option<&'static str>,
        fulfillment_ids: Vec<String>,
    },
    Failed {
        reason: &'static str,
        code: Option<String>,
    },
    Later(&'static str),
}

pub struct Confirmer {
    connections: Arc<ConnectionRepository>,
    stock: Arc<StockRepository>,
    settings: Arc<FulfillmentSettingsRepository>,
    marketplaces: Marketplaces,
}

/// Amazon's and Shopify's error codes are kept only if they look like codes.
fn code_of(raw: &str) -> Option<String> {
    ((1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
    .then(|| raw.to_owned())
}

impl Confirmer {
    pub fn new(
        connections: Arc<ConnectionRepository>,
        stock: Arc<StockRepository>,
        settings: Arc<FulfillmentSettingsRepository>,
        marketplaces: Marketplaces,
    ) -> Self {
        Self {
            connections,
            stock,
            settings,
            marketplaces,
        }
    }

    /// Tries every due confirmation among `shipments` (all of one order), recording each
    /// outcome on its shipment in memory (the caller saves them). The shipments whose
    /// confirmation changed.
    pub async fn confirm_due(
        &self,
        merchant: &MerchantId,
        view: &OrderView,
        shipments: &mut [Shipment],
        now: i64,
    ) -> Result<Vec<usize>, FulfillmentError> {
        let due: Vec<usize> = shipments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.confirmation.as_ref().is_some_and(|c| c.is_due(now)))
            .map(|(i, _)| i)
            .collect();
        if due.is_empty() {
            return Ok(due);
        }
        let lines = crate::lines_by_package(&self.stock, merchant, view, shipments).await?;
        for &i in &due {
            let shipment = &shipments[i];
            let lines = lines
                .get(&shipment.id.number())
                .cloned()
                .unwrap_or_default();
            let tried = match view.channel {
                Channel::Amazon => self.amazon(merchant, view, shipment, &lines).await?,
                Channel::Shopify => self.shopify(merchant, view, shipment, &lines).await?,
            };
            let shipment = &mut shipments[i];
            let tracking = shipment.tracking().map(|(_, t)| t.to_owned());
            let Some(confirmation) = shipment.confirmation.as_mut() else {
                continue;
            };
            confirmation.attempts += 1;
            match tried {
                Tried::Confirmed {
                    reason,
                    fulfillment_ids,
                } => {
                    confirmation.state = ConfirmationState::Confirmed;
                    confirmation.reason = reason.map(str::to_owned);
                    confirmation.code = None;
                    confirmation.next_attempt_at = None;
                    confirmation.confirmed_at = Some(now);
                    confirmation.confirmed_tracking = tracking;
                    if !fulfillment_ids.is_empty() {
                        confirmation.fulfillment_ids = fulfillment_ids;
                    }
                }
                Tried::Failed { reason, code } => {
                    confirmation.state = ConfirmationState::Failed;
                    confirmation.reason = Some(reason.to_owned());
                    confirmation.code = code;
                    confirmation.next_attempt_at = None;
                }
                Tried::Later(reason) => {
                    if confirmation.retry_later(reason, now) {
                        tracing::error!(%merchant, shipment = %shipment.id, "confirmation gave up after its tries");
                    }
                }
            }
            tracing::info!(%merchant, shipment = %shipment.id, state = confirmation.state.as_str(), reason = ?confirmation.reason, "confirmation tried");
        }
        Ok(due)
    }

    async fn amazon(
        &self,
        merchant: &MerchantId,
        view: &OrderView,
        shipment: &Shipment,
        lines: &[(usize, i64)],
    ) -> Result<Tried, FulfillmentError> {
        if shipment
            .purchase
            .as_ref()
            .is_some_and(|p| p.courier.kind == CourierKind::AmazonShipping)
            && shipment.external.is_none()
        {
            return Ok(Tried::Confirmed {
                reason: Some("bought_through_amazon"),
                fulfillment_ids: Vec::new(),
            });
        }
        let Some((carrier, tracking)) = shipment.tracking() else {
            return Ok(Tried::Failed {
                reason: "no_tracking",
                code: None,
            });
        };
        let mut items = Vec::with_capacity(lines.len());
        for (index, quantity) in lines {
            let Some(line) = view.lines.get(*index) else {
                continue;
            };
            let Some(id) = &line.line_id else {
                return Ok(Tried::Failed {
                    reason: "order_item_ids_unknown",
                    code: None,
                });
            };
            items.push((id.clone(), u32::try_from(*quantity).unwrap_or(0)));
        }
        if items.is_empty() {
            return Ok(Tried::Failed {
                reason: "no_lines",
                code: None,
            });
        }
        let Some(connection) = self.amazon_connection(merchant, view).await? else {
            return Ok(Tried::Failed {
                reason: "not_connected",
                code: None,
            });
        };
        let marketplace = view
            .marketplace
            .clone()
            .or_else(|| {
                connection
                    .marketplace_ids
                    .first()
                    .map(|m| m.as_str().to_owned())
            })
            .unwrap_or_default();
        let code = amazon_carrier_code(carrier);
        let left = shipment
            .journey
            .and_then(|j| j.left_at)
            .or_else(|| {
                shipment
                    .external
                    .as_ref()
                    .and_then(|e| OffsetDateTime::from_unix_timestamp(e.shipped_at).ok())
            })
            .unwrap_or_else(OffsetDateTime::now_utc);
        let package = PackageConfirmation {
            amazon_order_id: view.channel_reference.clone(),
            marketplace_id: marketplace,
            package_reference_id: u32::from(shipment.id.number()),
            carrier_code: code.unwrap_or("Other").to_owned(),
            carrier_name: code.is_none().then(|| carrier.to_owned()),
            shipping_method: shipment
                .purchase
                .as_ref()
                .map(|p| p.service.clone())
                .filter(|s| !s.is_empty()),
            tracking_number: tracking.to_owned(),
            ship_date: left,
            items,
        };
        let account = SellerAccount {
            seller: &connection.seller_id,
            credentials: &connection.credentials,
        };
        match self
            .marketplaces
            .amazon
            .confirm_shipment(account, &package)
            .await
        {
            Ok(()) => Ok(Tried::Confirmed {
                reason: None,
                fulfillment_ids: Vec::new(),
            }),
            Err(FetchError::Refused { code, .. }) => {
                // "Already fulfilled"-style refusals: read the order back before calling it a
                // failure.
                let shipped = self
                    .marketplaces
                    .amazon_orders
                    .order(merchant, account, &view.channel_reference)
                    .await
                    .is_ok_and(|o| o.order.status == OrderStatus::Shipped);
                Ok(if shipped {
                    Tried::Confirmed {
                        reason: Some("already_confirmed"),
                        fulfillment_ids: Vec::new(),
                    }
                } else {
                    Tried::Failed {
                        reason: "refused",
                        code: code_of(&code),
                    }
                })
            }
            Err(e) if e.is_retryable() => Ok(Tried::Later(reason_of(&e))),
            Err(FetchError::NotFound) => Ok(Tried::Failed {
                reason: "order_not_found",
                code: None,
            }),
            Err(e) => Ok(Tried::Failed {
                reason: reason_of(&e),
                code: None,
            }),
        }
    }

    /// The seller connection the order came through: the one selling in its marketplace, else
    /// the merchant's only one.
    async fn amazon_connection(
        &self,
        merchant: &MerchantId,
        view: &OrderView,
    ) -> Result<Option<Arc<rc_orders::AmazonConnection>>, FulfillmentError> {
        let mut found = Vec::new();
        for summary in self.connections.list(merchant).await? {
            if summary.channel != "amazon" {
                continue;
            }
            let Ok(seller) = SellerId::parse(&summary.reference) else {
                continue;
            };
            if let Some(connection) = self.connections.amazon(&seller).await?
                && connection.merchant == *merchant
            {
                found.push(connection);
            }
        }
        let by_marketplace = view.marketplace.as_deref().and_then(|m| {
            found
                .iter()
                .find(|c| c.marketplace_ids.iter().any(|id| id.as_str() == m))
                .cloned()
        });
        Ok(by_marketplace.or_else(|| (found.len() == 1).then(|| found[0].clone())))
    }

    async fn shopify(
        &self,
        merchant: &MerchantId,
        view: &OrderView,
        shipment: &Shipment,
        lines: &[(usize, i64)],
    ) -> Result<Tried, FulfillmentError> {
        let Some((carrier, tracking)) = shipment.tracking() else {
            return Ok(Tried::Failed {
                reason: "no_tracking",
                code: None,
            });
        };
        let Some(order_id) = view
            .id
            .strip_prefix("shopify-")
            .and_then(|id| id.parse::<u64>().ok())
        else {
            return Ok(Tried::Failed {
                reason: "order_not_found",
                code: None,
            });
        };
        let notify = self.settings.get(merchant).await?.notify_customer;
        let info = TrackingInfo {
            company: carrier.to_owned(),
            number: tracking.to_owned(),
            url: None,
        };
        let mut shops = 0;
        for summary in self.connections.list(merchant).await? {
            if summary.channel != "shopify" {
                continue;
            }
            let Ok(shop) = ShopDomain::parse(&summary.reference) else {
                continue;
            };
            let Some(connection) = self.connections.shopify(&shop).await? else {
                continue;
            };
            let Some(token) = connection.access_token.as_ref() else {
                continue;
            };
            shops += 1;
            let account = ShopAccount {
                shop: &connection.shop,
                access_token: token,
            };
            match self
                .fulfil(account, order_id, view, shipment, lines, &info, notify)
                .await
            {
                // Another shop of the merchant's: try the next.
                Err(FetchError::NotFound) => continue,
                Ok(tried) => return Ok(tried),
                Err(e) if e.is_retryable() => return Ok(Tried::Later(reason_of(&e))),
                Err(e) => {
                    return Ok(Tried::Failed {
                        reason: reason_of(&e),
                        code: None,
                    });
                }
            }
        }
        Ok(Tried::Failed {
            reason: if shops == 0 {
                "not_connected"
            } else {
                "order_not_found"
            },
            code: None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn fulfil(
        &self,
        account: ShopAccount<'_>,
        order_id: u64,
        view: &OrderView,
        shipment: &Shipment,
        lines: &[(usize, i64)],
        info: &TrackingInfo,
        notify: bool,
    ) -> Result<Tried, FetchError> {
        let shopify = &self.marketplaces.shopify;
        let confirmation = shipment.confirmation.as_ref();
        // Confirmed before with another tracking number: update those fulfillments.
        if let Some(c) = confirmation
            && !c.fulfillment_ids.is_empty()
        {
            for id in &c.fulfillment_ids {
                if let FulfillmentOutcome::Refused(fields) =
                    shopify.update_tracking(account, id, info, notify).await?
                {
                    return Ok(Tried::Failed {
                        reason: "shopify_user_error",
                        code: fields.first().and_then(|f| code_of(f)),
                    });
                }
            }
            return Ok(Tried::Confirmed {
                reason: Some("tracking_updated"),
                fulfillment_ids: c.fulfillment_ids.clone(),
            });
        }
        let state = shopify.order_fulfillment(account, order_id).await?;
        // Ours already (a retry after a lost answer): never a second fulfillment.
        let ours: Vec<String> = state
            .fulfillments
            .iter()
            .filter(|(_, numbers)| numbers.iter().any(|n| n == &info.number))
            .map(|(id, _)| id.clone())
            .collect();
        if !ours.is_empty() {
            return Ok(Tried::Confirmed {
                reason: Some("already_confirmed"),
                fulfillment_ids: ours,
            });
        }
        let groups = fulfillment_lines(&view.lines, lines, &state.fulfillment_orders);
        if groups.is_empty() {
            return Ok(Tried::Confirmed {
                reason: Some("already_fulfilled"),
                fulfillment_ids: Vec::new(),
            });
        }
        let mut ids = Vec::with_capacity(groups.len());
        for group in &groups {
            match shopify
                .create_fulfillment(account, group, info, notify)
                .await?
            {
                FulfillmentOutcome::Done(id) => ids.push(id),
                FulfillmentOutcome::Refused(fields) => {
                    return Ok(Tried::Failed {
                        reason: "shopify_user_error",
                        code: fields.first().and_then(|f| code_of(f)),
                    });
                }
            }
        }
        Ok(Tried::Confirmed {
            reason: None,
            fulfillment_ids: ids,
        })
    }
}

fn reason_of(error: &FetchError) -> &'static str {
    match error {
        FetchError::Throttled => "throttled",
        FetchError::Unavailable(_) => "unavailable",
        FetchError::Unauthorized(_) => "unauthorized",
        FetchError::NotFound => "order_not_found",
        FetchError::Rejected(_) | FetchError::Operation(..) | FetchError::Refused { .. } => {
            "refused"
        }
    }
}

/// The fulfillment-order lines for a package's order lines: matched by the order line's id
/// (else its SKU), never more than remains; grouped per fulfillment order (one
/// `fulfillmentCreate` each).
pub fn fulfillment_lines(
    order_lines: &[LineItem],
    package: &[(usize, i64)],
    fulfillment_orders: &[rc_channels::shopify::FulfillmentOrder],
) -> Vec<FulfillmentOrderLines> {
    let mut remaining: BTreeMap<&str, i64> = fulfillment_orders
        .iter()
        .filter(|fo| !matches!(fo.status.as_str(), "CLOSED" | "CANCELLED"))
        .flat_map(|fo| fo.lines.iter().map(|l| (l.id.as_str(), l.remaining)))
        .collect();
    let mut groups: Vec<FulfillmentOrderLines> = Vec::new();
    for (index, quantity) in package {
        let Some(line) = order_lines.get(*index) else {
            continue;
        };
        let mut wanted = *quantity;
        for fo in fulfillment_orders {
            for fo_line in &fo.lines {
                if wanted == 0 {
                    break;
                }
                let matches = match (&line.line_id, &fo_line.line_item_id) {
                    (Some(ours), Some(theirs)) => ours == theirs,
                    _ => fo_line.sku.as_deref() == Some(line.sku.as_str()),
                };
                let left = remaining.get(fo_line.id.as_str()).copied().unwrap_or(0);
                if !matches || left <= 0 {
                    continue;
                }
                let take = left.min(wanted);
                wanted -= take;
                remaining.insert(fo_line.id.as_str(), left - take);
                match groups.iter_mut().find(|g| g.fulfillment_order_id == fo.id) {
                    Some(group) => group.lines.push((fo_line.id.clone(), take)),
                    None => groups.push(FulfillmentOrderLines {
                        fulfillment_order_id: fo.id.clone(),
                        lines: vec![(fo_line.id.clone(), take)],
                    }),
                }
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use rc_channels::shopify::{FulfillmentOrder, FulfillmentOrderLine};
    use rc_domain::{Currency, Money, Quantity, Sku};

    fn line(sku: &str, quantity: u32, id: Option<&str>) -> LineItem {
        LineItem {
            charges: Default::default(),
            sku: Sku::parse(sku).expect("sku"),
            quantity: Quantity::new(quantity).expect("quantity"),
            unit_price: Money::from_minor(100, Currency::parse("USD").expect("usd"))
                .expect("money"),
            line_id: id.map(str::to_owned),
        }
    }

    fn fo(id: &str, status: &str, lines: &[(&str, Option<&str>, &str, i64)]) -> FulfillmentOrder {
        FulfillmentOrder {
            id: id.into(),
            status: status.into(),
            lines: lines
                .iter()
                .map(|(id, line, sku, remaining)| FulfillmentOrderLine {
                    id: (*id).into(),
                    line_item_id: line.map(str::to_owned),
                    sku: Some((*sku).into()),
                    remaining: *remaining,
                })
                .collect(),
        }
    }

    #[test]
    fn package_lines_map_to_fulfillment_order_lines() {
        let lines = vec![line("MUG", 2, Some("11")), line("CAP", 1, None)];
        let fos = vec![
            fo("fo1", "OPEN", &[("fl1", Some("11"), "MUG", 2)]),
            fo("fo2", "OPEN", &[("fl2", Some("12"), "CAP", 1)]),
            fo("fo3", "CLOSED", &[("fl3", Some("11"), "MUG", 5)]),
        ];
        /// (name, package lines, expected groups)
        type Case = (
            &'static str,
            Vec<(usize, i64)>,
            Vec<(&'static str, Vec<(&'static str, i64)>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "both lines, two locations",
                vec![(0, 2), (1, 1)],
                vec![("fo1", vec![("fl1", 2)]), ("fo2", vec![("fl2", 1)])],
            ),
            (
                "one of two mugs",
                vec![(0, 1)],
                vec![("fo1", vec![("fl1", 1)])],
            ),
            (
                "more than remains is capped",
                vec![(0, 9)],
                vec![("fo1", vec![("fl1", 2)])],
            ),
            ("nothing", vec![], vec![]),
        ];
        for (name, package, expected) in cases {
            let got = fulfillment_lines(&lines, &package, &fos);
            let expected: Vec<FulfillmentOrderLines> = expected
                .into_iter()
                .map(|(id, lines)| FulfillmentOrderLines {
                    fulfillment_order_id: id.into(),
                    lines: lines.into_iter().map(|(l, n)| (l.to_owned(), n)).collect(),
                })
                .collect();
            assert_eq!(got, expected, "{name}");
        }
        let used_up = vec![fo("fo1", "OPEN", &[("fl1", Some("11"), "MUG", 0)])];
        assert!(fulfillment_lines(&lines, &[(0, 2)], &used_up).is_empty());
    }
}
