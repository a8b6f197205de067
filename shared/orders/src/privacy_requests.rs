//! Privacy requests received from channels (Shopify's compliance webhooks), recorded durably for
//! the privacy lifecycle to fulfil. No PII inside: ids only.

use std::sync::Arc;

use rc_channels::shopify::ComplianceRequest;
use rc_domain::{Clock, MerchantId};
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
}
