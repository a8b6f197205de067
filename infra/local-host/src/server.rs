use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rc_api::{ApiError, MAX_WEBHOOK_BODY, MerchantApi, ShopifyWebhook, json};
use rc_channels::shopify::ShopDomain;
use rc_domain::{MerchantId, Secret, SecretText, SystemClock};
use rc_orders::{ApiKey, ShopifyCredentials};
use rc_runtime::Services;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::LocalConfig;
use crate::sandbox::{
    AmazonSandboxApi, CATALOG, SANDBOX_ACCESS_TOKEN, SANDBOX_MARKETPLACE, SANDBOX_SELLER, Sandbox,
    SandboxInventory, ShopifySandboxAdmin,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Services(#[from] rc_runtime::ServicesError),
    #[error("seeding the demo merchant: {0}")]
    Seed(#[from] rc_orders::RepoError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The handlers, each mounted where API Gateway mounts its function.
struct Routes {
    /// This host's base URL (the sandbox's presigned feed document URLs point here).
    base: String,
    /// How long a request may take to arrive whole.
    body_timeout: std::time::Duration,
    shopify: ShopifyWebhook,
    merchant: Arc<MerchantApi>,
    /// The merchant dashboard (`/app`), acting through `merchant`.
    dashboard: rc_dashboard::Dashboard,
    courier_webhook: rc_api::CourierWebhook,
    amazon_sandbox: Arc<AmazonSandboxApi>,
    shopify_sandbox: Arc<ShopifySandboxAdmin>,
    inventory_sandbox: Arc<SandboxInventory>,
    courier_sandbox: Arc<crate::sandbox::SandboxCourier>,
    /// The consent pages and code exchanges of the connect flows.
    consent: Arc<crate::sandbox::SandboxConsent>,
    /// Export files, and the links to them this host signs and serves.
    export_files: Arc<rc_exports::LocalExportFiles>,
}

/// A running local host.
pub struct LocalHost {
    pub addr: SocketAddr,
    pub services: Services,
    pub task: JoinHandle<()>,
    /// The sandbox marketplace (ticking on its own when configured; `tick()` places orders now).
    pub sandbox: Arc<Sandbox>,
    /// Reconciliation against the sandbox (scheduled when configured; `run()` reconciles now).
    pub reconciler: Arc<rc_jobs::Reconciler>,
    /// What the sandbox channels show, as pushed by the inventory sync.
    pub inventory_sandbox: Arc<SandboxInventory>,
}

impl LocalHost {
    /// Opens the embedded stores, seeds the demo merchant (idempotent) and starts serving.
    pub async fn start(config: &LocalConfig) -> Result<Self, StartError> {
        let services = Services::embedded(&config.data_dir, Arc::new(SystemClock))?;
        seed_demo(&services, config).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let amazon_sandbox = Arc::new(AmazonSandboxApi::default());
        let shopify_sandbox = Arc::new(ShopifySandboxAdmin::default());
        let inventory_sandbox = Arc::new(SandboxInventory::default());
        let base = format!("http://{addr}");
        // Export links point at this host, as it now knows its address.
        let export_files = Arc::new(
            rc_exports::LocalExportFiles::open(
                &config.data_dir.join("exports"),
                base.clone(),
                Arc::new(SystemClock),
            )
            .map_err(|e| StartError::Config(e.to_string()))?,
        );
        let services = services.with_export_files(export_files.clone());
        // The sandbox apps: the connect flows work offline as deployed.
        services.connections.set_apps(crate::sandbox::apps(&base));
        let sandbox_endpoints = rc_channels::amazon::Endpoints::all_at(
            format!("{base}/sandbox/amazon"),
            format!("{base}/sandbox/amazon"),
        );
        // One client per API for the whole host, as in a Lambda process.
        let channels = rc_runtime::ChannelClients::new(
            sandbox_endpoints,
            Some(format!("{base}/sandbox/shopify")),
        )
        .with_couriers(
            rc_couriers::EASYPOST_API.to_owned(),
            Some(format!("{base}{}/v2", crate::sandbox::COURIER_PATH)),
        )
        .with_seller_central(Some(format!("{base}/sandbox/sellercentral")));
        let sync = Arc::new(services.inventory_sync(&channels));
        let courier_sandbox = Arc::new(crate::sandbox::SandboxCourier::default());
        let merchant = Arc::new(services.merchant_api_with(Arc::clone(&sync), &channels));
        let routes = Arc::new(Routes {
            base: base.clone(),
            body_timeout: config.body_timeout,
            shopify: services.shopify_webhook(),
            dashboard: services.dashboard(Arc::clone(&merchant)),
            merchant,
            courier_webhook: services.courier_webhook(),
            amazon_sandbox: Arc::clone(&amazon_sandbox),
            shopify_sandbox: Arc::clone(&shopify_sandbox),
            inventory_sandbox: Arc::clone(&inventory_sandbox),
            courier_sandbox: Arc::clone(&courier_sandbox),
            consent: Arc::default(),
            export_files,
        });
        let task = tokio::spawn(serve(listener, routes));
        let sandbox = Sandbox::start(
            &services,
            config,
            base.clone(),
            amazon_sandbox,
            shopify_sandbox,
            &channels,
        )
        .await?;
        if let Some(interval) = config.sandbox_interval {
            Arc::clone(&sandbox).run(interval);
        }
        let reconciler = Arc::new(services.reconciler(&channels));
        seed_inventory(&services, config).await?;
        if let Some(interval) = config.order_processing_interval {
            spawn_order_processor(&services, Arc::clone(&sync), interval);
            spawn_label_generator(&services, &channels, interval);
            spawn_fulfillment_worker(&services, &channels, Arc::clone(&sync), interval);
        }
        if let Some(interval) = config.order_processing_interval {
            spawn_export_worker(&services, interval);
        }
        if let Some(stage) = config.courier_stage {
            spawn_sandbox_courier(&services, config, &base, courier_sandbox, stage).await?;
        }
        if let Some(interval) = config.tracking_poll_interval {
            let poller = services.tracking_poller(&channels);
            tokio::spawn(async move {
                let mut timer = tokio::time::interval(interval);
                timer.tick().await;
                loop {
                    timer.tick().await;
                    if let Err(error) = poller.run().await {
                        tracing::warn!(%error, "tracking poll failed; retried next time");
                    }
                }
            });
        }
        if let Some(interval) = config.inventory_interval {
            let sync = Arc::clone(&sync);
            tokio::spawn(async move {
                let mut timer = tokio::time::interval(interval);
                loop {
                    timer.tick().await;
                    match sync.sync_all().await {
                        Ok(report) => tracing::info!(
                            pushed = report.pushed,
                            failed = report.failed.len(),
                            "inventory sync"
                        ),
                        Err(error) => {
                            tracing::warn!(%error, "inventory sync failed; retried next time")
                        }
                    }
                }
            });
        }
        if let Some(interval) = config.reconcile_interval {
            let reconciler = Arc::clone(&reconciler);
            tokio::spawn(async move {
                let mut timer = tokio::time::interval(interval);
                timer.tick().await;
                loop {
                    timer.tick().await;
                    reconciler.run().await;
                }
            });
        }
        if let Some(interval) = config.privacy_interval {
            let run = services.privacy_run();
            tokio::spawn(async move {
                let mut timer = tokio::time::interval(interval);
                loop {
                    timer.tick().await;
                    match run
                        .run(rc_privacy::PurgeLimits::default(), false, &mut |_| {})
                        .await
                    {
                        Ok(report) => tracing::info!(
                            purged = report.purge.purged,
                            failed = report.purge.failed.len(),
                            requests = report.requests.fulfilled,
                            "privacy run"
                        ),
                        Err(error) => {
                            tracing::warn!(%error, "privacy run failed; retried next time")
                        }
                    }
                }
            });
        }
        Ok(Self {
            addr,
            services,
            task,
            sandbox,
            reconciler,
            inventory_sandbox,
        })
    }
}

async fn seed_demo(services: &Services, config: &LocalConfig) -> Result<(), StartError> {
    let merchant = MerchantId::parse(&config.demo_merchant)
        .map_err(|e| StartError::Config(format!("RC_DEMO_MERCHANT: {e}")))?;
    let shop = ShopDomain::parse(&config.demo_shop)
        .map_err(|e| StartError::Config(format!("RC_DEMO_SHOP: {e}")))?;
    let secret = SecretText::parse(&config.demo_webhook_secret)
        .map_err(|e| StartError::Config(format!("RC_DEMO_WEBHOOK_SECRET: {e}")))?;
    let api_key = SecretText::parse(&config.demo_api_key)
        .map_err(|e| StartError::Config(format!("RC_DEMO_API_KEY: {e}")))?;
    if services
        .cancellation
        .status(&merchant)
        .await
        .ok()
        .flatten()
        .is_some()
    {
        // A cancelled merchant never gets keys again: serve the rest, say why nothing is seeded.
        tracing::warn!(%merchant, "the demo merchant's account was cancelled; start with a fresh RC_DATA_DIR or another RC_DEMO_MERCHANT to get a demo shop");
        return Ok(());
    }
    services
        .connections
        .put_shopify(
            &merchant,
            &shop,
            &ShopifyCredentials {
                webhook_secret: Secret::new(secret),
                previous_webhook_secret: None,
                access_token: SecretText::parse(SANDBOX_ACCESS_TOKEN)
                    .ok()
                    .map(Secret::new),
            },
        )
        .await?;
    // The demo merchant's account, made as an operator's `rc-ops merchant create` makes one.
    let profile = rc_orders::RawProfile {
        company_name: "RetailCoder Demo Store".into(),
        default_currency: "USD".into(),
        time_zone: "America/Chicago".into(),
        contact: rc_orders::RawContact {
            name: "Demo Merchant".into(),
            email: "merchant@demo.retailcoder.example".into(),
        },
    }
    .parse()
    .map_err(|field| StartError::Config(format!("demo profile: {field}")))?;
    services.merchants.create(&merchant, &profile).await?;
    services
        .api_keys
        .register(&merchant, &ApiKey(Secret::new(api_key)))
        .await?;
    // The dashboard's demo users, one per role but the admin, all with the demo password.
    let users = services.dashboard_users();
    for (email, role) in DEMO_USERS {
        let password = rc_dashboard::Password::new_password(config.demo_password.clone())
            .map_err(|_| StartError::Config("RC_DEMO_PASSWORD: 12 to 128 characters".into()))?;
        match users.create(&merchant, email, role, &password, false).await {
            Ok(_) | Err(rc_dashboard::UserError::Exists) => {}
            Err(e) => return Err(StartError::Config(format!("seeding dashboard users: {e}"))),
        }
    }
    Ok(())
}

/// The demo dashboard users (`RC_DEMO_PASSWORD` signs each in).
pub const DEMO_USERS: [(&str, rc_dashboard::Role); 3] = [
    ("owner@demo.retailcoder.example", rc_dashboard::Role::Owner),
    (
        "operator@demo.retailcoder.example",
        rc_dashboard::Role::Operator,
    ),
    (
        "viewer@demo.retailcoder.example",
        rc_dashboard::Role::Viewer,
    ),
];

async fn serve(listener: TcpListener, routes: Arc<Routes>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let header_timeout = routes.body_timeout;
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let routes = Arc::clone(&routes);
                async move { Ok::<_, Infallible>(dispatch(&routes, request, peer).await) }
            });
            // Slow clients are cut off: headers within the body timeout (hyper's own timer),
            // the body within it too (see `collect`), so no connection is held forever.
            if let Err(error) = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

/// Reads the body, refusing more than the largest any handler accepts (never buffered unbounded).
/// A body announced larger than any handler accepts is refused before a byte of it is read; one
/// that does not arrive within `timeout` is answered 408.
async fn collect(
    request: Request<Incoming>,
    timeout: std::time::Duration,
) -> Result<Request<Bytes>, ApiError> {
    let (parts, body) = request.into_parts();
    let announced = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_WEBHOOK_BODY as u64) {
        return Err(ApiError::PayloadTooLarge(MAX_WEBHOOK_BODY));
    }
    let bytes = tokio::time::timeout(timeout, Limited::new(body, MAX_WEBHOOK_BODY).collect())
        .await
        .map_err(|_| ApiError::RequestTimeout)?
        .map_err(|_| ApiError::PayloadTooLarge(MAX_WEBHOOK_BODY))?
        .to_bytes();
    Ok(Request::from_parts(parts, bytes))
}

async fn dispatch(
    routes: &Routes,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let response = if path == "/health" {
        json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
    } else {
        match collect(request, routes.body_timeout).await {
            Err(error) => error.into_response(),
            Ok(request) if path == "/webhooks/shopify" => routes.shopify.handle(request).await,
            Ok(request) if path.starts_with("/v1/") => routes.merchant.handle(request).await,
            Ok(mut request) if path == "/app" || path.starts_with("/app/") => {
                request
                    .extensions_mut()
                    .insert(rc_dashboard::ClientAddress(peer.ip().to_string()));
                routes.dashboard.handle(request).await
            }
            Ok(request) if path.starts_with("/tracking/") => {
                routes.courier_webhook.handle(request).await
            }
            Ok(request) if path.starts_with("/exports/download/") => {
                download(&routes.export_files, &request)
            }
            Ok(request) if path == "/sandbox/shopify/admin/oauth/authorize" => {
                routes.consent.shopify_authorize(&request)
            }
            Ok(request) if path == "/sandbox/shopify/admin/oauth/access_token" => {
                routes.consent.shopify_token(&request)
            }
            Ok(request)
                if path.starts_with("/sandbox/shopify/")
                    && path.ends_with("/graphql.json")
                    && crate::sandbox::SandboxConsent::is_webhooks(request.body()) =>
            {
                routes.consent.shopify_webhooks(request.body())
            }
            Ok(request) if path == "/sandbox/sellercentral/apps/authorize/consent" => {
                routes.consent.seller_central(&request)
            }
            Ok(_) if path == "/sandbox/subscriptions" => routes.consent.show(),
            Ok(request) if path.starts_with("/sandbox/amazon/notifications/") => routes
                .consent
                .notifications(&request, path.trim_start_matches("/sandbox/amazon")),
            Ok(request) if path == "/sandbox/amazon/auth/o2/token" => {
                match routes.consent.lwa_grant(request.body()) {
                    Some(answer) => answer,
                    None => routes.amazon_sandbox.handle(&request),
                }
            }
            Ok(_) if path == "/sandbox/shopify/fulfillments" => {
                routes.shopify_sandbox.fulfillments()
            }
            Ok(request)
                if path.starts_with("/sandbox/shopify/")
                    && path.ends_with("/graphql.json")
                    && ShopifySandboxAdmin::is_fulfillment(request.body()) =>
            {
                routes.shopify_sandbox.graphql(&request)
            }
            Ok(_) if path == "/sandbox/inventory" => routes.inventory_sandbox.show(),
            Ok(request) if path.starts_with("/sandbox/amazon/listings/") => {
                routes.inventory_sandbox.amazon_patch(&path, request.body())
            }
            Ok(request) if path.starts_with("/sandbox/amazon/feeds/") => {
                routes.inventory_sandbox.amazon_feeds(
                    request.method(),
                    path.trim_start_matches("/sandbox/amazon"),
                    request.body(),
                    &routes.base,
                )
            }
            Ok(request) if path.starts_with(crate::sandbox::FEED_DOCUMENTS) => {
                let id = path.trim_start_matches(crate::sandbox::FEED_DOCUMENTS);
                routes
                    .inventory_sandbox
                    .feed_document(request.method(), id, request.body())
            }
            Ok(request) if path.starts_with("/sandbox/amazon/") => {
                routes.amazon_sandbox.handle(&request)
            }
            Ok(request)
                if path.starts_with("/sandbox/shopify/") && path.ends_with("/graphql.json") =>
            {
                routes.inventory_sandbox.shopify_graphql(request.body())
            }
            Ok(request) if path.starts_with("/sandbox/shopify/") => {
                routes.shopify_sandbox.handle(&request)
            }
            Ok(request) if path.starts_with(crate::sandbox::COURIER_PATH) => {
                routes.courier_sandbox.handle(
                    request.method(),
                    path.trim_start_matches(crate::sandbox::COURIER_PATH),
                    request
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok()),
                    request.body(),
                    &routes.base,
                )
            }
            Ok(_) => ApiError::NotFound.into_response(),
        }
    };
    response.map(Full::new)
}

