//! Privacy requests received from channels (Shopify's compliance webhooks), recorded durably for
//! the privacy lifecycle to fulfil. No PII inside: ids only.

use std::sync::Arc;

use rc_domain::{Clock, ComplianceRequest, MerchantId};
use rc_store::{Item, ItemKey, Page, PageToken, Store, StoreError, TxOp, Value};

use crate::{DeliveryMark, RepoError, StoreOutcome, keys};

/// Partition listing requests not yet fulfilled, oldest first, across merchants.
const PENDING: &str = "PRIVACY#pending";

/// A recorded request, as the privacy lifecycle reads it.
#[derive(Debug, Clone)]
pub struct PendingPrivacyRequest {
    pub merchant: MerchantId,
    /// The request item's key (in the merchant's partition).
    pub request: ItemKey,
    pub kind: String,
    pub received_at: i64,
    /// The entry in the pending list.
    pub pending: ItemKey,
}

/// A recorded request as its merchant sees it: ids, kinds and outcomes, no contact details.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrivacyRequestView {
    /// The delivery id Shopify gave the request.
    pub id: String,
    pub kind: String,
    pub status: String,
    pub received_at: i64,
    pub fulfilled_at: Option<i64>,
    /// The orders the request named (our ids).
    pub orders: Vec<String>,
    /// What fulfilling it did (or, for a data request, which fields are held per order).
    pub outcome: Option<serde_json::Value>,
}

