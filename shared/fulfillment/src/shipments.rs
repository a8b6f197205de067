//! Shipment records: one item per shipment in the merchant's partition (`SHIP#<shipment id>`),
//! and an index entry per status (`SHIPIDX#<status>#<shipment id>`) moved in the same
//! transaction as the status, so `GET /v1/shipments?status=` is a query, never a scan. Both
//! live in the merchant partition, so an account cancellation removes them with the rest.
//!
//! Every change is a versioned replace: two label workers can never both record a purchase.

use std::collections::BTreeMap;
use std::sync::Arc;

use rc_domain::{
    Clock, Confirmation, CourierAccountRef, Journey, MerchantId, Money, OrderId, Parcel, Rate,
    ShipmentId, ShipmentStatus, Sku, TrackingEntry, WarehouseId,
};
use rc_orders::keys::merchant_partition;
use rc_store::{Item, ItemKey, Store, StoreError, TxOp, Value};
use serde::{Deserialize, Serialize};

use crate::FulfillmentError;

/// Shipments listed per page.
pub const PAGE: usize = 100;

/// A courier's shipment for ours and the rates it quoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourierQuote {
    pub courier: CourierAccountRef,
    /// The courier's id of its shipment (EasyPost `shp_…`), kept before anything else is asked.
    pub courier_shipment: String,
    pub rates: Vec<Rate>,
}

/// A bought label, as recorded the moment the courier said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRecord {
    pub courier: CourierAccountRef,
    pub courier_shipment: String,
    pub tracking_code: String,
    pub carrier: String,
    pub service: String,
    /// What the label cost, as the courier charged it (else the chosen rate).
    pub cost: Option<Money>,
    pub bought_at: i64,
}

/// Where the sealed label document is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// The label store's location of the sealed document (registered as a PII copy).
    pub location: String,
    pub format: String,
    /// Size of the document before sealing.
    pub bytes: u64,
    pub stored_at: i64,
}

/// One shipment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: ShipmentId,
    pub order: OrderId,
    pub warehouse: WarehouseId,
    /// Units per SKU it carries (kits as their components).
    pub units: BTreeMap<Sku, i64>,
    /// Weight and dimensions; `None` until known (the label waits, `parcel_missing`).
    pub parcel: Option<Parcel>,
    pub status: ShipmentStatus,
    /// Why it is `label_failed` (or waiting), machine-readable.
    pub reason: Option<String>,
    /// The courier's own code behind `reason`, when it gave one (never a value we sent).
    pub courier_code: Option<String>,
    pub quotes: Vec<CourierQuote>,
    pub chosen: Option<Rate>,
    /// A buy may have been sent: read back before buying again.
    pub buying: bool,
    pub purchase: Option<PurchaseRecord>,
    pub label: Option<LabelRecord>,
    /// Labels bought and voided before (their copies erased): what they cost stays known.
    pub voided_labels: Vec<PurchaseRecord>,
    pub attempts: u32,
    /// Until when a label worker holds it (unix seconds); others wait.
    pub lease_until: Option<i64>,
    /// The parcel's journey since its label, as couriers report it.
    #[serde(default)]
    pub journey: Option<Journey>,
    /// Every courier event, without PII (status codes and times only), newest last.
    #[serde(default)]
    pub history: Vec<TrackingEntry>,
    /// The courier notifications applied, newest last (their ids: a repeat changes nothing).
    #[serde(default)]
    pub seen_events: Vec<String>,
    /// When we last heard from the courier about it (unix seconds): polling looks at those
    /// silent too long.
    #[serde(default)]
    pub heard_at: Option<i64>,
    /// Its units were taken out of stock (at pickup): once.
    #[serde(default)]
    pub stock_consumed: bool,
    /// Its units were put back in its warehouse (returned): once.
    #[serde(default)]
    pub restocked: bool,
    /// Telling the order's marketplace that it left.
    #[serde(default)]
    pub confirmation: Option<Confirmation>,
    /// Carrier and tracking number of a package that left outside RetailCoder (the merchant
    /// said so); it has no label.
    #[serde(default)]
    pub external: Option<ExternalPackage>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The stored item's version (not part of the record).
    #[serde(skip)]
    pub version: u64,
    /// Whether its confirmation was pending when read (its index entry exists): the index is
    /// written only when that changes.
    #[serde(skip)]
    pending_indexed: bool,
    /// Whether its confirmation had failed when read (its failures index entry exists).
    #[serde(skip)]
    failed_indexed: bool,
    /// Whether its tracking had gone quiet when last saved (then its `STALLED#` entry exists):
    /// kept in the record and changed in the same transaction as the entry, since "stalled"
    /// depends on the time, not only on the record.
    #[serde(default)]
    pub stalled: bool,
}