/// The demo merchant's two warehouses, once: `main` (where the sandbox stock is) ships first,
/// `east` is a second, empty one — so `GET /v1/warehouses` shows what routing will choose from.
async fn seed_warehouses(services: &Services, merchant: &MerchantId) -> Result<(), StartError> {
    let bad = |e: rc_domain::WarehouseError| StartError::Config(format!("seeding warehouses: {e}"));
    let seed =
        |e: rc_inventory::InventoryError| StartError::Config(format!("seeding warehouses: {e}"));
    let sandbox = rc_domain::CourierAccountRef::parse("sandbox", "demo").map_err(bad)?;
    let sites = [
        (
            "main",
            "Main warehouse",
            "1 Sandbox Way",
            "Springfield",
            "62701",
            "IL",
            10,
        ),
        (
            "east",
            "East warehouse",
            "2 Harbor Street",
            "Newark",
            "07102",
            "NJ",
            20,
        ),
    ];
    for (id, name, line1, city, postal_code, region, priority) in sites {
        let id =
            rc_domain::WarehouseId::parse(id).map_err(|e| StartError::Config(e.to_string()))?;
        if services
            .warehouses
            .get(merchant, &id)
            .await
            .map_err(seed)?
            .is_some()
        {
            continue;
        }
        let warehouse = rc_domain::Warehouse {
            name: name.into(),
            address: rc_domain::ShipFromAddress::parse(
                "RetailCoder Demo",
                line1,
                None,
                city,
                postal_code,
                None,
            )
            .map_err(bad)?,
            country: rc_domain::CountryCode::parse("US").map_err(bad)?,
            region: Some(rc_domain::RegionCode::parse(region).map_err(bad)?),
            priority,
            active: true,
            couriers: vec![sandbox.clone()],
            cutoff: Some(rc_domain::CutOff::parse("17:00", "-05:00").map_err(bad)?),
            service: rc_domain::ServiceChoice::Cheapest,
        }
        .check()
        .map_err(bad)?;
        services
            .warehouses
            .put(merchant, &id, &warehouse)
            .await
            .map_err(seed)?;
    }
    // The sandbox courier account the warehouses ship with.
    let key = rc_domain::SecretText::parse(crate::sandbox::SANDBOX_COURIER_KEY)
        .map_err(|_| StartError::Config("sandbox courier key".into()))?;
    // Its tracking webhook is signed with this secret (the sandbox courier posts to it).
    let webhook = rc_domain::SecretText::parse(crate::sandbox::SANDBOX_COURIER_WEBHOOK_SECRET)
        .map_err(|_| StartError::Config("sandbox courier webhook secret".into()))?;
    services
        .courier_accounts
        .put(
            merchant,
            &sandbox,
            &rc_fulfillment::CourierSecrets::ApiKey(rc_domain::Secret::new(key)),
            Some(&rc_domain::Secret::new(webhook)),
        )
        .await
        .map_err(|e| StartError::Config(format!("seeding the courier account: {e}")))?;
    // East-coast orders ship from `east` when it has the stock, else from `main`; everything
    // else by priority (`main` first). Seeded once: the merchant's own settings are kept.
    if services.routing.get(merchant).await.map_err(seed)? == rc_domain::RoutingSettings::default()
    {
        let rules: rc_domain::RawRoutingSettings = serde_json::from_value(serde_json::json!({
            "allow_split": true,
            "rules": [{"name": "east-coast", "countries": ["US"],
                       "regions": ["NJ", "NY", "PA", "CT", "MA"], "warehouses": ["east", "main"]}]
        }))
        .map_err(|e| StartError::Config(format!("seeding routing: {e}")))?;
        let rules = rules
            .parse()
            .map_err(|e| StartError::Config(format!("seeding routing: {e}")))?;
        services.routing.put(merchant, &rules).await.map_err(seed)?;
    }
    Ok(())
}

