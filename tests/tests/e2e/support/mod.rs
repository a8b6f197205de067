//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

pub mod easypost;
pub mod openapi;
pub mod privacy_stack;
pub mod shiprocket;
pub mod shopify_admin;
pub mod sp_api;
pub mod sp_notifications;
pub mod webdriver;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use rc_local_host::{LocalConfig, LocalHost};

/// Canary PII: unique strings that must never appear in logs, responses or files in plaintext.
pub const CANARY_NAME_FIRST: &str = "Qanary";
pub const CANARY_NAME_LAST: &str = "Zyxwvut";
pub const CANARY_EMAIL: &str = "qanary.zyxwvut.7781@canary.example";
pub const CANARY_PHONE: &str = "+1 555 0107 7781";
pub const CANARY_STREET: &str = "7781 Kanarienweg";
pub const CANARY_CITY: &str = "Zyxwvutville";
// Letters as well as digits: a bare number could turn up in a log by chance (ids, timings).
pub const CANARY_ZIP: &str = "ZQ7781X";

/// The canary buyer's shipping address (Kentucky, US), as an order holds it.
pub fn canary_address() -> rc_domain::PostalAddress {
    rc_domain::PostalAddress::parse(
        Some(&format!("{CANARY_NAME_FIRST} {CANARY_NAME_LAST}")),
        None,
        CANARY_STREET,
        None,
        CANARY_CITY,
        Some("KY"),
        Some(CANARY_ZIP),
        "US",
    )
    .expect("address")
}

/// A typed identifier (seller, marketplace, shop) from a constant of the test.
/// Both channels' stand-ins, for what talks to both (inventory pushes): one per API.
pub struct Channels {
    pub shopify: shopify_admin::StandIn,
    pub amazon: sp_api::StandIn,
}

impl Channels {
    pub async fn start() -> Self {
        Self {
            shopify: shopify_admin::start().await,
            amazon: sp_api::start().await,
        }
    }

    /// Every request either stand-in found against its API's documentation.
    pub fn violations(&self) -> Vec<String> {
        let mut all = self.shopify.state().violations.clone();
        all.extend(self.amazon.state().violations.iter().cloned());
        all
    }
}

pub fn id<T: TryFrom<String>>(raw: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from(raw.to_owned()).expect("a valid identifier")
}

pub fn canaries() -> [&'static str; 7] {
    [
        CANARY_NAME_FIRST,
        CANARY_NAME_LAST,
        CANARY_EMAIL,
        CANARY_PHONE,
        CANARY_STREET,
        CANARY_CITY,
        CANARY_ZIP,
    ]
}

/// One test at a time talks to moto: the end-to-end tests share one process (one test binary),
/// and the serial moto server times out connections when several heavy tests hit it together.
/// Tests on the embedded store run alongside. Hold the guard for the whole test.
pub async fn moto_turn() -> tokio::sync::OwnedMutexGuard<()> {
    static TURN: OnceLock<Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    Arc::clone(TURN.get_or_init(|| Arc::new(tokio::sync::Mutex::new(()))))
        .lock_owned()
        .await
}

/// Every log line of the test process, at TRACE level, from every crate.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per test binary) a TRACE subscriber for all targets that captures output.
pub fn capture_all_logs() -> CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

/// A local host on a free port over a fresh data directory. Order processing (reservations) is
/// off, so tests of ingestion see exactly what ingestion wrote.
pub async fn start_local_host() -> (LocalHost, LocalConfig, tempfile::TempDir) {
    start_local_host_with(|_| {}).await
}

/// As [`start_local_host`], with the configuration adjusted first.
pub async fn start_local_host_with(
    adjust: impl FnOnce(&mut LocalConfig),
) -> (LocalHost, LocalConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LocalConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("address"),
        demo_merchant: "demo-merchant".into(),
        demo_shop: "demo-shop.myshopify.com".into(),
        demo_webhook_secret: "e2e-webhook-secret".into(),
        demo_api_key: "rck_e2e_api_key".into(),
        demo_password: "e2e-demo-password".into(),
        sandbox_interval: None,
        reconcile_interval: None,
        privacy_interval: None,
        inventory_interval: None,
        order_processing_interval: None,
        body_timeout: std::time::Duration::from_secs(30),
        courier_stage: None,
        tracking_poll_interval: None,
    };
    adjust(&mut config);
    let host = LocalHost::start(&config).await.expect("local host starts");
    (host, config, dir)
}

/// The documented sample order with the canary buyer in every PII field.
pub fn canary_order(order_id: u64) -> Vec<u8> {
    let mut order: serde_json::Value =
        serde_json::from_str(rc_local_host::DEMO_ORDER).expect("fixture");
    let address = serde_json::json!({
        "first_name": CANARY_NAME_FIRST, "last_name": CANARY_NAME_LAST,
        "name": format!("{CANARY_NAME_FIRST} {CANARY_NAME_LAST}"),
        "address1": CANARY_STREET, "address2": null, "phone": CANARY_PHONE,
        "city": CANARY_CITY, "zip": CANARY_ZIP, "province": "Kentucky", "province_code": "KY",
        "country": "United States", "country_code": "US", "company": null
    });
    order["id"] = serde_json::json!(order_id);
    order["email"] = serde_json::json!(CANARY_EMAIL);
    order["contact_email"] = serde_json::json!(CANARY_EMAIL);
    order["phone"] = serde_json::json!(CANARY_PHONE);
    order["customer"]["first_name"] = serde_json::json!(CANARY_NAME_FIRST);
    order["customer"]["last_name"] = serde_json::json!(CANARY_NAME_LAST);
    order["customer"]["email"] = serde_json::json!(CANARY_EMAIL);
    order["shipping_address"] = address.clone();
    order["billing_address"] = address;
    serde_json::to_vec(&order).expect("encode")
}

/// Posts a webhook signed as Shopify would.
pub async fn post_webhook(
    base: &str,
    config: &LocalConfig,
    topic: &str,
    webhook_id: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let url = format!("{base}/webhooks/shopify");
    let request = rc_local_host::signed_shopify_request(
        &url,
        &config.demo_shop,
        &config.demo_webhook_secret,
        topic,
        webhook_id,
        body,
    )
    .expect("request");
    send(request).await
}

pub async fn send(request: http::Request<bytes::Bytes>) -> (u16, serde_json::Value) {
    let (parts, body) = request.into_parts();
    let mut builder = reqwest::Client::new()
        .request(parts.method.clone(), parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.expect("request sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    // Merchant API answers are checked against its OpenAPI document.
    if parts.uri.path().starts_with("/v1/") {
        openapi::check(
            parts.method.as_str(),
            parts.uri.path(),
            status,
            content_type.as_deref(),
            text.as_bytes(),
        );
    }
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}

pub async fn get_order(base: &str, api_key: &str, order_id: &str) -> (u16, serde_json::Value) {
    let request = http::Request::get(format!("{base}/v1/orders/{order_id}"))
        .header("authorization", format!("Bearer {api_key}"))
        .body(bytes::Bytes::new())
        .expect("request");
    send(request).await
}

/// Whether `needle` occurs anywhere in `haystack` as plain bytes.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Every file under `dir`, recursively (the data directory holds subdirectories: exports,
/// labels), with its bytes.
pub fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.push((path, bytes));
            }
        }
    }
    out
}