/// A package the merchant sent without a RetailCoder label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalPackage {
    pub carrier: String,
    pub tracking_code: String,
    pub shipped_at: i64,
}

/// How long a tracked parcel may go without a courier event before the merchant is told (five
/// days: carriers scan a moving parcel at least daily, and a weekend plus a holiday is three).
pub const STALLED_AFTER_SECONDS: i64 = 5 * 86_400;

/// How many notification ids a shipment remembers (a courier repeats recent ones).
pub const SEEN_EVENTS: usize = 50;

impl Shipment {
    fn confirmation_pending(&self) -> bool {
        self.confirmation
            .as_ref()
            .is_some_and(|c| c.state == rc_domain::ConfirmationState::Pending)
    }

    fn confirmation_failed(&self) -> bool {
        self.confirmation
            .as_ref()
            .is_some_and(|c| c.state == rc_domain::ConfirmationState::Failed)
    }

    /// When the courier last reported it moving: its newest event, else when its label was
    /// bought. `None` for a package without our label (no courier reports on it to us).
    pub fn last_movement(&self) -> Option<i64> {
        let bought = self.purchase.as_ref()?.bought_at;
        Some(self.history.iter().map(|e| e.at).fold(bought, i64::max))
    }

    /// Whether its tracking has gone quiet: a labelled parcel not at the end of its journey with
    /// no courier event for [`STALLED_AFTER_SECONDS`] (a label never handed over, a parcel the
    /// carrier stopped scanning). The merchant asks the courier; the polling fallback has
    /// already asked for the tracking.
    pub fn tracking_stalled(&self, now: i64) -> bool {
        self.status.is_tracked()
            && self
                .last_movement()
                .is_some_and(|last| now - last >= STALLED_AFTER_SECONDS)
    }

    /// The carrier and tracking number the marketplace is told: the label's, or the one the
    /// merchant gave.
    pub fn tracking(&self) -> Option<(&str, &str)> {
        if let Some(external) = &self.external {
            return Some((&external.carrier, &external.tracking_code));
        }
        self.purchase
            .as_ref()
            .map(|p| (p.carrier.as_str(), p.tracking_code.as_str()))
    }

    /// Where it stands for the order's progress.
    pub fn progress(&self) -> rc_domain::ShipmentProgress {
        rc_domain::ShipmentProgress {
            status: self.status,
            left_at: self.journey.and_then(|j| j.left_at),
        }
    }
}

/// A shipment to create, from an order's routing decision.
#[derive(Debug, Clone)]
pub struct NewShipment {
    pub id: ShipmentId,
    pub warehouse: WarehouseId,
    pub units: BTreeMap<Sku, i64>,
    pub parcel: Option<Parcel>,
    /// A package that left outside RetailCoder (no label is bought for it).
    pub external: Option<ExternalPackage>,
}

fn key(merchant: &MerchantId, id: &ShipmentId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("SHIP#{id}"))
}

fn tracking_key(merchant: &MerchantId, tracking_code: &str) -> ItemKey {
    ItemKey::new(
        merchant_partition(merchant),
        format!("SHIPTRK#{tracking_code}"),
    )
}

fn confirmation_key(merchant: &MerchantId, id: &ShipmentId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("CONFIRMIDX#{id}"))
}

/// A shipment whose tracking has gone quiet, for the merchant to act on.
fn stalled_key(merchant: &MerchantId, id: &ShipmentId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("STALLED#{id}"))
}

/// A shipment whose marketplace confirmation failed for good, for the merchant to act on.
fn failure_key(merchant: &MerchantId, id: &ShipmentId) -> ItemKey {
    ItemKey::new(merchant_partition(merchant), format!("CONFAIL#{id}"))
}