/// Stock for the sandbox catalog (100 of each, once) and a listing of each on the sandbox Shopify
/// location 1 and the sandbox Amazon seller, so orders move quantities the channels show.
async fn seed_inventory(services: &Services, config: &LocalConfig) -> Result<(), StartError> {
    let merchant = MerchantId::parse(&config.demo_merchant)
        .map_err(|e| StartError::Config(format!("RC_DEMO_MERCHANT: {e}")))?;
    if services
        .cancellation
        .status(&merchant)
        .await
        .ok()
        .flatten()
        .is_some()
    {
        return Ok(());
    }
    let warehouse =
        rc_domain::WarehouseId::parse("main").map_err(|e| StartError::Config(e.to_string()))?;
    let shop = ShopDomain::parse(&config.demo_shop)
        .map_err(|e| StartError::Config(format!("RC_DEMO_SHOP: {e}")))?;
    let amazon_id = |e: rc_domain::AmazonIdError| StartError::Config(e.to_string());
    let seller = rc_domain::SellerId::parse(SANDBOX_SELLER).map_err(amazon_id)?;
    let marketplace = rc_domain::MarketplaceId::parse(SANDBOX_MARKETPLACE).map_err(amazon_id)?;
    let seed =
        |e: rc_inventory::InventoryError| StartError::Config(format!("seeding inventory: {e}"));
    seed_warehouses(services, &merchant).await?;
    for (n, (raw, _)) in CATALOG.iter().enumerate() {
        let sku = rc_domain::Sku::parse(raw).map_err(|e| StartError::Config(e.to_string()))?;
        if services
            .stock
            .levels(&merchant, &sku)
            .await
            .map_err(seed)?
            .is_empty()
        {
            services
                .stock
                .adjust(
                    &merchant,
                    &sku,
                    &warehouse,
                    rc_inventory::Adjustment::Receive { quantity: 100 },
                    "sandbox opening stock",
                    "local-host",
                )
                .await
                .map_err(seed)?;
        }
        let targets = [
            rc_inventory::ListingTarget::Shopify {
                shop: shop.clone(),
                location_id: 1,
                inventory_item_id: 1 + n as u64,
            },
            rc_inventory::ListingTarget::Amazon {
                seller_id: seller.clone(),
                marketplace_id: marketplace.clone(),
                seller_sku: (*raw).into(),
                product_type: "PRODUCT".into(),
            },
        ];
        // What one unit weighs and measures packed, so shipments get parcels without asking.
        let (grams, length, width, height) = [
            (350, 120, 90, 100),
            (200, 300, 250, 30),
            (150, 600, 80, 80),
            (250, 210, 150, 15),
        ][n % 4];
        let parcel = rc_domain::Parcel::parse(grams, length, width, height)
            .map_err(|e| StartError::Config(format!("seeding parcels: {e}")))?;
        services
            .stock
            .set_parcel(&merchant, &sku, &parcel)
            .await
            .map_err(seed)?;
        for target in targets {
            services
                .listings
                .put(
                    &merchant,
                    &sku,
                    &target,
                    rc_inventory::ChannelAllocation::default(),
                )
                .await
                .map_err(seed)?;
        }
    }
    Ok(())
}

