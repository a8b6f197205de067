use std::sync::Arc;

use rc_domain::{
    BuyerPii, Channel, Clock, CountryCode, Currency, Destination, LineItem, MerchantId, Order,
    OrderId, OrderState, OrderStatus, OrderTotals, Pii, PiiDeadline, PiiRule, RegionCode,
    RetentionPolicy, RevealPurpose, Sealable, SealedField, ShipToRegion, UpdatePlan, plan_update,
};
use rc_store::{Item, Store, StoreError, TxOp, Value};
use rc_vault::{KeySubject, Sealed, SubjectKey, Vault, VaultError};
use time::{Duration, OffsetDateTime};

use crate::outbox::Outbox;
use crate::view::{BuyerPiiState, OrderView};
use crate::{RepoError, keys};
use rc_queue::OrderEvent;

/// How long a delivery id is remembered for deduplication. Shopify retries for 4 hours (8 tries);
/// a week covers that and any manual replay.
const DELIVERY_MEMORY: Duration = Duration::days(7);
/// The PII item's DynamoDB TTL is this long after its deadline. The purger (hourly) enforces the
/// deadline itself and must find the item in the deadline index to destroy its key and leave a
/// receipt; TTL deletion would take it out of the index, so TTL is only the backstop for a purger
/// that has been down for days (and order data keys have their own TTL, see the vault).
pub const PII_TTL_GRACE: Duration = Duration::days(3);

/// The PII item's attribute holding the shipping address's postal prefix (plain, coarse).
const POSTAL_PREFIX: &str = "postal_prefix";

/// Every sealed attribute a PII item may hold.
pub const SEALED_FIELDS: [SealedField; 6] = [
    SealedField::BuyerName,
    SealedField::Email,
    SealedField::Phone,
    SealedField::ShippingAddress,
    SealedField::BillingAddress,
    SealedField::CustomerId,
];

/// One delivery of a webhook or message, recorded with the order in the same transaction so a
/// delivery's effect happens exactly once.
#[derive(Debug, Clone)]
pub struct DeliveryMark {
    pub channel: &'static str,
    /// Who sent it (a shop domain, a seller id).
    pub source: String,
    /// The delivery's own id (`X-Shopify-Webhook-Id`, `NotificationId`).
    pub delivery_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// A new order was stored.
    Stored,
    /// An existing order took newer content or a forward status move.
    Updated,
    /// The delivery carried nothing newer than what is stored: only the delivery was recorded.
    Stale,
    /// This very delivery (or, for a create, this very order) was already processed.
    Duplicate,
}

/// Attempts at an update that keeps losing races with concurrent updates of the same order.
pub(crate) const UPDATE_ATTEMPTS: usize = 5;
/// `apply_update` puts the delivery mark first in its transaction, so a failure at this index
/// means the delivery was already processed.
const MARK_FAILED: usize = 0;

/// Orders: public facts in one item, sealed PII in another, always written together.
pub struct OrderRepository {
    pub(crate) data: Arc<dyn Store>,
    vault: Arc<Vault>,
    pub(crate) clock: Arc<dyn Clock>,
    outbox: Arc<Outbox>,
    retention: RetentionPolicy,
}

fn event(order: &Order, kind: &str, version: u64) -> OrderEvent {
    OrderEvent {
        kind: kind.to_owned(),
        merchant: order.merchant.to_string(),
        order: order.id.to_string(),
        version,
    }
}

fn seal_into<T: Sealable>(
    item: &mut Item,
    key: &SubjectKey,
    field: SealedField,
    value: &Option<Pii<T>>,
) -> Result<(), RepoError> {
    if let Some(value) = value {
        let sealed = key.seal(field, value)?;
        item.set(field.as_str(), Value::B(sealed.into_bytes()));
    }
    Ok(())
}

fn open_from<T: Sealable>(
    item: &Item,
    key: &SubjectKey,
    field: SealedField,
) -> Result<Option<Pii<T>>, RepoError> {
    item.bytes(field.as_str())
        .map(|bytes| {
            let sealed = Sealed::from_bytes(bytes.to_vec())?;
            Ok(key.open(field, &sealed)?)
        })
        .transpose()
}