fn index_key(merchant: &MerchantId, status: ShipmentStatus, id: &ShipmentId) -> ItemKey {
    ItemKey::new(
        merchant_partition(merchant),
        format!("SHIPIDX#{}#{id}", status.as_str()),
    )
}

/// The shipment ids a page of index entries (`<prefix><shipment id>`) names; an entry that is
/// not one is passed over.
fn ids_under(entries: &[Item], prefix: &str) -> Vec<ShipmentId> {
    entries
        .iter()
        .filter_map(|entry| {
            entry
                .key
                .sk
                .strip_prefix(prefix)
                .and_then(|id| ShipmentId::parse(id).ok())
        })
        .collect()
}

fn to_item(merchant: &MerchantId, shipment: &Shipment) -> Result<Item, FulfillmentError> {
    let body =
        serde_json::to_string(shipment).map_err(|_| FulfillmentError::Corrupt("shipment"))?;
    Ok(Item::new(key(merchant, &shipment.id))
        .with("shipment", Value::S(body))
        .with("status", Value::S(shipment.status.as_str().into())))
}

fn from_item(item: &Item) -> Result<Shipment, FulfillmentError> {
    let mut shipment: Shipment = item
        .string("shipment")
        .and_then(|body| serde_json::from_str(body).ok())
        .ok_or(FulfillmentError::Corrupt("shipment"))?;
    shipment.version = item.version;
    shipment.pending_indexed = shipment.confirmation_pending();
    shipment.failed_indexed = shipment.confirmation_failed();
    Ok(shipment)
}