/// Feeds queued order events to the order processor, as the SQS event source does in AWS. The
/// queue lives in the embedded database: events not yet processed when the host stops are
/// processed after its next start.
/// Drains `queue` every `interval`, `batch` messages at a time, through `handle` (which answers
/// the ids of the messages that failed), as an SQS event source does: failed messages stay at
/// the head for the next tick, and after their receives move to the queue's dead letters.
fn drain_every<F, Fut>(
    queue: Arc<rc_runtime::LocalQueue>,
    interval: std::time::Duration,
    batch: usize,
    label: &'static str,
    handle: F,
) where
    F: Fn(Vec<rc_runtime::LocalMessage>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Vec<String>> + Send,
{
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(interval);
        loop {
            timer.tick().await;
            loop {
                let received = match queue.receive(batch).await {
                    Ok(received) if received.is_empty() => break,
                    Ok(received) => received,
                    Err(error) => {
                        tracing::warn!(%error, queue = label, "local queue unreadable; retrying");
                        break;
                    }
                };
                let failed = handle(received.clone()).await;
                if let Err(error) = queue.settle(&received, &failed).await {
                    tracing::warn!(%error, queue = label, "local queue not settled; messages are redelivered");
                    break;
                }
                if !failed.is_empty() {
                    break;
                }
            }
        }
    });
}

