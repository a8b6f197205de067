//! Reconciliation: a scheduled job that asks each marketplace for the orders changed since the
//! connection's watermark and feeds them through the same idempotent path as notifications and
//! webhooks, so nothing a notification missed is lost; then it publishes any order events an
//! interrupted request left in the outbox, so no downstream message is lost either. Safe to run twice or concurrently: every
//! write is an idempotent upsert, and the watermark only moves from the version that was read.

use std::sync::Arc;

use rc_channels::port::{
    AmazonOrdersSource, OrdersError, OrdersPage, SellerAccount, ShopAccount, ShopifyOrdersSource,
};
use rc_channels::shopify::PayloadError;
use rc_domain::{Clock, Order, SellerId, ShopDomain};
use rc_orders::{
    ConnectionRef, ConnectionRepository, OrderRepository, Outbox, RepoError, StoreOutcome,
};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// How far back the first run of a new connection looks.
const FIRST_LOOKBACK: Duration = Duration::days(1);
/// Each run re-reads this much before the watermark: marketplaces index changes with a delay.
const OVERLAP: Duration = Duration::minutes(10);
/// A bound on the pages one connection may take in one run; the next run continues.
const MAX_PAGES: usize = 50;

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ReconcileReport {
    pub connections: usize,
    pub failed_connections: usize,
    pub orders_seen: usize,
    pub stored: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed_orders: usize,
    /// Order events left in the outbox by interrupted requests, published by this run.
    pub relayed_events: usize,
    /// Notification subscriptions of removed Amazon connections deleted at Amazon by this run.
    pub unsubscribed: usize,
}

#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error("the connection disappeared")]
    Gone,
}

/// Outbox entries younger than this are still being delivered by the request that wrote them.
const OUTBOX_GRACE: Duration = Duration::minutes(1);

pub struct Reconciler {
    outbox: Arc<Outbox>,
    orders: Arc<OrderRepository>,
    connections: Arc<ConnectionRepository>,
    amazon: Arc<dyn AmazonOrdersSource>,
    shopify: Arc<dyn ShopifyOrdersSource>,
    clock: Arc<dyn Clock>,
    /// Where subscriptions of removed connections are deleted (when an Amazon app is set).
    subscriptions: Option<Arc<dyn rc_channels::port::AmazonSubscriptions>>,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

impl Reconciler {
    pub fn new(
        orders: Arc<OrderRepository>,
        outbox: Arc<Outbox>,
        connections: Arc<ConnectionRepository>,
        amazon: Arc<dyn AmazonOrdersSource>,
        shopify: Arc<dyn ShopifyOrdersSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            outbox,
            orders,
            connections,
            amazon,
            shopify,
            clock,
            subscriptions: None,
        }
    }

    /// The same, also deleting the notification subscriptions removed connections left.
    pub fn with_subscriptions(
        mut self,
        subscriptions: Arc<dyn rc_channels::port::AmazonSubscriptions>,
    ) -> Self {
        self.subscriptions = Some(subscriptions);
        self
    }

