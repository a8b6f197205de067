//! The local host's configuration: environment variables, each with an embedded default so the
//! run command needs no set-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Not `Debug`-derived: it holds the demo webhook secret and API key. Its `Debug` masks them.
#[derive(Clone)]
pub struct LocalConfig {
    /// `RC_DATA_DIR` (default `.rc-data`): the database file and root key file.
    pub data_dir: PathBuf,
    /// `RC_LISTEN` (default `127.0.0.1:8080`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// `RC_DEMO_MERCHANT` (default `demo-merchant`).
    pub demo_merchant: String,
    /// `RC_DEMO_SHOP` (default `demo-shop.myshopify.com`).
    pub demo_shop: String,
    /// `RC_DEMO_WEBHOOK_SECRET` (default `local-demo-webhook-secret`).
    pub demo_webhook_secret: String,
    /// `RC_DEMO_API_KEY` (default `rck_local_demo_key`): the demo merchant's API key.
    pub demo_api_key: String,
    /// `RC_DEMO_PASSWORD` (default `local-demo-password`): the demo dashboard users' password.
    pub demo_password: String,
    /// `RC_SANDBOX_INTERVAL_SECS` (default 20; 0 turns the sandbox's own ticking off): how often
    /// the sandbox marketplace places an order on each channel.
    pub sandbox_interval: Option<Duration>,
    /// `RC_RECONCILE_INTERVAL_SECS` (default 60; 0 turns it off): how often reconciliation runs
    /// against the sandbox marketplace.
    pub reconcile_interval: Option<Duration>,
    /// `RC_PRIVACY_INTERVAL_SECS` (default 3600, as deployed; 0 turns it off): how often the
    /// privacy run (purge, privacy requests, cancellations) runs. It also runs once at start.
    pub privacy_interval: Option<Duration>,
    /// `RC_INVENTORY_SYNC_INTERVAL_SECS` (default 60; 0 turns it off): how often every listing is
    /// reconciled with the sandbox channels (orders push at once; this catches the rest).
    pub inventory_interval: Option<Duration>,
    /// `RC_ORDER_PROCESSING_INTERVAL_MS` (default 200; 0 turns it off): how often the order
    /// processor takes the order events published since it last looked (SQS's role in AWS).
    pub order_processing_interval: Option<Duration>,
    /// `RC_BODY_TIMEOUT_SECS` (default 30): how long a request may take to send its headers and
    /// body; a slower one is answered `408` and its connection closed.
    pub body_timeout: Duration,
    /// `RC_COURIER_STAGE_SECS` (default 20; 0 keeps parcels where they are): how long the
    /// sandbox courier takes per stage of a parcel's journey (pickup, out for delivery,
    /// delivered), each posted to the tracking webhook.
    pub courier_stage: Option<Duration>,
    /// `RC_TRACKING_POLL_INTERVAL_SECS` (default 900, as deployed; 0 turns it off): how often
    /// the polling fallback looks for silent shipments and due confirmation retries.
    pub tracking_poll_interval: Option<Duration>,
}

/// A secret as it may be shown: its first four characters, then an ellipsis.
pub fn mask(secret: &str) -> String {
    let shown: String = secret.chars().take(4).collect();
    format!("{shown}…")
}

impl std::fmt::Debug for LocalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("demo_merchant", &self.demo_merchant)
            .field("demo_shop", &self.demo_shop)
            .field("demo_webhook_secret", &mask(&self.demo_webhook_secret))
            .field("demo_api_key", &mask(&self.demo_api_key))
            .field("demo_password", &mask(&self.demo_password))
            .field("sandbox_interval", &self.sandbox_interval)
            .field("reconcile_interval", &self.reconcile_interval)
            .field("privacy_interval", &self.privacy_interval)
            .field("inventory_interval", &self.inventory_interval)
            .field("order_processing_interval", &self.order_processing_interval)
            .field("body_timeout", &self.body_timeout)
            .field("courier_stage", &self.courier_stage)
            .field("tracking_poll_interval", &self.tracking_poll_interval)
            .finish()
    }
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A period in whole seconds; 0 means off.
fn interval(name: &str, default: &str) -> Result<Option<Duration>, String> {
    match var(name, default).parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(seconds) => Ok(Some(Duration::from_secs(seconds))),
        Err(_) => Err(format!("{name} must be a whole number of seconds")),
    }
}

impl LocalConfig {
    pub fn from_env() -> Result<Self, String> {
        let listen = var("RC_LISTEN", "127.0.0.1:8080");
        Ok(Self {
            data_dir: PathBuf::from(var("RC_DATA_DIR", ".rc-data")),
            listen: listen
                .parse()
                .map_err(|_| format!("RC_LISTEN={listen} is not an address like 127.0.0.1:8080"))?,
            demo_merchant: var("RC_DEMO_MERCHANT", "demo-merchant"),
            demo_shop: var("RC_DEMO_SHOP", "demo-shop.myshopify.com"),
            demo_webhook_secret: var("RC_DEMO_WEBHOOK_SECRET", "local-demo-webhook-secret"),
            demo_api_key: var("RC_DEMO_API_KEY", "rck_local_demo_key"),
            demo_password: var("RC_DEMO_PASSWORD", "local-demo-password"),
            sandbox_interval: interval("RC_SANDBOX_INTERVAL_SECS", "20")?,
            reconcile_interval: interval("RC_RECONCILE_INTERVAL_SECS", "60")?,
            privacy_interval: interval("RC_PRIVACY_INTERVAL_SECS", "3600")?,
            inventory_interval: interval("RC_INVENTORY_SYNC_INTERVAL_SECS", "60")?,
            order_processing_interval: match var("RC_ORDER_PROCESSING_INTERVAL_MS", "200")
                .parse::<u64>()
            {
                Ok(0) => None,
                Ok(ms) => Some(Duration::from_millis(ms)),
                Err(_) => {
                    return Err("RC_ORDER_PROCESSING_INTERVAL_MS must be a whole number".into());
                }
            },
            body_timeout: interval("RC_BODY_TIMEOUT_SECS", "30")?
                .ok_or("RC_BODY_TIMEOUT_SECS must be at least 1")?,
            courier_stage: interval("RC_COURIER_STAGE_SECS", "20")?,
            tracking_poll_interval: interval("RC_TRACKING_POLL_INTERVAL_SECS", "900")?,
        })
    }
}