/// The label generator on the local label queue (the SQS event source's batches of 10).
fn spawn_label_generator(
    services: &Services,
    channels: &rc_runtime::ChannelClients,
    interval: std::time::Duration,
) {
    let (Some(queue), Some(generator)) = (
        services.local_label_queue.clone(),
        services.label_generator(channels),
    ) else {
        return;
    };
    let generator = Arc::new(generator);
    drain_every(queue, interval, 10, "label jobs", move |received| {
        let generator = Arc::clone(&generator);
        async move {
            let batch = received.into_iter().map(|m| (m.id, m.body)).collect();
            generator.handle_batch(batch).await
        }
    });
}

/// The export worker on the local export-job queue (one at a time), and the expiry of files
/// ready for 24 hours every minute.
fn spawn_export_worker(services: &Services, interval: std::time::Duration) {
    let (Some(queue), Some(worker), Some(deletion)) = (
        services.local_export_queue.clone(),
        services.export_worker(),
        services.export_deletion(),
    ) else {
        return;
    };
    let worker = Arc::new(worker);
    let jobs = services.export_jobs.clone();
    drain_every(queue, interval, 1, "export jobs", move |received| {
        let (worker, jobs) = (Arc::clone(&worker), Arc::clone(&jobs));
        async move {
            let batch = received.into_iter().map(|m| (m.id, m.body)).collect();
            worker
                .handle_batch(batch, jobs.as_ref(), std::time::Duration::from_secs(60))
                .await
        }
    });
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            timer.tick().await;
            match deletion.expire_due().await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "expired export files deleted"),
                Err(error) => tracing::warn!(%error, "export expiry failed; retried next minute"),
            }
        }
    });
}