    /// Reconciles every connection; one connection's failure never stops the others.
    pub async fn run(&self) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        let mut after = None;
        loop {
            let page = match self.connections.all(100, after).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "cannot list connections");
                    report.failed_connections += 1;
                    return report;
                }
            };
            for connection in &page.items {
                report.connections += 1;
                if let Err(error) = self.reconcile(connection, &mut report).await {
                    report.failed_connections += 1;
                    tracing::warn!(
                        merchant = %connection.merchant,
                        channel = %connection.channel,
                        %error,
                        "reconciliation of a connection failed; its watermark stays"
                    );
                }
            }
            match page.next {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        match self.outbox.relay(OUTBOX_GRACE).await {
            Ok(relayed) => report.relayed_events = relayed,
            Err(error) => tracing::warn!(%error, "outbox relay failed; the next run retries"),
        }
        if let Some(subscriptions) = &self.subscriptions {
            report.unsubscribed =
                drain_unsubscribes(&self.connections, subscriptions.as_ref()).await;
        }
        tracing::info!(report = ?report, "reconciliation finished");
        report
    }

    async fn reconcile(
        &self,
        connection: &ConnectionRef,
        report: &mut ReconcileReport,
    ) -> Result<(), ReconcileError> {
        let started = self.clock.now();
        let watermark = self.connections.watermark(connection).await?;
        let since = match watermark {
            Some((at, _)) => {
                OffsetDateTime::from_unix_timestamp(at)
                    .map_err(|_| RepoError::Corrupt("watermark"))?
                    - OVERLAP
            }
            None => started - FIRST_LOOKBACK,
        };
        match connection.channel.as_str() {
            "amazon" => self.amazon(connection, &rfc3339(since), report).await?,
            "shopify" => self.shopify(connection, &rfc3339(since), report).await?,
            _ => return Err(RepoError::Corrupt("unknown channel").into()),
        }
        let moved = self
            .connections
            .set_watermark(
                connection,
                started.unix_timestamp(),
                watermark.map(|(_, version)| version),
            )
            .await;
        match moved {
            // A concurrent run moved it first; its view is as good as ours.
            Err(RepoError::Store(
                rc_store::StoreError::StaleVersion { .. } | rc_store::StoreError::AlreadyExists,
            )) => Ok(()),
            other => Ok(other?),
        }
    }

    async fn store(
        &self,
        order: Result<Order, PayloadError>,
        report: &mut ReconcileReport,
    ) -> Result<(), ReconcileError> {
        report.orders_seen += 1;
        match order {
            Ok(order) => match self.orders.upsert(&order, None).await? {
                StoreOutcome::Stored => report.stored += 1,
                StoreOutcome::Updated => report.updated += 1,
                StoreOutcome::Stale | StoreOutcome::Duplicate => report.unchanged += 1,
            },
            Err(error) => {
                // A poison order cannot be stored by any retry; it is counted and logged by
                // reason, and the run goes on.
                report.failed_orders += 1;
                tracing::warn!(reason = error.reason(), %error, "an order from reconciliation was refused");
            }
        }
        Ok(())
    }

    /// Stores a page's orders; the next page's cursor.
    async fn store_page(
        &self,
        page: OrdersPage,
        report: &mut ReconcileReport,
    ) -> Result<Option<String>, ReconcileError> {
        for order in page.orders {
            self.store(order, report).await?;
        }
        Ok(page.next)
    }

    async fn amazon(
        &self,
        connection: &ConnectionRef,
        since: &str,
        report: &mut ReconcileReport,
    ) -> Result<(), ReconcileError> {
        let seller =
            SellerId::parse(&connection.reference).map_err(|_| RepoError::Corrupt("seller id"))?;
        let amazon = self
            .connections
            .amazon(&seller)
            .await?
            .ok_or(ReconcileError::Gone)?;
        let account = SellerAccount {
            seller: &seller,
            credentials: &amazon.credentials,
        };
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .amazon
                .orders_changed_since(
                    &amazon.merchant,
                    account,
                    &amazon.marketplace_ids,
                    since,
                    cursor.as_deref(),
                )
                .await?;
            cursor = self.store_page(page, report).await?;
            if cursor.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn shopify(
        &self,
        connection: &ConnectionRef,
        since: &str,
        report: &mut ReconcileReport,
    ) -> Result<(), ReconcileError> {
        let shop = ShopDomain::parse(&connection.reference)
            .map_err(|_| RepoError::Corrupt("shop domain"))?;
        let shopify = self
            .connections
            .shopify(&shop)
            .await?
            .ok_or(ReconcileError::Gone)?;
        let Some(access_token) = shopify.access_token.as_ref() else {
            tracing::info!(merchant = %shopify.merchant, "shop has no access token; webhooks only");
            return Ok(());
        };
        let account = ShopAccount {
            shop: &shop,
            access_token,
        };
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .shopify
                .orders_changed_since(&shopify.merchant, account, since, cursor.as_deref())
                .await?;
            cursor = self.store_page(page, report).await?;
            if cursor.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Deletes at Amazon the notification subscriptions of removed connections (persisted when
/// each was removed), forgetting each once Amazon confirms it gone. Returns how many; failures
/// stay for the next run. Safe to run concurrently: deleting twice is no error at Amazon.
pub async fn drain_unsubscribes(
    connections: &ConnectionRepository,
    subscriptions: &dyn rc_channels::port::AmazonSubscriptions,
) -> usize {
    let Some(app) = connections.apps().amazon else {
        return 0;
    };
    let pending = match connections.pending_unsubscribes(100).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(%error, "cannot list subscriptions to delete");
            return 0;
        }
    };
    let mut done = 0;
    for item in &pending {
        let deleted = subscriptions
            .delete_order_change_subscription(&app, item.region, &item.subscription_id)
            .await;
        match deleted {
            Ok(()) => match connections.unsubscribed(item).await {
                Ok(()) => done += 1,
                Err(error) => tracing::warn!(%error, "cannot forget a deleted subscription"),
            },
            Err(error) => {
                tracing::warn!(%error, "deleting a notification subscription failed; retried later");
            }
        }
    }
    done
}