pub struct PrivacyRequestRepository {
    data: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl PrivacyRequestRepository {
    pub fn new(data: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { data, clock }
    }

    /// Records a request once per delivery (the delivery id is the request's identity).
    pub async fn record(
        &self,
        merchant: &MerchantId,
        request: &ComplianceRequest,
        delivery: &DeliveryMark,
    ) -> Result<StoreOutcome, RepoError> {
        let now = self.clock.now().unix_timestamp();
        let request_sk = format!("PRIVACYREQ#{}#{}", delivery.channel, delivery.delivery_id);
        let orders: Vec<&str> = request.orders.iter().map(|o| o.as_str()).collect();
        let mut item = Item::new(ItemKey::new(
            keys::merchant_partition(merchant),
            &request_sk,
        ))
        .with("kind", Value::S(request.kind.as_str().into()))
        .with("channel", Value::S(delivery.channel.into()))
        .with("source", Value::S(delivery.source.clone()))
        .with(
            "orders",
            Value::S(serde_json::to_string(&orders).map_err(|_| RepoError::Corrupt("orders"))?),
        )
        .with("status", Value::S("pending".into()))
        .with("received_at", Value::N(now));
        if let Some(customer) = request.customer_id {
            item.set("customer_id", Value::S(customer.to_string()));
        }
        if let Some(id) = request.data_request_id {
            item.set("data_request_id", Value::S(id.to_string()));
        }
        let pending = Item::new(ItemKey::new(
            PENDING,
            format!("{now:012}#{merchant}#{request_sk}"),
        ))
        .with("merchant", Value::S(merchant.to_string()))
        .with("request_sk", Value::S(request_sk))
        .with("kind", Value::S(request.kind.as_str().into()))
        .with("received_at", Value::N(now));
        match self
            .data
            .transact(vec![TxOp::Create(item), TxOp::Create(pending)])
            .await
        {
            Ok(()) => Ok(StoreOutcome::Stored),
            Err(StoreError::TransactionCancelled { .. }) => Ok(StoreOutcome::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// Requests not yet fulfilled, oldest first.
    pub async fn pending(
        &self,
        limit: usize,
        after: Option<PageToken>,
    ) -> Result<Page<PendingPrivacyRequest>, RepoError> {
        let page = self.data.query_partition(PENDING, "", limit, after).await?;
        let items = page
            .items
            .iter()
            .map(|item| {
                let merchant = item
                    .string("merchant")
                    .and_then(|m| MerchantId::parse(m).ok())
                    .ok_or(RepoError::Corrupt("privacy request merchant"))?;
                let request_sk = item
                    .string("request_sk")
                    .ok_or(RepoError::Corrupt("privacy request key"))?;
                Ok(PendingPrivacyRequest {
                    pending: item.key.clone(),
                    request: ItemKey::new(keys::merchant_partition(&merchant), request_sk),
                    merchant,
                    kind: item.string("kind").unwrap_or_default().to_owned(),
                    received_at: item.number("received_at").unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(Page {
            items,
            next: page.next,
        })
    }

    /// The channel order ids a pending request names; `None` if the request itself is gone (its
    /// merchant's account was cancelled).
    pub async fn orders_of(
        &self,
        request: &PendingPrivacyRequest,
    ) -> Result<Option<Vec<String>>, RepoError> {
        let Some(item) = self.data.get(&request.request).await? else {
            return Ok(None);
        };
        Ok(Some(from_orders(&item)?))
    }

    /// The channel customer id a pending request names (dropped once it is fulfilled).
    pub async fn customer_of(
        &self,
        request: &PendingPrivacyRequest,
    ) -> Result<Option<String>, RepoError> {
        Ok(self
            .data
            .get(&request.request)
            .await?
            .and_then(|item| item.string("customer_id").map(str::to_owned)))
    }

    /// Marks a request fulfilled with its outcome (no PII inside) and takes it off the pending
    /// list, in one transaction; the customer id it named is dropped. Idempotent.
    pub async fn complete(
        &self,
        request: &PendingPrivacyRequest,
        outcome: &serde_json::Value,
    ) -> Result<(), RepoError> {
        let mut ops = vec![TxOp::Delete {
            key: request.pending.clone(),
            expected_version: None,
        }];
        if let Some(item) = self.data.get(&request.request).await?
            && item.string("status") != Some("fulfilled")
        {
            let version = item.version;
            let mut done = item;
            done.attrs.remove("customer_id");
            done.set("status", Value::S("fulfilled".into()));
            done.set("fulfilled_at", Value::N(self.clock.now().unix_timestamp()));
            done.set(
                "outcome",
                Value::S(
                    serde_json::to_string(outcome).map_err(|_| RepoError::Corrupt("outcome"))?,
                ),
            );
            ops.push(TxOp::Replace {
                item: done,
                expected_version: version,
            });
        }
        match self.data.transact(ops).await {
            Ok(()) | Err(StoreError::TransactionCancelled { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The merchant's requests, newest last, `limit` at a time after the request `after` (a
    /// request id); with the id to continue after when more remain.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<PrivacyRequestView>, Option<String>), RepoError> {
        let after = after.map(|id| PageToken(format!("PRIVACYREQ#shopify#{id}")));
        let page = self
            .data
            .query_partition(
                &keys::merchant_partition(merchant),
                "PRIVACYREQ#",
                limit,
                after,
            )
            .await?;
        let items = page
            .items
            .iter()
            .map(view_of)
            .collect::<Result<Vec<_>, _>>()?;
        let next = items
            .last()
            .filter(|_| page.next.is_some())
            .map(|r| r.id.clone());
        Ok((items, next))
    }

    /// One of the merchant's requests, by its id.
    pub async fn get(
        &self,
        merchant: &MerchantId,
        channel: &str,
        id: &str,
    ) -> Result<Option<PrivacyRequestView>, RepoError> {
        let key = ItemKey::new(
            keys::merchant_partition(merchant),
            format!("PRIVACYREQ#{channel}#{id}"),
        );
        self.data.get(&key).await?.as_ref().map(view_of).transpose()
    }
}

fn from_orders(item: &Item) -> Result<Vec<String>, RepoError> {
    item.string("orders")
        .and_then(|o| serde_json::from_str(o).ok())
        .ok_or(RepoError::Corrupt("privacy request orders"))
}

fn view_of(item: &Item) -> Result<PrivacyRequestView, RepoError> {
    let id = item
        .key
        .sk
        .splitn(3, '#')
        .nth(2)
        .ok_or(RepoError::Corrupt("privacy request key"))?;
    Ok(PrivacyRequestView {
        id: id.to_owned(),
        kind: item.string("kind").unwrap_or_default().to_owned(),
        status: item.string("status").unwrap_or_default().to_owned(),
        received_at: item.number("received_at").unwrap_or_default(),
        fulfilled_at: item.number("fulfilled_at"),
        orders: from_orders(item)?,
        outcome: item
            .string("outcome")
            .and_then(|o| serde_json::from_str(o).ok()),
    })
}
