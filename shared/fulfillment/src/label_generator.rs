//! The label generator: label jobs from the queue (ids only) → one bought label per shipment,
//! sealed and stored. Couriers have no idempotency keys, so every step is recorded on the
//! shipment before the next call, and nothing is bought again before the courier says the
//! last attempt did not buy:
//!
//! 1. **Lease.** A worker takes the shipment with a versioned write (`lease_until`); a
//!    concurrent delivery finds it held and comes back later. Every later write is versioned
//!    too: a worker whose lease was taken over can record nothing.
//! 2. **Quote.** For each courier account of the warehouse, the courier's shipment is created
//!    (buys nothing) and its id and rates are recorded at once.
//! 3. **Choose, then mark `buying`** — recorded *before* the buy is sent.
//! 4. **Buy.** Bought → recorded. A lost answer (timeout, 5xx, `NO_RESPONSE`), "already
//!    bought" or "in progress" → the courier's shipment is read back: bought → recorded; not
//!    bought → retried later. A shipment found `buying` at the start is always read back first.
//! 5. **Store the label**: fetched once, sealed under the order's data key, its location
//!    registered as a PII copy *before* it is written, then written; the shipment becomes
//!    `label_created`.
//!
//! Credentials the courier refuses, or a request it refuses, end in `label_failed` with a
//! reason: nothing was bought. A courier that is unavailable leaves the job to be retried (with
//! the queue's backoff) and, after its receives, in the dead-letter queue.

use std::sync::Arc;

use rc_couriers::{
    CourierCredentials, CourierError, LabelPurchaser, LabelRequest, Lookup, Purchase, Recipient,
    Sender,
};
use rc_domain::{
    CourierAccountRef, CourierKind, MerchantId, OrderId, OrderStatus, Rate, SealedField,
    ShipmentId, ShipmentStatus, choose_rate,
};
use rc_inventory::WarehouseRepository;
use rc_orders::{AuditLog, OrderRepository, PiiAccess};
use rc_privacy::PiiCopies;
use rc_queue::LabelJob;
use rc_vault::{KeySubject, Vault, VaultError};

use crate::{
    CourierAccountRepository, CourierQuote, FulfillmentError, LABEL_COPY, LabelRecord, LabelStore,
    PurchaseRecord, Shipment, ShipmentRepository,
};

/// How long a worker holds a shipment: longer than the few courier calls of one attempt (each
/// at most 30 s), shorter than the queue's visibility timeout.
pub const LEASE_SECONDS: i64 = 120;

const ACTOR: &str = "label-generator";

/// What a label request needs of the order (no PII).
struct OrderFacts {
    order_date: String,
    items: Vec<rc_couriers::LabelItem>,
    amazon_order_id: Option<String>,
}

/// Courier credentials opened during one attempt.
type Opened = std::collections::HashMap<CourierAccountRef, Arc<CourierCredentials>>;

/// The courier clients, by kind.
#[derive(Clone)]
pub struct Couriers {
    pub easypost: Arc<dyn LabelPurchaser>,
    pub shiprocket: Arc<dyn LabelPurchaser>,
    pub amazon_shipping: Arc<dyn LabelPurchaser>,
    /// The local host's sandbox courier; absent in AWS.
    pub sandbox: Option<Arc<dyn LabelPurchaser>>,
}

impl Couriers {
    /// The client of a courier kind.
    pub fn get(&self, kind: CourierKind) -> Result<&Arc<dyn LabelPurchaser>, CourierError> {
        match kind {
            CourierKind::EasyPost => Ok(&self.easypost),
            CourierKind::Sandbox => self
                .sandbox
                .as_ref()
                .ok_or(CourierError::NotConfigured("sandbox")),
            CourierKind::Shiprocket => Ok(&self.shiprocket),
            CourierKind::AmazonShipping => Ok(&self.amazon_shipping),
        }
    }
}

/// What one job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOutcome {
    /// The label was bought (now or before) and is stored.
    Created,
    /// Nothing to do: labelled, failed or voided already, or the shipment is gone.
    Done,
    /// No label can be bought as it stands; the shipment shows why.
    Failed(String),
}