pub struct ShipmentRepository {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl ShipmentRepository {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    pub fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Creates the shipments that do not exist yet (ids are deterministic, so planning twice
    /// creates nothing twice); returns every one of them as stored.
    pub async fn plan(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        planned: Vec<NewShipment>,
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        let now = self.now();
        let mut stored = Vec::with_capacity(planned.len());
        for new in planned {
            if let Some(existing) = self.get(merchant, &new.id).await? {
                stored.push(existing);
                continue;
            }
            let shipment = Shipment {
                id: new.id,
                order: order.clone(),
                warehouse: new.warehouse,
                units: new.units,
                reason: (new.parcel.is_none() && new.external.is_none())
                    .then(|| "parcel_missing".to_owned()),
                parcel: new.parcel,
                status: if new.external.is_some() {
                    ShipmentStatus::PickedUp
                } else {
                    ShipmentStatus::AwaitingLabel
                },
                courier_code: None,
                quotes: Vec::new(),
                chosen: None,
                buying: false,
                purchase: None,
                label: None,
                voided_labels: Vec::new(),
                attempts: 0,
                lease_until: None,
                history: Vec::new(),
                seen_events: Vec::new(),
                heard_at: None,
                restocked: false,
                confirmation: None,
                journey: new.external.as_ref().and_then(|e| {
                    let at = time::OffsetDateTime::from_unix_timestamp(e.shipped_at).ok()?;
                    let mut journey = Journey::new(at);
                    journey.apply(rc_domain::TrackingStatus::PickedUp, at);
                    Some(journey)
                }),
                // Its stock leaves with the order as a whole (the order processor's consume).
                stock_consumed: new.external.is_some(),
                external: new.external,
                created_at: now,
                updated_at: now,
                version: 1,
                pending_indexed: false,
                stalled: false,
                failed_indexed: false,
            };
            let ops = vec![
                TxOp::Create(to_item(merchant, &shipment)?),
                TxOp::Create(Item::new(index_key(
                    merchant,
                    shipment.status,
                    &shipment.id,
                ))),
            ];
            match self.data.transact(ops).await {
                Ok(()) => stored.push(shipment),
                // Planned concurrently by a redelivered event: take what it stored.
                Err(StoreError::TransactionCancelled { .. }) => {
                    if let Some(existing) = self.get(merchant, &shipment.id).await? {
                        stored.push(existing);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stored)
    }

    pub async fn get(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<Option<Shipment>, FulfillmentError> {
        self.data
            .get(&key(merchant, id))
            .await?
            .as_ref()
            .map(from_item)
            .transpose()
    }

    /// Records which shipment a tracking number belongs to, so a courier's notification finds
    /// it. Idempotent: an entry already there is left as it is.
    pub async fn index_tracking(
        &self,
        merchant: &MerchantId,
        tracking_code: &str,
        id: &ShipmentId,
    ) -> Result<(), FulfillmentError> {
        let item = Item::new(tracking_key(merchant, tracking_code))
            .with("shipment", Value::S(id.to_string()));
        match self.data.create(item).await {
            Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps the index of pending confirmations (`CONFIRMIDX#<shipment>`) in step with the
    /// record: the scheduled run finds due retries by query, never by scan. Written after the
    /// record (a crash between leaves the queue's own retry to carry it).
    async fn index_confirmation(
        &self,
        merchant: &MerchantId,
        shipment: &mut Shipment,
    ) -> Result<(), FulfillmentError> {
        let pending = shipment.confirmation_pending();
        if pending != shipment.pending_indexed {
            self.set_entry(confirmation_key(merchant, &shipment.id), pending)
                .await?;
            shipment.pending_indexed = pending;
        }
        // Failures the merchant must look at (the dashboard's needs-action page).
        let failed = shipment.confirmation_failed();
        if failed != shipment.failed_indexed {
            self.set_entry(failure_key(merchant, &shipment.id), failed)
                .await?;
            shipment.failed_indexed = failed;
        }
        Ok(())
    }

    async fn set_entry(&self, key: ItemKey, present: bool) -> Result<(), FulfillmentError> {
        if present {
            match self.data.create(Item::new(key)).await {
                Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
                Err(e) => Err(e.into()),
            }
        } else {
            Ok(self.data.delete(&key, None).await?)
        }
    }

    /// The merchant's shipments whose marketplace confirmation failed for good, from their
    /// index (an entry whose shipment has moved on is skipped).
    pub async fn confirmation_failures(
        &self,
        merchant: &MerchantId,
        limit: usize,
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        Ok(self
            .listed(merchant, "CONFAIL#", limit)
            .await?
            .into_iter()
            .filter(|shipment| shipment.confirmation_failed())
            .collect())
    }

    /// The merchant's shipments whose tracking has gone quiet (see [`Shipment::tracking_stalled`]),
    /// from their index, as of their last save (the hourly poll saves each one it asks about).
    pub async fn stalled(
        &self,
        merchant: &MerchantId,
        limit: usize,
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        Ok(self
            .listed(merchant, "STALLED#", limit)
            .await?
            .into_iter()
            .filter(|shipment| shipment.status.is_tracked())
            .collect())
    }

    /// The merchant's shipments whose confirmation is pending and due at `now`.
    pub async fn confirmations_due(
        &self,
        merchant: &MerchantId,
        now: i64,
    ) -> Result<Vec<ShipmentId>, FulfillmentError> {
        let entries = rc_store::query_all(
            self.data.as_ref(),
            &merchant_partition(merchant),
            "CONFIRMIDX#",
            PAGE,
        )
        .await?;
        let mut due = Vec::new();
        for entry in entries {
            let Some(id) = entry
                .key
                .sk
                .strip_prefix("CONFIRMIDX#")
                .and_then(|id| ShipmentId::parse(id).ok())
            else {
                continue;
            };
            if let Some(shipment) = self.get(merchant, &id).await?
                && shipment
                    .confirmation
                    .as_ref()
                    .is_some_and(|c| c.is_due(now))
            {
                due.push(id);
            }
        }
        Ok(due)
    }

    /// The shipments a merchant-partition index (`STALLED#`, `CONFAIL#`) lists, at most
    /// `limit`, read in one batch; whether each still belongs there is the caller's check.
    async fn listed(
        &self,
        merchant: &MerchantId,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        let page = self
            .data
            .query_partition(&merchant_partition(merchant), prefix, limit, None)
            .await?;
        self.get_many(merchant, &ids_under(&page.items, prefix))
            .await
    }

    /// Several shipments in one batched read, in the order asked (absent ones left out).
    async fn get_many(
        &self,
        merchant: &MerchantId,
        ids: &[ShipmentId],
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        let keys: Vec<ItemKey> = ids.iter().map(|id| key(merchant, id)).collect();
        self.data
            .get_many(&keys)
            .await?
            .into_iter()
            .flatten()
            .map(|item| from_item(&item))
            .collect()
    }

    /// Records that the courier answered about the shipment (nothing new): not silent.
    pub async fn heard(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<(), FulfillmentError> {
        let Some(mut shipment) = self.get(merchant, id).await? else {
            return Ok(());
        };
        shipment.heard_at = Some(self.now());
        let was = shipment.status;
        match self.save(merchant, &mut shipment, was).await {
            Ok(()) | Err(FulfillmentError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The shipment a tracking number belongs to.
    pub async fn by_tracking(
        &self,
        merchant: &MerchantId,
        tracking_code: &str,
    ) -> Result<Option<Shipment>, FulfillmentError> {
        let Some(entry) = self
            .data
            .get(&tracking_key(merchant, tracking_code))
            .await?
        else {
            return Ok(None);
        };
        let Some(id) = entry
            .string("shipment")
            .and_then(|s| ShipmentId::parse(s).ok())
        else {
            return Err(FulfillmentError::Corrupt("tracking index"));
        };
        self.get(merchant, &id).await
    }

    /// The order's shipments, in number order.
    pub async fn for_order(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Vec<Shipment>, FulfillmentError> {
        let items = rc_store::query_all(
            self.data.as_ref(),
            &merchant_partition(merchant),
            &format!("SHIP#{order}."),
            PAGE,
        )
        .await?;
        let mut shipments: Vec<Shipment> = items
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            // `SHIP#a.` also begins the shipments of an order called `a.1`.
            .filter(|s| s.id.order() == order)
            .collect();
        shipments.sort_by_key(|s| s.id.number());
        Ok(shipments)
    }

    /// The merchant's shipments in `status`, `PAGE` at a time after the shipment `after`, with
    /// the id to continue after when more remain.
    pub async fn by_status(
        &self,
        merchant: &MerchantId,
        status: ShipmentStatus,
        after: Option<&ShipmentId>,
    ) -> Result<(Vec<Shipment>, Option<ShipmentId>), FulfillmentError> {
        let prefix = format!("SHIPIDX#{}#", status.as_str());
        let start = after.map(|a| rc_store::PageToken(format!("{prefix}{a}")));
        let page = self
            .data
            .query_partition(&merchant_partition(merchant), &prefix, PAGE, start)
            .await?;
        // The index and the record move together; a record already gone is skipped.
        let shipments = self
            .get_many(merchant, &ids_under(&page.items, &prefix))
            .await?
            .into_iter()
            .filter(|shipment| shipment.status == status)
            .collect();
        let next = if page.next.is_some() {
            page.items
                .last()
                .and_then(|e| e.key.sk.strip_prefix(&prefix))
                .and_then(|id| ShipmentId::parse(id).ok())
        } else {
            None
        };
        Ok((shipments, next))
    }

    /// Stores `shipment` if nobody changed it since it was read (its `version`); its status
    /// index entry moves with it. `Err(Conflict)` when someone did.
    pub async fn save(
        &self,
        merchant: &MerchantId,
        shipment: &mut Shipment,
        was: ShipmentStatus,
    ) -> Result<(), FulfillmentError> {
        self.save_with(merchant, shipment, was, Vec::new()).await
    }

    /// [`Self::save`], with more operations in the same transaction (stock moved with it).
    pub async fn save_with(
        &self,
        merchant: &MerchantId,
        shipment: &mut Shipment,
        was: ShipmentStatus,
        extra: Vec<TxOp>,
    ) -> Result<(), FulfillmentError> {
        let now = self.now();
        shipment.updated_at = now;
        let stalled = shipment.tracking_stalled(now);
        let listed = shipment.stalled;
        shipment.stalled = stalled;
        let mut ops = vec![TxOp::Replace {
            item: to_item(merchant, shipment)?,
            expected_version: shipment.version,
        }];
        match (listed, stalled) {
            (false, true) => ops.push(TxOp::Create(Item::new(stalled_key(merchant, &shipment.id)))),
            (true, false) => ops.push(TxOp::Delete {
                key: stalled_key(merchant, &shipment.id),
                expected_version: None,
            }),
            _ => {}
        }
        if was != shipment.status {
            ops.push(TxOp::Delete {
                key: index_key(merchant, was, &shipment.id),
                expected_version: None,
            });
            ops.push(TxOp::Create(Item::new(index_key(
                merchant,
                shipment.status,
                &shipment.id,
            ))));
        }
        ops.extend(extra);
        match self.data.transact(ops).await {
            Ok(()) => {
                shipment.version += 1;
                self.index_confirmation(merchant, shipment).await?;
                Ok(())
            }
            Err(StoreError::TransactionCancelled { .. } | StoreError::TransactionConflict) => {
                shipment.stalled = listed;
                Err(FulfillmentError::Conflict)
            }
            Err(e) => {
                shipment.stalled = listed;
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Shipment {
        let order = OrderId::parse("shopify-1").expect("order");
        let courier = CourierAccountRef::parse("easypost", "main").expect("courier");
        let usd = rc_domain::Currency::parse("USD").expect("usd");
        let rate = Rate {
            courier: courier.clone(),
            rate_id: "rate_1".into(),
            carrier: "USPS".into(),
            service: "First".into(),
            amount: Money::from_minor(460, usd).expect("money"),
            delivery_days: Some(3),
        };
        Shipment {
            id: ShipmentId::new(&order, 1).expect("id"),
            order,
            warehouse: WarehouseId::parse("main").expect("warehouse"),
            units: [(Sku::parse("MUG").expect("sku"), 2)].into_iter().collect(),
            parcel: Some(Parcel::parse(400, 200, 150, 100).expect("parcel")),
            status: ShipmentStatus::LabelCreated,
            reason: None,
            courier_code: None,
            quotes: vec![CourierQuote {
                courier: courier.clone(),
                courier_shipment: "shp_1".into(),
                rates: vec![rate.clone()],
            }],
            chosen: Some(rate),
            buying: false,
            purchase: None,
            label: None,
            voided_labels: Vec::new(),
            attempts: 1,
            lease_until: None,
            journey: None,
            history: Vec::new(),
            seen_events: Vec::new(),
            heard_at: None,
            stock_consumed: false,
            restocked: false,
            confirmation: None,
            external: None,
            created_at: 1,
            updated_at: 2,
            version: 3,
            pending_indexed: false,
            failed_indexed: false,
            stalled: false,
        }
    }

    #[test]
    fn a_shipment_reads_back_as_it_was_written() {
        let shipment = sample();
        let merchant = MerchantId::parse("m").expect("merchant");
        let item = to_item(&merchant, &shipment).expect("item");
        let mut back = from_item(&item).map_err(|e| {
            let body = item.string("shipment").unwrap_or_default();
            format!("{e}: {:?}", serde_json::from_str::<Shipment>(body).err())
        });
        if let Ok(back) = back.as_mut() {
            back.version = 3;
        }
        assert_eq!(back, Ok(shipment));
    }

    #[tokio::test]
    async fn a_parcel_without_courier_events_for_five_days_is_listed_until_one_arrives() {
        use rc_domain::{EventOutcome, EventSource, ManualClock, TrackingEntry, TrackingStatus};
        let start = time::macros::datetime!(2026-11-30 09:00 UTC);
        let clock = Arc::new(ManualClock::at(start));
        let data: Arc<dyn Store> = Arc::new(rc_store::memory::MemoryStore::new(clock.clone()));
        let repo = ShipmentRepository::new(data.clone(), clock.clone());
        let merchant = MerchantId::parse("m").expect("merchant");
        let mut shipment = sample();
        shipment.status = ShipmentStatus::InTransit;
        shipment.purchase = Some(PurchaseRecord {
            courier: CourierAccountRef::parse("easypost", "main").expect("courier"),
            courier_shipment: "shp_1".into(),
            tracking_code: "9400100000000000000000".into(),
            carrier: "USPS".into(),
            service: "First".into(),
            cost: None,
            bought_at: start.unix_timestamp(),
        });
        data.create(to_item(&merchant, &shipment).expect("item"))
            .await
            .expect("stored");
        let read = || async {
            repo.get(&merchant, &shipment.id)
                .await
                .expect("read")
                .expect("there")
        };
        let listed = || async { repo.stalled(&merchant, 100).await.expect("list").len() };

        // A day of quiet: not stalled. Four more and a save (the poll heard nothing new): listed.
        clock.advance(time::Duration::days(1));
        repo.heard(&merchant, &shipment.id).await.expect("heard");
        assert_eq!(listed().await, 0);
        clock.advance(time::Duration::days(4));
        repo.heard(&merchant, &shipment.id).await.expect("heard");
        assert_eq!(listed().await, 1);
        assert!(read().await.stalled);
        // Saved again while still quiet: still one entry, not two, not an error.
        repo.heard(&merchant, &shipment.id).await.expect("heard");
        assert_eq!(listed().await, 1);

        // A courier event: off the list in the same save.
        let mut moving = read().await;
        moving.history.push(TrackingEntry {
            at: clock.now().unix_timestamp(),
            status: Some(TrackingStatus::InTransit),
            courier_status: "in_transit".into(),
            source: EventSource::Webhook,
            outcome: EventOutcome::Moved,
        });
        repo.save(&merchant, &mut moving, ShipmentStatus::InTransit)
            .await
            .expect("saved");
        assert_eq!(listed().await, 0);
        assert!(!read().await.stalled);

        // Quiet again, then delivered: a parcel at the end of its journey is never stalled.
        clock.advance(time::Duration::days(6));
        repo.heard(&merchant, &shipment.id).await.expect("heard");
        assert_eq!(listed().await, 1);
        let mut delivered = read().await;
        delivered.status = ShipmentStatus::Delivered;
        repo.save(&merchant, &mut delivered, ShipmentStatus::InTransit)
            .await
            .expect("saved");
        assert_eq!(listed().await, 0);
        let entries = data
            .query_partition("M#m", "STALLED#", 10, None)
            .await
            .expect("entries");
        assert!(entries.items.is_empty(), "the entry is gone, not hidden");
    }

    #[tokio::test]
    async fn failed_confirmations_are_listed_until_they_are_not() {
        use rc_domain::{Confirmation, ConfirmationState, ManualClock, TrackingCode};
        let clock = Arc::new(ManualClock::at(
            time::macros::datetime!(2026-11-30 09:00 UTC),
        ));
        let data: Arc<dyn Store> = Arc::new(rc_store::memory::MemoryStore::new(clock.clone()));
        let repo = ShipmentRepository::new(data.clone(), clock);
        let merchant = MerchantId::parse("m").expect("merchant");
        let shipment = sample();
        data.create(to_item(&merchant, &shipment).expect("item"))
            .await
            .expect("stored");
        let mut stored = repo
            .get(&merchant, &shipment.id)
            .await
            .expect("read")
            .expect("there");
        assert!(
            repo.confirmation_failures(&merchant, 100)
                .await
                .expect("list")
                .is_empty()
        );

        let mut confirmation = Confirmation::pending(
            "USPS",
            &TrackingCode::parse("9400100000000000000000").expect("code"),
        );
        confirmation.state = ConfirmationState::Failed;
        confirmation.reason = Some("invalid_tracking".into());
        stored.confirmation = Some(confirmation);
        repo.save(&merchant, &mut stored, ShipmentStatus::LabelCreated)
            .await
            .expect("saved");
        let failed = repo
            .confirmation_failures(&merchant, 100)
            .await
            .expect("list");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, shipment.id);

        // Tried again by the merchant: pending, no longer a failure.
        let mut stored = repo
            .get(&merchant, &shipment.id)
            .await
            .expect("read")
            .expect("there");
        if let Some(c) = stored.confirmation.as_mut() {
            c.state = ConfirmationState::Pending;
        }
        repo.save(&merchant, &mut stored, ShipmentStatus::LabelCreated)
            .await
            .expect("saved");
        assert!(
            repo.confirmation_failures(&merchant, 100)
                .await
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            repo.confirmations_due(&merchant, i64::MAX)
                .await
                .expect("due")
                .len(),
            1
        );
    }
}