/// `GET /exports/download/{key}?expires=&signature=`: an export file through a link this host
/// signed, within its 15 minutes (as an S3 presigned URL would be).
fn download(
    files: &rc_exports::LocalExportFiles,
    request: &http::Request<Bytes>,
) -> http::Response<Bytes> {
    let key = request
        .uri()
        .path()
        .trim_start_matches("/exports/download/")
        .to_owned();
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let expires = get("expires")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    let refused = |status: StatusCode, reason: &str| {
        json(
            status,
            &serde_json::json!({"error": reason, "message": "this download link is not valid"}),
        )
    };
    match files.open_link(&key, expires, get("signature").unwrap_or("")) {
        Ok(path) => match std::fs::read(&path) {
            Ok(bytes) => {
                let kind = if key.ends_with(".jsonl") {
                    "application/x-ndjson"
                } else {
                    "text/csv; charset=utf-8"
                };
                http::Response::builder()
                    .status(StatusCode::OK)
                    .header(http::header::CONTENT_TYPE, kind)
                    .header(http::header::CACHE_CONTROL, "no-store")
                    .body(Bytes::from(bytes))
                    .unwrap_or_default()
            }
            Err(_) => refused(StatusCode::NOT_FOUND, "not_found"),
        },
        Err(rc_exports::LinkRefused::Expired) => refused(StatusCode::GONE, "link_expired"),
        Err(rc_exports::LinkRefused::Gone) => refused(StatusCode::NOT_FOUND, "not_found"),
        Err(_) => refused(StatusCode::FORBIDDEN, "invalid_signature"),
    }
}