/// How an attempt ended, before it is recorded.
enum Step {
    Created,
    Failed {
        reason: &'static str,
        code: Option<String>,
    },
}

pub struct LabelGenerator {
    pub(crate) shipments: Arc<ShipmentRepository>,
    pub(crate) accounts: Arc<CourierAccountRepository>,
    pub(crate) warehouses: Arc<WarehouseRepository>,
    pub(crate) orders: Arc<OrderRepository>,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) copies: Arc<PiiCopies>,
    pub(crate) store: Arc<dyn LabelStore>,
    pub(crate) couriers: Couriers,
}

impl LabelGenerator {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shipments: Arc<ShipmentRepository>,
        accounts: Arc<CourierAccountRepository>,
        warehouses: Arc<WarehouseRepository>,
        orders: Arc<OrderRepository>,
        audit: Arc<AuditLog>,
        vault: Arc<Vault>,
        copies: Arc<PiiCopies>,
        store: Arc<dyn LabelStore>,
        couriers: Couriers,
    ) -> Self {
        Self {
            shipments,
            accounts,
            warehouses,
            orders,
            audit,
            vault,
            copies,
            store,
            couriers,
        }
    }

    /// Processes a batch of label jobs; returns the ids of messages that failed (partial batch
    /// failure): they come back after the visibility timeout, and after their receives land in
    /// the dead-letter queue.
    pub async fn handle_batch(&self, messages: Vec<(String, String)>) -> Vec<String> {
        let mut failed = Vec::new();
        for (id, body) in messages {
            match self.handle(&body).await {
                Ok(outcome) => {
                    tracing::info!(message_id = %id, ?outcome, "label job done");
                }
                Err(error) if error.is_retryable() => {
                    tracing::warn!(message_id = %id, %error, "label job will be retried");
                    failed.push(id);
                }
                Err(error) => {
                    tracing::error!(message_id = %id, %error, "label job cannot be processed; it goes to the dead-letter queue");
                    failed.push(id);
                }
            }
        }
        failed
    }

    async fn handle(&self, body: &str) -> Result<LabelOutcome, FulfillmentError> {
        let job: LabelJob = serde_json::from_str(body).map_err(|_| FulfillmentError::Malformed)?;
        let merchant = MerchantId::parse(&job.merchant).map_err(|_| FulfillmentError::Malformed)?;
        let shipment = ShipmentId::parse(&job.shipment).map_err(|_| FulfillmentError::Malformed)?;
        self.generate(&merchant, &shipment).await
    }

    /// Buys and stores the shipment's label, exactly once however often and however
    /// concurrently it is asked.
    pub async fn generate(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<LabelOutcome, FulfillmentError> {
        let Some(mut shipment) = self.shipments.get(merchant, id).await? else {
            return Ok(LabelOutcome::Done);
        };
        if !shipment.status.wants_label() {
            return Ok(LabelOutcome::Done);
        }
        let now = self.shipments.now();
        if shipment.lease_until.is_some_and(|until| until > now) {
            return Err(FulfillmentError::Busy);
        }
        let was = shipment.status;
        shipment.lease_until = Some(now + LEASE_SECONDS);
        shipment.attempts += 1;
        shipment.status = ShipmentStatus::Purchasing;
        shipment.reason = None;
        match self.shipments.save(merchant, &mut shipment, was).await {
            Ok(()) => {}
            Err(FulfillmentError::Conflict) => return Err(FulfillmentError::Busy),
            Err(e) => return Err(e),
        }
        let step = self.attempt(merchant, &mut shipment).await;
        // The lease ends with the attempt, whatever happened (a crash leaves it to expire).
        shipment.lease_until = None;
        let was = shipment.status;
        let outcome = match step {
            Ok(Step::Created) => {
                shipment.status = ShipmentStatus::LabelCreated;
                shipment.reason = None;
                shipment.courier_code = None;
                // A new label starts a new journey (a relabel after a void too).
                let bought_at = shipment.purchase.as_ref().map_or(now, |p| p.bought_at);
                shipment.journey = Some(rc_domain::Journey::new(
                    time::OffsetDateTime::from_unix_timestamp(bought_at)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                ));
                shipment.heard_at = Some(now);
                Ok(LabelOutcome::Created)
            }
            Ok(Step::Failed { reason, code }) => {
                shipment.status = ShipmentStatus::LabelFailed;
                shipment.reason = Some(reason.to_owned());
                shipment.courier_code = code;
                Ok(LabelOutcome::Failed(reason.to_owned()))
            }
            Err(error) => {
                // Left `purchasing` (with `buying` as it is): the retry reads back first.
                shipment.reason = Some(match &error {
                    FulfillmentError::Courier(e) => e.reason().to_owned(),
                    _ => "retrying".to_owned(),
                });
                Err(error)
            }
        };
        match self.shipments.save(merchant, &mut shipment, was).await {
            // Taken over after our lease ran out: the other worker's record stands.
            Ok(()) | Err(FulfillmentError::Conflict) => {}
            Err(e) => return Err(e),
        }
        if outcome.as_ref().is_ok_and(|o| *o == LabelOutcome::Created) {
            if let Some(purchase) = &shipment.purchase {
                self.shipments
                    .index_tracking(merchant, &purchase.tracking_code, &shipment.id)
                    .await?;
            }
            tracing::info!(%merchant, shipment = %id, "label created");
            self.advance_order(merchant, shipment.id.order()).await?;
        }
        outcome
    }

    /// The order moves to `label_created` once every one of its shipments has its label.
    async fn advance_order(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<(), FulfillmentError> {
        let shipments = self.shipments.for_order(merchant, order).await?;
        if shipments
            .iter()
            .all(|s| s.status == ShipmentStatus::LabelCreated)
        {
            match self
                .orders
                .advance_status(merchant, order, OrderStatus::LabelCreated)
                .await
            {
                // Shipped or cancelled meanwhile: the order's own status stands.
                Ok(_) | Err(rc_orders::RepoError::Refused(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// A courier account's credentials, opened once per attempt (never kept longer: a rotated
    /// key is used from the next attempt on).
    async fn credentials(
        &self,
        merchant: &MerchantId,
        opened: &mut Opened,
        courier: &CourierAccountRef,
    ) -> Result<Option<Arc<CourierCredentials>>, FulfillmentError> {
        if let Some(credentials) = opened.get(courier) {
            return Ok(Some(Arc::clone(credentials)));
        }
        let Some(credentials) = self.accounts.credentials(merchant, courier).await? else {
            return Ok(None);
        };
        let credentials = Arc::new(credentials);
        opened.insert(courier.clone(), Arc::clone(&credentials));
        Ok(Some(credentials))
    }

    /// The order's date and what the shipment holds, priced from the order's lines (a kit's
    /// components, not sold on their own, at zero).
    async fn items(
        &self,
        merchant: &MerchantId,
        shipment: &Shipment,
    ) -> Result<OrderFacts, FulfillmentError> {
        let view = self
            .orders
            .view(merchant, shipment.id.order())
            .await?
            .ok_or(FulfillmentError::Corrupt("order"))?;
        let date = view.placed_at.date();
        let order_date = format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let currency = rc_domain::Currency::parse(&view.currency)
            .map_err(|_| FulfillmentError::Corrupt("order currency"))?;
        let items = shipment
            .units
            .iter()
            .map(|(sku, units)| {
                let price = view
                    .lines
                    .iter()
                    .find(|l| l.sku == *sku)
                    .map_or(rc_domain::Money::zero(currency), |l| l.unit_price);
                rc_couriers::LabelItem {
                    sku: sku.clone(),
                    units: u32::try_from(*units).unwrap_or(0),
                    unit_price: price,
                }
            })
            .collect();
        Ok(OrderFacts {
            order_date,
            items,
            amazon_order_id: (view.channel == rc_domain::Channel::Amazon)
                .then(|| view.channel_reference.clone()),
        })
    }

    /// Records, before it happens, that `actor` reveals the shipment's buyer data to print a
    /// label.
    async fn audit_reveal(
        &self,
        merchant: &MerchantId,
        shipment: &Shipment,
        actor: &rc_orders::Actor<'_>,
    ) -> Result<(), FulfillmentError> {
        self.audit
            .record(
                merchant,
                PiiAccess {
                    action: "pii_reveal",
                    purpose: "shipping_label",
                    actor,
                    subject: shipment.id.as_str(),
                    orders: &[shipment.id.order().to_string()],
                },
            )
            .await?;
        Ok(())
    }

    /// Opens what the courier needs of the buyer — for `ShippingLabel`, recorded in the audit
    /// trail first. `None` when the order holds no shipping address (never had one, or purged).
    async fn recipient(
        &self,
        merchant: &MerchantId,
        shipment: &Shipment,
    ) -> Result<Option<Recipient>, FulfillmentError> {
        let order = shipment.id.order();
        // The label job's id is the shipment's: the request it runs in.
        let actor = rc_orders::Actor {
            id: ACTOR,
            request_id: shipment.id.as_str(),
        };
        self.audit_reveal(merchant, shipment, &actor).await?;
        let buyer = match self.orders.buyer(merchant, order).await {
            Ok(Some(buyer)) => buyer,
            Ok(None) => return Ok(None),
            Err(rc_orders::RepoError::Vault(VaultError::KeyDestroyed)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(address) = buyer.shipping_address else {
            return Ok(None);
        };
        Ok(Some(Recipient {
            name: buyer.name,
            address,
            phone: buyer.phone,
            email: buyer.email,
        }))
    }

    /// One attempt, from wherever the last one stopped.
    async fn attempt(
        &self,
        merchant: &MerchantId,
        shipment: &mut Shipment,
    ) -> Result<Step, FulfillmentError> {
        let mut bought: Option<Purchase> = None;
        let opened = &mut Opened::new();
        if shipment.purchase.is_none() {
            let idempotent = match &shipment.chosen {
                Some(rate) => self.couriers.get(rate.courier.kind)?.idempotent(),
                None => false,
            };
            // A buy may have gone out: the courier says whether it did — or, for a courier with
            // idempotency keys, buying again with the same key settles it.
            if shipment.buying && !idempotent {
                let (courier, courier_shipment) = self.chosen(shipment)?;
                match self
                    .read_back(merchant, opened, &courier, &courier_shipment)
                    .await?
                {
                    Some(purchase) => bought = Some(purchase),
                    None => {
                        shipment.buying = false;
                        self.shipments
                            .save(merchant, shipment, shipment.status)
                            .await?;
                    }
                }
            }
            if bought.is_none() {
                match self.buy(merchant, opened, shipment).await? {
                    Ok(purchase) => bought = Some(purchase),
                    Err(failed) => return Ok(failed),
                }
            }
            let purchase = bought
                .as_ref()
                .ok_or(FulfillmentError::Corrupt("purchase"))?;
            let (courier, courier_shipment) = self.chosen(shipment)?;
            let chosen = shipment.chosen.as_ref();
            let or_chosen = |told: &str, rate: Option<&str>| {
                if told.is_empty() {
                    rate.unwrap_or_default().to_owned()
                } else {
                    told.to_owned()
                }
            };
            shipment.purchase = Some(PurchaseRecord {
                courier,
                courier_shipment: purchase
                    .courier_shipment
                    .clone()
                    .unwrap_or(courier_shipment),
                tracking_code: purchase.tracking_code.clone(),
                carrier: or_chosen(&purchase.carrier, chosen.map(|r| r.carrier.as_str())),
                service: or_chosen(&purchase.service, chosen.map(|r| r.service.as_str())),
                cost: purchase
                    .amount
                    .or_else(|| shipment.chosen.as_ref().map(|r| r.amount)),
                bought_at: self.shipments.now(),
            });
            shipment.buying = false;
            self.shipments
                .save(merchant, shipment, shipment.status)
                .await?;
        }
        if shipment.label.is_none() {
            self.store_label(merchant, opened, shipment, bought).await?;
        }
        Ok(Step::Created)
    }

    /// The chosen rate's courier account and the courier's shipment it belongs to.
    fn chosen(&self, shipment: &Shipment) -> Result<(CourierAccountRef, String), FulfillmentError> {
        let rate = shipment
            .chosen
            .as_ref()
            .ok_or(FulfillmentError::Corrupt("shipment chosen rate"))?;
        let quote = shipment
            .quotes
            .iter()
            .find(|q| q.courier == rate.courier)
            .ok_or(FulfillmentError::Corrupt("shipment quote"))?;
        Ok((rate.courier.clone(), quote.courier_shipment.clone()))
    }

    /// Reads the courier's shipment back: the purchase if it was bought.
    async fn read_back(
        &self,
        merchant: &MerchantId,
        opened: &mut Opened,
        courier: &CourierAccountRef,
        courier_shipment: &str,
    ) -> Result<Option<Purchase>, FulfillmentError> {
        let credentials = self
            .credentials(merchant, opened, courier)
            .await?
            .ok_or(CourierError::Unauthorized)?;
        let client = self.couriers.get(courier.kind)?;
        Ok(match client.lookup(&credentials, courier_shipment).await? {
            Lookup::Bought(purchase) => Some(purchase),
            Lookup::NotBought => None,
        })
    }

    /// Quotes, chooses and buys. `Ok(Err(step))`: no label can be bought as it stands.
    async fn buy(
        &self,
        merchant: &MerchantId,
        opened: &mut Opened,
        shipment: &mut Shipment,
    ) -> Result<Result<Purchase, Step>, FulfillmentError> {
        let failed =
            |reason: &'static str, code: Option<String>| Ok(Err(Step::Failed { reason, code }));
        let Some(parcel) = shipment.parcel else {
            return failed("parcel_missing", None);
        };
        let Some(warehouse) = self.warehouses.get(merchant, &shipment.warehouse).await? else {
            return failed("warehouse_missing", None);
        };
        if warehouse.couriers.is_empty() {
            return failed("no_courier_account", None);
        }
        let mut recipient: Option<Recipient> = None;
        let mut contents: Option<OrderFacts> = None;
        let mut refusal: Option<(&'static str, Option<String>)> = None;
        // An idempotent purchase that may have gone out is bought again as it was (same quote,
        // same key): only then may the courier recognize it.
        let retrying = shipment.buying && shipment.chosen.is_some();
        for courier in warehouse.couriers.iter().filter(|_| !retrying) {
            if shipment.quotes.iter().any(|q| q.courier == *courier) {
                continue;
            }
            let Some(credentials) = self.credentials(merchant, opened, courier).await? else {
                refusal.get_or_insert(("no_courier_account", None));
                continue;
            };
            let client = match self.couriers.get(courier.kind) {
                Ok(client) => client,
                Err(e) => {
                    refusal.get_or_insert((e.reason(), None));
                    continue;
                }
            };
            if recipient.is_none() {
                recipient = self.recipient(merchant, shipment).await?;
            }
            let Some(to) = recipient.as_ref() else {
                return failed("address_missing", None);
            };
            if contents.is_none() {
                contents = Some(self.items(merchant, shipment).await?);
            }
            let facts = contents
                .as_ref()
                .ok_or(FulfillmentError::Corrupt("order"))?;
            if courier.kind == rc_domain::CourierKind::AmazonShipping
                && facts.amazon_order_id.is_none()
            {
                // Amazon Shipping buys for Amazon orders only.
                refusal.get_or_insert(("not_an_amazon_order", None));
                continue;
            }
            let request = LabelRequest {
                reference: &shipment.id,
                amazon_order_id: facts.amazon_order_id.as_deref(),
                order_date: facts.order_date.clone(),
                items: facts.items.clone(),
                from: Sender {
                    address: &warehouse.address,
                    country: &warehouse.country,
                    region: warehouse.region.as_ref(),
                },
                to,
                parcel,
            };
            match client.create(&credentials, &request).await {
                Ok(created) => {
                    shipment.quotes.push(CourierQuote {
                        courier: courier.clone(),
                        courier_shipment: created.id,
                        rates: created
                            .quotes
                            .into_iter()
                            .map(|q| Rate {
                                courier: courier.clone(),
                                rate_id: q.rate_id,
                                carrier: q.carrier,
                                service: q.service,
                                amount: q.amount,
                                delivery_days: q.delivery_days,
                            })
                            .collect(),
                    });
                    // The courier's shipment id is kept before anything else is asked.
                    self.shipments
                        .save(merchant, shipment, shipment.status)
                        .await?;
                }
                Err(e @ (CourierError::Unauthorized | CourierError::Answer(_))) => {
                    refusal.get_or_insert((e.reason(), None));
                }
                Err(CourierError::Refused { code }) => {
                    refusal.get_or_insert(("courier_refused", Some(code)));
                }
                // Creating buys nothing: anything else is retried later.
                Err(e) => return Err(e.into()),
            }
        }
        let rates: Vec<Rate> = shipment
            .quotes
            .iter()
            .flat_map(|q| q.rates.iter().cloned())
            .collect();
        let chosen = if retrying {
            shipment.chosen.clone()
        } else {
            choose_rate(&rates, &warehouse.service).cloned()
        };
        let Some(rate) = chosen else {
            let (reason, code) = refusal.unwrap_or(("no_rate", None));
            return failed(reason, code);
        };
        let quote = shipment
            .quotes
            .iter()
            .find(|q| q.courier == rate.courier)
            .ok_or(FulfillmentError::Corrupt("shipment quote"))?
            .courier_shipment
            .clone();
        let credentials = self
            .credentials(merchant, opened, &rate.courier)
            .await?
            .ok_or(CourierError::Unauthorized)?;
        let client = self.couriers.get(rate.courier.kind)?.clone();
        // The intent is recorded before the buy goes out.
        shipment.chosen = Some(rate.clone());
        shipment.buying = true;
        self.shipments
            .save(merchant, shipment, shipment.status)
            .await?;
        let key = format!("{}-{}", shipment.id, shipment.voided_labels.len() + 1);
        match client.buy(&credentials, &quote, &rate.rate_id, &key).await {
            Ok(purchase) => Ok(Ok(purchase)),
            // An idempotent courier settles a lost answer by the next attempt's same key.
            Err(
                e @ (CourierError::Unknown(_) | CourierError::InProgress | CourierError::Answer(_)),
            ) if client.idempotent() => Err(e.into()),
            // The quote is too old: quote again next time (with the same key, so a purchase
            // that did go out is still recognized).
            Err(CourierError::QuoteExpired) => {
                shipment.quotes.clear();
                shipment.chosen = None;
                shipment.buying = false;
                Err(CourierError::QuoteExpired.into())
            }
            Err(
                e @ (CourierError::AlreadyBought
                | CourierError::InProgress
                | CourierError::Unknown(_)
                | CourierError::Answer(_)),
            ) => {
                tracing::warn!(%merchant, shipment = %shipment.id, error = %e, "purchase outcome unknown; reading the courier's shipment back");
                match client.lookup(&credentials, &quote).await? {
                    Lookup::Bought(purchase) => Ok(Ok(purchase)),
                    // Not (yet) bought: `buying` stays, so the retry reads back first again.
                    Lookup::NotBought => Err(e.into()),
                }
            }
            Err(CourierError::Unauthorized) => {
                shipment.buying = false;
                failed("courier_credentials_rejected", None)
            }
            Err(CourierError::Refused { code }) => {
                shipment.buying = false;
                failed("courier_refused", Some(code))
            }
            // Not processed (throttled, unreachable): nothing was bought.
            Err(e @ (CourierError::Unavailable(_) | CourierError::NotConfigured(_))) => {
                shipment.buying = client.idempotent() && shipment.buying && retrying;
                Err(e.into())
            }
        }
    }

    /// Fetches the label document once, seals it under the order's key, registers the copy and
    /// writes it.
    async fn store_label(
        &self,
        merchant: &MerchantId,
        opened: &mut Opened,
        shipment: &mut Shipment,
        bought: Option<Purchase>,
    ) -> Result<(), FulfillmentError> {
        let record = shipment
            .purchase
            .clone()
            .ok_or(FulfillmentError::Corrupt("shipment purchase"))?;
        let credentials = self
            .credentials(merchant, opened, &record.courier)
            .await?
            .ok_or(CourierError::Unauthorized)?;
        let client = self.couriers.get(record.courier.kind)?;
        // The label URL is not kept: after a crash, the courier gives it again.
        let purchase = match bought {
            Some(purchase) => purchase,
            None => match client
                .lookup(&credentials, &record.courier_shipment)
                .await?
            {
                Lookup::Bought(purchase) => purchase,
                Lookup::NotBought => return Err(FulfillmentError::Corrupt("purchase not found")),
            },
        };
        let document = client.document(&credentials, &purchase).await?;
        let order = shipment.id.order().clone();
        let key = self
            .vault
            .key_for_opening(merchant, &KeySubject::order(&order))
            .await?;
        let sealed = key.seal_bytes(SealedField::ShippingLabel, &document.bytes)?;
        let location = format!(
            "labels/{merchant}/{}/{}.{}",
            shipment.id,
            shipment.voided_labels.len() + 1,
            document.format.as_str()
        );
        // Registered before it is written: a crash leaves a pointer to nothing, never a copy
        // nobody knows about.
        self.copies
            .record(merchant, &order, LABEL_COPY, &location)
            .await?;
        self.store.put(&location, sealed.into_bytes()).await?;
        shipment.label = Some(LabelRecord {
            location,
            format: document.format.as_str().to_owned(),
            bytes: document.bytes.len() as u64,
            stored_at: self.shipments.now(),
        });
        Ok(())
    }

    /// Voids the shipment's label at its courier and erases the stored copy; the shipment is
    /// `voided`, ready for a new label. `Ok(Err(reason))`: `no_label`, or the courier refused
    /// (`void_refused`: used, or too late).
    pub async fn void(
        &self,
        merchant: &MerchantId,
        id: &ShipmentId,
    ) -> Result<Result<Shipment, &'static str>, FulfillmentError> {
        let Some(mut shipment) = self.shipments.get(merchant, id).await? else {
            return Ok(Err("no_label"));
        };
        let Some(purchase) = shipment.purchase.clone() else {
            return Ok(Err("no_label"));
        };
        if shipment.status != ShipmentStatus::LabelCreated {
            return Ok(Err("no_label"));
        }
        let credentials = self
            .credentials(merchant, &mut Opened::new(), &purchase.courier)
            .await?
            .ok_or(CourierError::Unauthorized)?;
        let client = self.couriers.get(purchase.courier.kind)?;
        match client
            .void(&credentials, &purchase.courier_shipment)
            .await?
        {
            rc_couriers::VoidOutcome::Voided => {}
            rc_couriers::VoidOutcome::Refused { code } => {
                tracing::info!(%merchant, shipment = %id, code = %code, "the courier refused to void the label");
                return Ok(Err("void_refused"));
            }
        }
        if let Some(label) = &shipment.label {
            self.copies
                .erase_copy(merchant, id.order(), LABEL_COPY, &label.location)
                .await?;
        }
        let was = shipment.status;
        shipment.status = ShipmentStatus::Voided;
        shipment.voided_labels.push(purchase);
        shipment.purchase = None;
        shipment.label = None;
        // A new label starts from a new courier shipment.
        shipment.quotes.clear();
        shipment.chosen = None;
        shipment.reason = None;
        self.shipments.save(merchant, &mut shipment, was).await?;
        tracing::info!(%merchant, shipment = %id, "label voided");
        Ok(Ok(shipment))
    }

    /// The stored label, opened: (format, document). `None` if it has none, or its order's
    /// PII (and so the label) was deleted.
    pub async fn open_label(
        &self,
        merchant: &MerchantId,
        shipment: &Shipment,
        actor: &rc_orders::Actor<'_>,
    ) -> Result<Option<(String, zeroize::Zeroizing<Vec<u8>>)>, FulfillmentError> {
        let Some(label) = &shipment.label else {
            return Ok(None);
        };
        let order = shipment.id.order();
        self.audit_reveal(merchant, shipment, actor).await?;
        let Some(sealed) = self.store.get(&label.location).await? else {
            return Ok(None);
        };
        let key = match self
            .vault
            .key_for_opening(merchant, &KeySubject::order(order))
            .await
        {
            Ok(key) => key,
            Err(VaultError::KeyDestroyed) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let document = key.open_bytes(
            SealedField::ShippingLabel,
            &rc_vault::Sealed::from_bytes(sealed)?,
        )?;
        Ok(Some((label.format.clone(), document)))
    }
}
