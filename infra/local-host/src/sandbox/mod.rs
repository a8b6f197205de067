//! The sandbox marketplace: what Shopify and Amazon would do, on localhost. Every tick it places a
//! Shopify order (a signed `orders/create` webhook to the host, sometimes delivered twice, as
//! Shopify does) and an Amazon order (served by a local Orders API and announced by an
//! ORDER_CHANGE notification on the local queue, sometimes twice). Every fifth round the
//! notification and the webhook are "lost", as happens in real life: the local host's scheduled
//! reconciliation finds those orders through the sandbox's searchOrders and orders.json. The real
//! handlers process everything; nothing here bypasses them.

mod amazon_api;
mod consent;
mod courier;
mod inventory;
mod orders;
mod queue;
mod shopify_admin;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rc_domain::{LwaCredentials, MarketplaceId, MerchantId, Region, Secret, SecretText, SellerId};
use rc_jobs::QueueMessage;
use rc_runtime::{ChannelClients, Services};

pub use amazon_api::AmazonSandboxApi;
pub use consent::{
    SANDBOX_APPLICATION_ID, SANDBOX_QUEUE_ARN, SANDBOX_SHOPIFY_CLIENT_ID, SandboxConsent, apps,
};
pub use courier::{
    COURIER_PATH, SANDBOX_COURIER_KEY, SANDBOX_COURIER_WEBHOOK_SECRET, SandboxCourier, label_pdf,
};
pub use inventory::{FEED_DOCUMENTS, SandboxInventory};
pub use orders::{CATALOG, shopify_order};
pub use queue::LocalQueue;
pub use shopify_admin::{SANDBOX_ACCESS_TOKEN, ShopifySandboxAdmin};

use crate::LocalConfig;

/// The sandbox selling partner the demo merchant is connected to.
pub const SANDBOX_SELLER: &str = "ASANDBOXSELLER1";
pub const SANDBOX_MARKETPLACE: &str = "ATVPDKIKX0DER";

/// One of the sandbox's Amazon ids (constants, valid by construction).
fn sandbox_id<T: TryFrom<String>>(raw: &str) -> Result<T, rc_orders::RepoError> {
    T::try_from(raw.to_owned()).map_err(|_| rc_orders::RepoError::Corrupt("sandbox amazon id"))
}
const SANDBOX_CLIENT_ID: &str = "amzn1.application-oa2-client.sandbox";
const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";
const SANDBOX_REFRESH_TOKEN: &str = "Atzr|sandbox-refresh-token";

pub struct Sandbox {
    base: String,
    shop: String,
    webhook_secret: String,
    amazon: Arc<AmazonSandboxApi>,
    shopify_admin: Arc<ShopifySandboxAdmin>,
    queue: LocalQueue,
    ticks: AtomicU64,
}

fn secret(s: &str) -> Result<Secret<SecretText>, rc_orders::RepoError> {
    SecretText::parse(s)
        .map(Secret::new)
        .map_err(|_| rc_orders::RepoError::Corrupt("sandbox secret"))
}

impl Sandbox {
    /// Connects the demo merchant to the sandbox seller and starts the local notification queue.
    pub async fn start(
        services: &Services,
        config: &LocalConfig,
        base: String,
        amazon: Arc<AmazonSandboxApi>,
        shopify_admin: Arc<ShopifySandboxAdmin>,
        channels: &ChannelClients,
    ) -> Result<Arc<Self>, rc_orders::RepoError> {
        let merchant = MerchantId::parse(&config.demo_merchant)
            .map_err(|_| rc_orders::RepoError::Corrupt("demo merchant id"))?;
        let connected = services
            .connections
            .put_amazon(
                &merchant,
                &sandbox_id::<SellerId>(SANDBOX_SELLER)?,
                &[sandbox_id::<MarketplaceId>(SANDBOX_MARKETPLACE)?],
                &LwaCredentials {
                    client_id: SANDBOX_CLIENT_ID.into(),
                    client_secret: secret(SANDBOX_CLIENT_SECRET)?,
                    refresh_token: secret(SANDBOX_REFRESH_TOKEN)?,
                    region: Region::NorthAmerica,
                },
            )
            .await;
        match connected {
            // The demo merchant was cancelled: its orders are refused (unknown seller/shop).
            Err(rc_orders::RepoError::Vault(rc_vault::VaultError::MerchantClosed)) => {}
            other => other?,
        }
        let consumer = services.amazon_notifications(channels);
        Ok(Arc::new(Self {
            base,
            shop: config.demo_shop.clone(),
            webhook_secret: config.demo_webhook_secret.clone(),
            amazon,
            shopify_admin,
            queue: LocalQueue::start(consumer),
            // Order numbers continue across restarts of the local host (same data directory):
            // they start from the clock, ten per second of wall time.
            ticks: AtomicU64::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() * 10),
            ),
        }))
    }

    /// Places one order on each marketplace; every third tick delivers each twice.
    pub async fn tick(&self) -> Result<(), String> {
        let n = self.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        let duplicate = n.is_multiple_of(3);
        let lost = n.is_multiple_of(5);

        let (amazon_id, notification) = self.amazon.place_order(n);
        let message = |id: u64| QueueMessage {
            id: format!("sandbox-msg-{n}-{id}"),
            body: notification.clone(),
        };
        if !lost {
            self.queue.send(message(1));
        }
        if duplicate && !lost {
            self.queue.send(message(2));
        }

        let shopify_id = 9_000_000_000 + n;
        let body = orders::shopify_order(shopify_id, n);
        self.shopify_admin.record(&body);
        let url = format!("{}/webhooks/shopify", self.base);
        let webhook_id = format!("sandbox-{shopify_id}");
        let deliveries = match (lost, duplicate) {
            (true, _) => 0,
            (false, true) => 2,
            (false, false) => 1,
        };
        for _ in 0..deliveries {
            let (status, answer) = crate::send_signed(
                &url,
                &self.shop,
                &self.webhook_secret,
                "orders/create",
                &webhook_id,
                body.clone(),
            )
            .await?;
            tracing::info!(status, answer = %answer, "sandbox shopify delivery");
        }
        tracing::info!(amazon_order = %amazon_id, shopify_order = shopify_id, duplicate, lost, "sandbox placed orders");
        Ok(())
    }

    /// Waits until the notification queue is empty (for tests and orderly shutdown).
    pub async fn drain(&self) {
        self.queue.drain().await;
    }

    /// Ticks forever at `interval`.
    pub fn run(self: Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(interval);
            timer.tick().await;
            loop {
                timer.tick().await;
                if let Err(problem) = self.tick().await {
                    tracing::warn!(%problem, "sandbox tick failed");
                }
            }
        })
    }
}