/// The fulfillment worker on the local shipment-event queue (batches of 10).
fn spawn_fulfillment_worker(
    services: &Services,
    channels: &rc_runtime::ChannelClients,
    sync: Arc<rc_jobs::InventorySync>,
    interval: std::time::Duration,
) {
    let Some(queue) = services.local_shipment_queue.clone() else {
        return;
    };
    let worker = Arc::new(services.fulfillment_worker(channels, sync));
    drain_every(queue, interval, 10, "shipment events", move |received| {
        let worker = Arc::clone(&worker);
        async move { worker.handle_batch(received).await }
    });
}

/// Moves the sandbox courier's parcels on every stage and posts each move, signed, to the demo
/// courier account's tracking webhook on this host — over HTTP, as EasyPost would.
async fn spawn_sandbox_courier(
    services: &Services,
    config: &LocalConfig,
    base: &str,
    courier: Arc<crate::sandbox::SandboxCourier>,
    stage: std::time::Duration,
) -> Result<(), StartError> {
    let merchant = MerchantId::parse(&config.demo_merchant)
        .map_err(|_| StartError::Config("demo merchant id".into()))?;
    let hook = services
        .courier_accounts
        .list(&merchant)
        .await
        .map_err(|e| StartError::Config(format!("reading the courier account: {e}")))?
        .into_iter()
        .find(|a| a.kind == rc_domain::CourierKind::Sandbox)
        .and_then(|a| a.tracking_webhook);
    let Some(hook) = hook else {
        return Ok(());
    };
    let url = format!("{base}{hook}");
    let client = reqwest::Client::new();
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(stage / 4);
        loop {
            timer.tick().await;
            for (body, signature) in courier.advance(stage) {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hmac-signature", signature)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        tracing::info!(
                            status = response.status().as_u16(),
                            "sandbox courier tracking delivered"
                        )
                    }
                    Err(_) => tracing::warn!(
                        "sandbox courier tracking not delivered; the poller catches up"
                    ),
                }
            }
        }
    });
    Ok(())
}

/// The order processor on the local order-event queue (the SQS event source's 25).
fn spawn_order_processor(
    services: &Services,
    sync: Arc<rc_jobs::InventorySync>,
    interval: std::time::Duration,
) {
    let Some(queue) = services.local_queue.clone() else {
        return;
    };
    let processor = Arc::new(services.order_processor(sync));
    drain_every(queue, interval, 25, "order events", move |received| {
        let processor = Arc::clone(&processor);
        async move { processor.handle_batch(received).await }
    });
}