/// Sets the PII item's deadline (what the purger enforces), the rule behind it, and its DynamoDB
/// TTL backstop a little later.
fn set_pii_clock(pii: &mut Item, deadline: PiiDeadline) {
    pii.pii_deadline = Some(deadline.at.unix_timestamp());
    pii.expires_at = Some((deadline.at + PII_TTL_GRACE).unix_timestamp());
    pii.set("pii_rule", Value::S(deadline.rule.as_str().into()));
}

fn stored_deadline(pii: &Item) -> Option<PiiDeadline> {
    let at = OffsetDateTime::from_unix_timestamp(pii.pii_deadline?).ok()?;
    let rule = pii.string("pii_rule").and_then(PiiRule::parse)?;
    Some(PiiDeadline { at, rule })
}

/// The start of every order id of a channel (ids are `<channel>-<the channel's id>`, built so by
/// the channel adapters), or nothing for every channel.
fn channel_prefix(channel: Option<Channel>) -> String {
    channel.map_or_else(String::new, |c| format!("{}-", c.as_str()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, RepoError> {
    serde_json::to_string(value)
        .map(Value::S)
        .map_err(|_| RepoError::Corrupt("order does not encode"))
}

fn from_json<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &'static str,
) -> Result<T, RepoError> {
    let text = item.string(name).ok_or(RepoError::Corrupt(name))?;
    serde_json::from_str(text).map_err(|_| RepoError::Corrupt(name))
}

impl OrderRepository {
    pub fn new(
        data: Arc<dyn Store>,
        vault: Arc<Vault>,
        clock: Arc<dyn Clock>,
        outbox: Arc<Outbox>,
    ) -> Self {
        Self {
            data,
            vault,
            clock,
            outbox,
            retention: RetentionPolicy::default(),
        }
    }

    /// A merchant's shorter retention (the type refuses anything over 30 days).
    pub fn with_retention(mut self, retention: RetentionPolicy) -> Self {
        self.retention = retention;
        self
    }

    fn public_item(order: &Order) -> Result<Item, RepoError> {
        let mut item = Item::new(keys::order(&order.merchant, &order.id))
            .with("channel", Value::S(order.channel.as_str().into()))
            .with(
                "channel_reference",
                Value::S(order.channel_reference.clone()),
            )
            .with("status", Value::S(order.status.as_str().into()))
            .with("placed_at", Value::N(order.placed_at.unix_timestamp()))
            .with(
                "channel_updated_at",
                Value::N(order.channel_updated_at.unix_timestamp()),
            )
            .with("currency", Value::S(order.currency.code().into()))
            .with("lines", to_json(&order.lines)?)
            .with("totals", to_json(&order.totals)?)
            .with("buyer_pii", Value::S("sealed".into()));
        if let Some(ship_to) = &order.ship_to {
            item.set("ship_to", to_json(ship_to)?);
        }
        if let Some(marketplace) = &order.marketplace {
            item.set("marketplace", Value::S(marketplace.clone()));
        }
        if !order.channel_tax.is_default() {
            item.set("channel_tax", to_json(&order.channel_tax)?);
        }
        Ok(item)
    }

    fn pii_item(&self, order: &Order, key: &SubjectKey) -> Result<Item, RepoError> {
        let mut item = Item::new(keys::order_pii(&order.merchant, &order.id))
            .with("sealed_at", Value::N(self.clock.now().unix_timestamp()));
        let buyer = &order.buyer;
        seal_into(&mut item, key, SealedField::BuyerName, &buyer.name)?;
        seal_into(&mut item, key, SealedField::Email, &buyer.email)?;
        seal_into(&mut item, key, SealedField::Phone, &buyer.phone)?;
        seal_into(
            &mut item,
            key,
            SealedField::ShippingAddress,
            &buyer.shipping_address,
        )?;
        seal_into(
            &mut item,
            key,
            SealedField::BillingAddress,
            &buyer.billing_address,
        )?;
        seal_into(&mut item, key, SealedField::CustomerId, &buyer.customer_id)?;
        // Routing rules may name postal-code prefixes: the first characters are kept beside the
        // sealed address, on this item, so they go wherever the PII goes (stripped by a purge).
        if let Some(prefix) = buyer
            .shipping_address
            .as_ref()
            .and_then(|a| a.reveal(RevealPurpose::Routing).postal_code.as_deref())
            .and_then(rc_domain::postal_prefix)
        {
            item.set(POSTAL_PREFIX, Value::S(prefix));
        }
        Ok(item)
    }

    /// Where the order goes, as coarsely as routing needs: the public ship-to region and, while
    /// the order holds PII, its postal prefix. Nothing is opened.
    pub async fn destination(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        view: &OrderView,
    ) -> Result<Destination, RepoError> {
        let postal_prefix = match &view.ship_to {
            Some(_) => self
                .data
                .get(&keys::order_pii(merchant, order))
                .await?
                .and_then(|item| item.string(POSTAL_PREFIX).map(str::to_owned)),
            None => None,
        };
        let ship_to = view.ship_to.as_ref();
        Ok(Destination {
            country: ship_to.and_then(|s| CountryCode::parse(&s.country).ok()),
            region: ship_to
                .and_then(|s| s.region.as_deref())
                .and_then(|r| RegionCode::parse(r).ok()),
            postal_prefix,
        })
    }

    /// Stores a new order exactly once: the public item, the sealed PII item and the delivery
    /// mark are one transaction, so a crash never leaves half an order, and a repeated delivery
    /// (or the same order arriving by another route) changes nothing.
    pub async fn store_new(
        &self,
        order: &Order,
        delivery: Option<&DeliveryMark>,
    ) -> Result<StoreOutcome, RepoError> {
        let mut public = Self::public_item(order)?;
        let shipped_at = order.status.has_shipped().then(|| self.event_time(order));
        let cancelled_at = (order.status == OrderStatus::Cancelled).then(|| self.event_time(order));
        if let Some(at) = shipped_at {
            public.set("shipped_at", Value::N(at.unix_timestamp()));
        }
        if let Some(at) = cancelled_at {
            public.set("cancelled_at", Value::N(at.unix_timestamp()));
        }
        let deadline = self
            .retention
            .deadline_for(order.placed_at, shipped_at, cancelled_at);
        // An order first seen long after it shipped (or was placed) may already be past its PII
        // deadline: then its PII is never stored at all (no key is even created), only the
        // anonymized order.
        let already_due = deadline.at <= self.clock.now();
        let mut ops = Vec::with_capacity(5);
        if already_due {
            public.set("buyer_pii", Value::S("purged".into()));
            ops.push(TxOp::Create(public));
        } else {
            let key = self
                .vault
                .key_for_sealing(&order.merchant, &KeySubject::order(&order.id))
                .await?;
            let mut pii = self.pii_item(order, &key)?;
            set_pii_clock(&mut pii, deadline);
            ops.push(TxOp::Create(public));
            ops.push(TxOp::Create(pii));
        }
        ops.push(TxOp::Create(Item::new(keys::order_by_status(
            &order.merchant,
            order.status,
            &order.id,
        ))));
        if let Some(mark) = delivery {
            ops.push(TxOp::Create(self.delivery_item(mark)));
        }
        let stored = event(order, "order.stored", 1);
        match self.outbox.commit_with(ops, stored).await {
            Ok(()) => Ok(StoreOutcome::Stored),
            Err(StoreError::TransactionCancelled { failed }) if !failed.is_empty() => {
                Ok(StoreOutcome::Duplicate)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a new order or applies a channel's later report of it, exactly once per delivery:
    /// - content (lines, totals, PII) is replaced only by a strictly newer `channel_updated_at`,
    ///   so a retry carrying an older state never overwrites a newer one;
    /// - the status only moves forward ([`OrderStatus::merged_with`]), whatever the order of
    ///   arrival, so a late "cancelled" still cancels and nothing un-ships an order;
    /// - a purged order never gets PII back.
    pub async fn upsert(
        &self,
        order: &Order,
        delivery: Option<&DeliveryMark>,
    ) -> Result<StoreOutcome, RepoError> {
        for _ in 0..UPDATE_ATTEMPTS {
            // No separate "seen this delivery?" read: every write below carries the delivery
            // mark, and a mark that already exists fails it.
            let key = keys::order(&order.merchant, &order.id);
            let Some(existing) = self.data.get(&key).await? else {
                match self.store_new(order, delivery).await? {
                    StoreOutcome::Stored => return Ok(StoreOutcome::Stored),
                    // Created concurrently (or this delivery was): look again.
                    _ => continue,
                }
            };
            match self.apply_update(order, &existing, delivery).await {
                Err(RepoError::Store(StoreError::TransactionCancelled { failed }))
                    if delivery.is_some() && failed.contains(&MARK_FAILED) =>
                {
                    return Ok(StoreOutcome::Duplicate);
                }
                Err(RepoError::Store(StoreError::TransactionCancelled { .. })) => continue,
                other => return other,
            }
        }
        Err(RepoError::LostRace(
            "the order kept changing concurrently; retry",
        ))
    }

    async fn apply_update(
        &self,
        order: &Order,
        existing: &Item,
        delivery: Option<&DeliveryMark>,
    ) -> Result<StoreOutcome, RepoError> {
        let stored_status = existing
            .string("status")
            .and_then(OrderStatus::parse)
            .ok_or(RepoError::Corrupt("status"))?;
        let stored_updated_at = existing
            .number("channel_updated_at")
            .ok_or(RepoError::Corrupt("channel_updated_at"))?;
        let plan = plan_update(
            OrderState {
                status: stored_status,
                channel_updated_at: stored_updated_at,
            },
            OrderState {
                status: order.status,
                channel_updated_at: order.channel_updated_at.unix_timestamp(),
            },
        );
        let mut ops = Vec::with_capacity(3);
        ops.extend(delivery.map(|mark| TxOp::Create(self.delivery_item(mark))));
        let UpdatePlan::Apply {
            status,
            replace_content: newer,
            clock,
        } = plan
        else {
            if !ops.is_empty() {
                self.data.transact(ops).await?;
            }
            return Ok(StoreOutcome::Stale);
        };
        let mut public = if newer {
            let mut public = Self::public_item(order)?;
            for kept in ["shipped_at", "cancelled_at", "pii_purged_at"] {
                if let Some(at) = existing.number(kept) {
                    public.set(kept, Value::N(at));
                }
            }
            public
        } else {
            existing.clone()
        };
        public.set("status", Value::S(status.as_str().into()));
        let pii_state = existing.string("buyer_pii").unwrap_or("sealed").to_owned();
        public.set("buyer_pii", Value::S(pii_state.clone()));
        // A shipment or a cancellation starts the retention clock.
        let clock_event = clock.map(|rule| match rule {
            PiiRule::Shipped => ("shipped_at", rule),
            _ => ("cancelled_at", rule),
        });
        let event_deadline = clock_event.map(|(attribute, rule)| {
            let at = self.event_time(order);
            public.set(attribute, Value::N(at.unix_timestamp()));
            PiiDeadline {
                at: self.retention.pii_deadline(at),
                rule,
            }
        });
        ops.push(TxOp::Replace {
            item: public,
            expected_version: existing.version,
        });
        ops.extend(
            self.index_ops(&order.merchant, &order.id, stored_status, status)
                .await?,
        );
        let pii_key = keys::order_pii(&order.merchant, &order.id);
        // A purged order never gets PII back (nor one being purged: its key is destroyed first);
        // a sealed one's deadline only ever moves earlier.
        if pii_state == "sealed"
            && (newer || event_deadline.is_some())
            && let Some(stored_pii) = self.data.get(&pii_key).await?
            && stored_pii.number("stripped_at").is_none()
        {
            let resealed = if newer {
                match self
                    .vault
                    .key_for_opening(&order.merchant, &KeySubject::order(&order.id))
                    .await
                {
                    Ok(key) => Some(self.pii_item(order, &key)?),
                    Err(VaultError::KeyDestroyed) => None,
                    Err(e) => return Err(e.into()),
                }
            } else {
                Some(stored_pii.clone())
            };
            if let Some(mut pii) = resealed {
                let stored_deadline = stored_deadline(&stored_pii)
                    .unwrap_or_else(|| self.retention.deadline_for(order.placed_at, None, None));
                let deadline = match event_deadline {
                    Some(event) => stored_deadline.earliest(event),
                    None => stored_deadline,
                };
                set_pii_clock(&mut pii, deadline);
                ops.push(TxOp::Replace {
                    item: pii,
                    expected_version: stored_pii.version,
                });
            }
        }
        let updated = event(order, "order.updated", existing.version + 1);
        self.outbox.commit_with(ops, updated).await?;
        Ok(StoreOutcome::Updated)
    }

    /// Marks an order shipped now, at the merchant's word (until fulfillment tracks shipments):
    /// the status moves to shipped and the PII clock to now + retention (or stays, if earlier).
    /// Idempotent; `Conflict` for a cancelled order; `None` for an unknown one.
    pub async fn mark_shipped(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<OrderView>, RepoError> {
        self.advance_status(merchant, order, OrderStatus::Shipped)
            .await
    }

    /// Moves an order's status forward to `to` (our own processing: reserved, backordered,
    /// shipped), publishing the change. Idempotent (already there, or past it: nothing
    /// changes); `Conflict` when the move is not allowed (a cancelled order cannot ship);
    /// `None` for an unknown order.
    pub async fn advance_status(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        to: OrderStatus,
    ) -> Result<Option<OrderView>, RepoError> {
        self.advance_status_at(merchant, order, to, self.clock.now())
            .await
    }

    /// [`Self::advance_status`] for a move that happened at `at` (a courier's pickup event):
    /// shipped at `at` (never later than now), so the PII deadline counts from the moment the
    /// parcel left, not from when we heard. The deadline only ever moves earlier.
    pub async fn advance_status_at(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        to: OrderStatus,
        at: OffsetDateTime,
    ) -> Result<Option<OrderView>, RepoError> {
        let at = at.min(self.clock.now());
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(existing) = self.data.get(&keys::order(merchant, order)).await? else {
                return Ok(None);
            };
            let status = existing
                .string("status")
                .and_then(OrderStatus::parse)
                .ok_or(RepoError::Corrupt("status"))?;
            if status == to {
                return Ok(Some(Self::view_of(order, &existing)?));
            }
            if status.advance(to).is_err() {
                if status == OrderStatus::Cancelled {
                    return Err(RepoError::Refused("a cancelled order cannot move on"));
                }
                // Already past it (shipped, when asked to reserve): nothing to do.
                return Ok(Some(Self::view_of(order, &existing)?));
            }
            let mut public = existing.clone();
            public.set("status", Value::S(to.as_str().into()));
            // Delivered straight from earlier (the pickup event never came): it shipped too.
            let ships = to.has_shipped() && existing.number("shipped_at").is_none();
            if ships {
                public.set("shipped_at", Value::N(at.unix_timestamp()));
            }
            let mut ops = vec![TxOp::Replace {
                item: public,
                expected_version: existing.version,
            }];
            ops.extend(self.index_ops(merchant, order, status, to).await?);
            if ships
                && let Some(mut pii) = self.data.get(&keys::order_pii(merchant, order)).await?
                && pii.number("stripped_at").is_none()
            {
                let shipped = PiiDeadline {
                    at: self.retention.pii_deadline(at),
                    rule: PiiRule::Shipped,
                };
                let version = pii.version;
                let deadline = stored_deadline(&pii).map_or(shipped, |d| d.earliest(shipped));
                set_pii_clock(&mut pii, deadline);
                ops.push(TxOp::Replace {
                    item: pii,
                    expected_version: version,
                });
            }
            let updated = OrderEvent {
                kind: "order.updated".into(),
                merchant: merchant.to_string(),
                order: order.to_string(),
                version: existing.version + 1,
            };
            match self.outbox.commit_with(ops, updated).await {
                Ok(()) => return self.view(merchant, order).await,
                Err(StoreError::TransactionCancelled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RepoError::LostRace(
            "the order kept changing concurrently; retry",
        ))
    }

    /// The changes to the merchant's order indexes a status move makes, in the move's
    /// transaction: the by-status entry moves from `from` to `to`, and the "needs action" entry
    /// appears when the order starts needing the merchant and goes when it stops.
    async fn index_ops(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Vec<TxOp>, RepoError> {
        if from == to {
            return Ok(Vec::new());
        }
        let mut ops = Vec::with_capacity(3);
        ops.push(TxOp::Delete {
            key: keys::order_by_status(merchant, from, order),
            expected_version: None,
        });
        let entry = keys::order_by_status(merchant, to, order);
        // One left over (a move whose entry was written before a crash cannot exist, but an
        // order restored from a backup can carry one) is replaced, never a reason to fail.
        ops.push(match self.data.get(&entry).await? {
            Some(item) => TxOp::Replace {
                expected_version: item.version,
                item,
            },
            None => TxOp::Create(Item::new(entry)),
        });
        ops.extend(self.attention_op(merchant, order, from, to).await?);
        Ok(ops)
    }

    /// The change to the "needs action" index a status move makes: an entry when the order
    /// starts needing the merchant, none when it stops (in the move's transaction).
    async fn attention_op(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<TxOp>, RepoError> {
        let key = keys::order_attention(merchant, order);
        Ok(match (from.needs_action(), to.needs_action()) {
            (false, true) => {
                let now = Value::N(self.clock.now().unix_timestamp());
                // One left over (the order was moved on outside a status move) is replaced.
                Some(match self.data.get(&key).await? {
                    Some(mut item) => {
                        let version = item.version;
                        item.set("since", now);
                        TxOp::Replace {
                            item,
                            expected_version: version,
                        }
                    }
                    None => TxOp::Create(Item::new(key).with("since", now)),
                })
            }
            (true, false) => Some(TxOp::Delete {
                key,
                expected_version: None,
            }),
            _ => None,
        })
    }

    /// The merchant's orders that need action (backordered, or routing needs attention),
    /// oldest entry first, from the index; an entry whose order has moved on is skipped.
    pub async fn needing_action(
        &self,
        merchant: &MerchantId,
        channel: Option<Channel>,
        limit: usize,
        after: Option<&OrderId>,
    ) -> Result<(Vec<OrderView>, Option<OrderId>), RepoError> {
        let after = after.map(|id| rc_store::PageToken(keys::order_attention(merchant, id).sk));
        let filter = format!("ATTN#{}", channel_prefix(channel));
        let (views, next) = self
            .index_page(merchant, "ATTN#", &filter, limit, after)
            .await?;
        let views = views
            .into_iter()
            .filter(|view| view.status.needs_action())
            .collect();
        Ok((views, next))
    }

    /// When the order shipped or was cancelled, as far as we can tell: the channel's report
    /// time, never later than now (a late report must not push the PII deadline out).
    fn event_time(&self, order: &Order) -> OffsetDateTime {
        order.channel_updated_at.min(self.clock.now())
    }

    fn delivery_item(&self, mark: &DeliveryMark) -> Item {
        let mut item = Item::new(keys::delivery(
            mark.channel,
            &mark.source,
            &mark.delivery_id,
        ))
        .with("received_at", Value::N(self.clock.now().unix_timestamp()));
        item.expires_at = Some((self.clock.now() + DELIVERY_MEMORY).unix_timestamp());
        item
    }

    /// Whether a delivery was already processed.
    pub async fn seen(&self, mark: &DeliveryMark) -> Result<bool, RepoError> {
        let key = keys::delivery(mark.channel, &mark.source, &mark.delivery_id);
        Ok(self.data.get(&key).await?.is_some())
    }

    /// When the order's PII must be gone and by which rule, while it holds PII (`None` once
    /// purged, or for an unknown order). Read from the PII item's public attributes: nothing
    /// is opened.
    pub async fn pii_deadline(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<PiiDeadline>, RepoError> {
        Ok(self
            .data
            .get(&keys::order_pii(merchant, order))
            .await?
            .filter(|pii| pii.number("stripped_at").is_none())
            .as_ref()
            .and_then(stored_deadline))
    }

    /// The order's public view: no PII.
    pub async fn view(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<OrderView>, RepoError> {
        let Some(item) = self.data.get(&keys::order(merchant, order)).await? else {
            return Ok(None);
        };
        Ok(Some(Self::view_of(order, &item)?))
    }

    /// A page of one of the merchant's order indexes (entries `<entry_prefix><order id>`, those
    /// under `filter` only), resolved to the orders' views in one batched read; with the order
    /// to continue after when more remain. Whether each order still belongs is the caller's
    /// check (an index entry may trail its order by a moment).
    async fn index_page(
        &self,
        merchant: &MerchantId,
        entry_prefix: &str,
        filter: &str,
        limit: usize,
        after: Option<rc_store::PageToken>,
    ) -> Result<(Vec<OrderView>, Option<OrderId>), RepoError> {
        let page = self
            .data
            .query_partition(&keys::merchant_partition(merchant), filter, limit, after)
            .await?;
        let ids = page
            .items
            .iter()
            .map(|item| {
                item.key
                    .sk
                    .strip_prefix(entry_prefix)
                    .and_then(|id| OrderId::parse(id).ok())
                    .ok_or(RepoError::Corrupt("order index key"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let views = self.views(merchant, &ids).await?;
        Ok((views, ids.last().cloned().filter(|_| page.next.is_some())))
    }

    /// The public views of several orders in one batched read, in the order asked (absent
    /// ones left out): what an index page resolves its entries with.
    async fn views(
        &self,
        merchant: &MerchantId,
        orders: &[OrderId],
    ) -> Result<Vec<OrderView>, RepoError> {
        let keys: Vec<_> = orders.iter().map(|o| keys::order(merchant, o)).collect();
        let items = self.data.get_many(&keys).await?;
        orders
            .iter()
            .zip(items)
            .filter_map(|(order, item)| item.map(|item| Self::view_of(order, &item)))
            .collect()
    }

    /// The merchant's orders in id order, `limit` at a time, after the order `after`; with the
    /// id to continue after when more remain (the cursor is an order id: the key layout stays
    /// here).
    pub async fn list(
        &self,
        merchant: &MerchantId,
        channel: Option<Channel>,
        limit: usize,
        after: Option<&OrderId>,
    ) -> Result<(Vec<OrderView>, Option<OrderId>), RepoError> {
        let after = after.map(|id| rc_store::PageToken(keys::order(merchant, id).sk));
        let prefix = format!("ORDER#{}", channel_prefix(channel));
        let page = self
            .data
            .query_partition(&keys::merchant_partition(merchant), &prefix, limit, after)
            .await?;
        let mut last = None;
        let items = page
            .items
            .iter()
            .map(|item| {
                let id = item
                    .key
                    .sk
                    .strip_prefix("ORDER#")
                    .and_then(|id| OrderId::parse(id).ok())
                    .ok_or(RepoError::Corrupt("order key"))?;
                let view = Self::view_of(&id, item)?;
                last = Some(id);
                Ok(view)
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok((items, last.filter(|_| page.next.is_some())))
    }

    /// Writes the by-status entry of every order of the merchant that lacks one (orders stored
    /// before the index existed): a walk of the merchant's orders, once, after an upgrade.
    /// Idempotent, and safe beside live traffic: an entry a status move makes meanwhile is kept
    /// (the create is conditional), and one written for a status the order has just left is
    /// skipped by every read, which checks the order's status. Returns how many it wrote.
    pub async fn reindex_statuses(&self, merchant: &MerchantId) -> Result<usize, RepoError> {
        let mut written = 0;
        let mut after = None;
        loop {
            let page = self
                .data
                .query_partition(&keys::merchant_partition(merchant), "ORDER#", 500, after)
                .await?;
            for item in &page.items {
                let (Some(id), Some(status)) = (
                    item.key
                        .sk
                        .strip_prefix("ORDER#")
                        .and_then(|id| OrderId::parse(id).ok()),
                    item.string("status").and_then(OrderStatus::parse),
                ) else {
                    return Err(RepoError::Corrupt("order key or status"));
                };
                match self
                    .data
                    .create(Item::new(keys::order_by_status(merchant, status, &id)))
                    .await
                {
                    Ok(()) => written += 1,
                    Err(StoreError::AlreadyExists) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(written),
            }
        }
    }

    /// The merchant's orders in one status (of one channel, when given), by order id, from the
    /// by-status index; an entry whose order has moved on since is skipped.
    pub async fn in_status(
        &self,
        merchant: &MerchantId,
        status: OrderStatus,
        channel: Option<Channel>,
        limit: usize,
        after: Option<&OrderId>,
    ) -> Result<(Vec<OrderView>, Option<OrderId>), RepoError> {
        let prefix = keys::status_prefix(status);
        let filter = format!("{prefix}{}", channel_prefix(channel));
        let after =
            after.map(|id| rc_store::PageToken(keys::order_by_status(merchant, status, id).sk));
        let (views, next) = self
            .index_page(merchant, &prefix, &filter, limit, after)
            .await?;
        let views = views
            .into_iter()
            .filter(|view| view.status == status)
            .collect();
        Ok((views, next))
    }

    fn view_of(order: &OrderId, item: &Item) -> Result<OrderView, RepoError> {
        let timestamp = |name: &'static str| {
            item.number(name)
                .and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok())
                .ok_or(RepoError::Corrupt(name))
        };
        let channel = match item.string("channel") {
            Some("shopify") => rc_domain::Channel::Shopify,
            Some("amazon") => rc_domain::Channel::Amazon,
            _ => return Err(RepoError::Corrupt("channel")),
        };
        let currency = item
            .string("currency")
            .and_then(|c| Currency::parse(c).ok())
            .ok_or(RepoError::Corrupt("currency"))?;
        let ship_to: Option<ShipToRegion> = item
            .string("ship_to")
            .is_some()
            .then(|| from_json(item, "ship_to"))
            .transpose()?;
        let channel_tax: rc_domain::ChannelTaxFacts = item
            .string("channel_tax")
            .is_some()
            .then(|| from_json(item, "channel_tax"))
            .transpose()?
            .unwrap_or_default();
        Ok(OrderView {
            id: order.to_string(),
            channel,
            channel_reference: item
                .string("channel_reference")
                .ok_or(RepoError::Corrupt("channel_reference"))?
                .to_owned(),
            marketplace: item.string("marketplace").map(str::to_owned),
            status: item
                .string("status")
                .and_then(OrderStatus::parse)
                .ok_or(RepoError::Corrupt("status"))?,
            placed_at: timestamp("placed_at")?,
            channel_updated_at: timestamp("channel_updated_at")?,
            currency: currency.code().to_owned(),
            lines: from_json::<Vec<LineItem>>(item, "lines")?,
            totals: from_json::<OrderTotals>(item, "totals")?,
            ship_to,
            channel_tax,
            buyer_pii: match item.string("buyer_pii") {
                Some("purged") => BuyerPiiState::Purged,
                _ => BuyerPiiState::Sealed,
            },
            version: item.version,
        })
    }

    /// Opens the order's buyer PII for `purpose`. Fails with a vault error once it was purged.
    pub async fn buyer(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Option<BuyerPii>, RepoError> {
        let Some(item) = self.data.get(&keys::order_pii(merchant, order)).await? else {
            return Ok(None);
        };
        let key = self
            .vault
            .key_for_opening(merchant, &KeySubject::order(order))
            .await?;
        Ok(Some(BuyerPii {
            name: open_from(&item, &key, SealedField::BuyerName)?,
            email: open_from(&item, &key, SealedField::Email)?,
            phone: open_from(&item, &key, SealedField::Phone)?,
            shipping_address: open_from(&item, &key, SealedField::ShippingAddress)?,
            billing_address: open_from(&item, &key, SealedField::BillingAddress)?,
            customer_id: open_from(&item, &key, SealedField::CustomerId)?,
        }))
    }

    /// Whether the order's buyer is the channel customer `customer` names: only the sealed
    /// customer id is opened. `None` if the order holds no PII (never had it, or purged).
    pub async fn buyer_is(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        customer: &str,
    ) -> Result<Option<bool>, RepoError> {
        let Some(item) = self.data.get(&keys::order_pii(merchant, order)).await? else {
            return Ok(None);
        };
        if item.bytes(SealedField::CustomerId.as_str()).is_none() {
            // Sealed before customer ids were kept, or a guest checkout: nothing links the
            // order to the customer, so it is not theirs to see.
            return Ok(Some(false));
        }
        let key = match self
            .vault
            .key_for_opening(merchant, &KeySubject::order(order))
            .await
        {
            Ok(key) => key,
            Err(rc_vault::VaultError::KeyDestroyed) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let stored: Option<Pii<rc_domain::ChannelCustomerId>> =
            open_from(&item, &key, SealedField::CustomerId)?;
        Ok(Some(stored.is_some_and(|id| {
            id.reveal(rc_domain::RevealPurpose::ComplianceMatching)
                .as_str()
                == customer
        })))
    }
}
