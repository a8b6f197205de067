//! Tax records, one per order, in the merchant's tax partition sorted by the order's day. A
//! record holds codes and amounts only — the jurisdictions of its warehouses and of its
//! destination, rates, taxable values, tax — so it is kept for the years tax law asks (see
//! [`RETENTION_YEARS`]) after the buyer's data is gone, and after the account is cancelled.

use std::sync::Arc;

use rc_domain::{MerchantId, OrderId};
use std::collections::BTreeMap;

use rc_store::{Item, ItemKey, Store, StoreError, TxOp, Value};
use rc_tax::{LineTax, TaxRecord};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::report::contributions;
use crate::{TaxRecordError, keys};

/// Years a record is kept after its order's day (its store TTL): India keeps GST records 72
/// months after the annual return's due date, the EU's OSS 10 years after the year of the
/// sale; 11 years covers both.
pub const RETENTION_YEARS: i32 = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRecordState {
    /// What is owed, computed or recorded as charged.
    Computed,
    /// The tax could not be worked out: `reason` says why (a SKU without a tax class, an
    /// unknown state, ...). Never a silent zero; the merchant fixes it and recomputes.
    Flagged,
    /// The order was cancelled before it shipped: no supply, nothing owed (reports skip it).
    Void,
}

/// What the channel charged, kept beside what is owed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charged {
    pub lines: Vec<LineTax>,
    pub total: i64,
    /// The marketplace collects and remits it.
    pub collected_by_marketplace: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTaxRecord {
    pub order: String,
    /// The order's day in the destination's tax calendar (IST for India, UTC elsewhere): the
    /// day its rates are taken on and the day the report counts it.
    pub day: String,
    pub state: TaxRecordState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The strategy that made it (`india_gst`, `eu_vat`, `channel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub currency: String,
    /// Each line's ship-from jurisdiction (`IN-MH`, `DE`; empty when no warehouse is known).
    pub ship_from: Vec<String>,
    /// The destination's jurisdiction (`IN-KA`, `FR`, `US-CA`).
    pub ship_to: String,
    /// What is owed and by whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owed: Option<TaxRecord>,
    /// What the channel charged, when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charged: Option<Charged>,
    /// The order version it was computed from.
    pub order_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub computed_at: OffsetDateTime,
}

impl StoredTaxRecord {
    /// The same record, ignoring when and from which order version it was computed.
    pub fn same_content(&self, other: &Self) -> bool {
        let strip = |r: &Self| Self {
            order_version: 0,
            computed_at: OffsetDateTime::UNIX_EPOCH,
            ..r.clone()
        };
        strip(self) == strip(other)
    }
}

/// A day's totals are split over this many items, by order: concurrent writers of one busy
/// day rarely touch the same item (DynamoDB cancels transactions that collide on one), and a
/// report reads at most this many items per day.
pub const TOTAL_SHARDS: u64 = 8;

/// The shard of the day's totals an order's contributions go to: always the same for an order
/// (FNV-1a of its id), so its old contributions are taken from where they were added.
fn shard(order: &OrderId) -> u64 {
    let hash = order
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    hash % TOTAL_SHARDS
}

/// When a record of `day` (and its day's totals) may go: [`RETENTION_YEARS`] later (29 February
/// moves to the 28th).
fn kept_until(day: Date) -> Result<i64, TaxRecordError> {
    let until = day
        .replace_year(day.year() + RETENTION_YEARS)
        .or_else(|_| {
            day.replace_day(28)
                .and_then(|d| d.replace_year(d.year() + RETENTION_YEARS))
        })
        .map_err(|_| TaxRecordError::Corrupt("tax record day"))?;
    Ok(until.midnight().assume_utc().unix_timestamp())
}

pub struct TaxRecords {
    data: Arc<dyn Store>,
}

fn parse_day(day: &str) -> Result<Date, TaxRecordError> {
    Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| TaxRecordError::Corrupt("tax record day"))
}

/// A stored record item's record.
pub fn from_item(item: &Item) -> Result<StoredTaxRecord, TaxRecordError> {
    item.string("body")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or(TaxRecordError::Corrupt("tax record"))
}

impl TaxRecords {
    pub fn new(data: Arc<dyn Store>) -> Self {
        Self { data }
    }

    /// The order's record and its item version.
    pub async fn get(
        &self,
        merchant: &MerchantId,
        day: Date,
        order: &OrderId,
    ) -> Result<Option<(StoredTaxRecord, u64)>, TaxRecordError> {
        match self.data.get(&keys::record(merchant, day, order)).await? {
            Some(item) => Ok(Some((from_item(&item)?, item.version))),
            None => Ok(None),
        }
    }

    /// Writes the record if the stored one is still `previous` (its item version; `None`:
    /// there is none), and in the same transaction moves the day's totals by the difference
    /// (the new record's contributions less the old one's), so the totals always equal the sum
    /// over the records. `Ok(false)` when someone else wrote it first.
    pub async fn write(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
        record: &StoredTaxRecord,
        previous: Option<(&StoredTaxRecord, u64)>,
    ) -> Result<bool, TaxRecordError> {
        let item = Self::item(merchant, order, record)?;
        let mut ops = vec![match previous {
            Some((_, version)) => TxOp::Replace {
                item,
                expected_version: version,
            },
            None => TxOp::Create(item),
        }];
        let mut deltas: BTreeMap<Date, BTreeMap<String, i64>> = BTreeMap::new();
        let day = parse_day(&record.day)?;
        for (name, value) in contributions(record) {
            *deltas.entry(day).or_default().entry(name).or_default() += value;
        }
        if let Some((old, _)) = previous {
            let old_day = parse_day(&old.day)?;
            for (name, value) in contributions(old) {
                *deltas.entry(old_day).or_default().entry(name).or_default() -= value;
            }
        }
        for (day, deltas) in deltas {
            let deltas: Vec<(String, i64)> = deltas.into_iter().filter(|(_, d)| *d != 0).collect();
            if deltas.is_empty() {
                continue;
            }
            let key = keys::day_totals(merchant, day, shard(order));
            self.ensure_totals(&key, day).await?;
            ops.push(TxOp::Adjust {
                key,
                deltas,
                at_least: Vec::new(),
            });
        }
        match self.data.transact(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::TransactionCancelled { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a day's totals item (one of its shards) unless it exists.
    async fn ensure_totals(&self, key: &ItemKey, day: Date) -> Result<(), TaxRecordError> {
        if self.data.get(key).await?.is_some() {
            return Ok(());
        }
        let mut item = Item::new(key.clone()).with("kind", Value::S("day_totals".into()));
        item.expires_at = Some(kept_until(day)?);
        match self.data.create(item).await {
            Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The store item of an order's record (its key from the record's day; TTL
    /// [`RETENTION_YEARS`] after it).
    fn item(
        merchant: &MerchantId,
        order: &OrderId,
        record: &StoredTaxRecord,
    ) -> Result<Item, TaxRecordError> {
        let day = parse_day(&record.day)?;
        let body =
            serde_json::to_string(record).map_err(|_| TaxRecordError::Corrupt("tax record"))?;
        let mut item = Item::new(keys::record(merchant, day, order)).with("body", Value::S(body));
        item.expires_at = Some(kept_until(day)?);
        Ok(item)
    }
}
