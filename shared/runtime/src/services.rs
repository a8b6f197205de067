//! Wiring: the same services over AWS (DynamoDB + KMS) or over the embedded store and key file.

use std::path::Path;
use std::sync::Arc;

use rc_domain::{Clock, SystemClock};
use rc_fulfillment::{
    CourierAccountRepository, FileLabelStore, FulfillmentSettingsRepository, LabelEraser,
    LabelStore, ShipmentPlanner, ShipmentRepository,
};
use rc_inventory::{
    ListingRepository, Reservations, RoutingRepository, StockRepository, WarehouseRepository,
};
use rc_orders::{
    ApiKeyRepository, AuditLog, ConnectionRepository, OrderRepository, Outbox,
    PrivacyRequestRepository,
};
use rc_privacy::{
    AccountCancellation, ComplianceRequests, PiiCopies, PrivacyRun, Purger, ReceiptLedger,
};
use rc_queue::{
    LabelJobs, MemoryLabelJobs, MemoryPublisher, MemoryShipmentEvents, OrderEvent, PublishError,
    Publisher, ShipmentEvents, SqsPublisher,
};
use rc_store::Store;
use rc_store::dynamo::DynamoStore;
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_vault::{FileRoot, KmsRoot, RootKey, Vault, VaultError};

use crate::AwsConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    #[error("embedded database: {0}")]
    Database(#[from] rc_store::StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Every repository a handler may need, built once per process (Lambda: at cold start).
#[derive(Clone)]
pub struct Services {
    pub clock: Arc<dyn Clock>,
    pub data: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub orders: Arc<OrderRepository>,
    pub connections: Arc<ConnectionRepository>,
    pub api_keys: Arc<ApiKeyRepository>,
    pub privacy_requests: Arc<PrivacyRequestRepository>,
    /// Every PII access, who and why.
    pub audit: Arc<AuditLog>,
    pub outbox: Arc<Outbox>,
    /// The registry of PII copies: every feature that copies PII registers its eraser here.
    pub copies: Arc<PiiCopies>,
    pub receipts: Arc<ReceiptLedger>,
    pub purger: Arc<Purger>,
    pub cancellation: Arc<AccountCancellation>,
    pub compliance: Arc<ComplianceRequests>,
    pub stock: Arc<StockRepository>,
    pub reservations: Arc<Reservations>,
    pub listings: Arc<ListingRepository>,
    pub warehouses: Arc<WarehouseRepository>,
    /// The merchant's routing rules.
    pub routing: Arc<RoutingRepository>,
    pub shipments: Arc<ShipmentRepository>,
    pub courier_accounts: Arc<CourierAccountRepository>,
    /// Where label jobs go: SQS in AWS, the embedded queue locally, memory in tests.
    pub label_jobs: Arc<dyn LabelJobs>,
    /// Plans shipments from routing decisions and queues their labels.
    pub planner: Arc<ShipmentPlanner>,
    /// Sealed label documents (S3 in AWS, files locally); `None` where not configured.
    pub label_store: Option<Arc<dyn LabelStore>>,
    /// On the embedded defaults: the durable queue label jobs go to.
    pub local_label_queue: Option<Arc<crate::LocalQueue>>,
    /// Where shipment events go (courier webhook, poller, merchant API → fulfillment worker).
    pub shipment_events: Arc<dyn ShipmentEvents>,
    /// On the embedded defaults: the durable queue shipment events go to.
    pub local_shipment_queue: Option<Arc<crate::LocalQueue>>,
    pub fulfillment_settings: Arc<FulfillmentSettingsRepository>,
    /// The merchant's tax classes and SKU assignments.
    pub tax_classes: Arc<rc_tax_records::TaxClasses>,
    pub tax_settings: Arc<rc_tax_records::TaxSettingsRepository>,
    /// Each order's tax record, computed per order version.
    pub tax: Arc<rc_tax_records::TaxRecorder>,
    pub tax_reporter: Arc<rc_tax_records::TaxReporter>,
    /// Merchant accounts: the profile and its sealed billing contact.
    pub merchants: Arc<rc_orders::MerchantRepository>,
    /// Merchant exports: their records (always), their files (where storage is configured),
    /// and where export jobs go.
    pub exports: Arc<rc_exports::ExportRepository>,
    pub export_files: Option<Arc<dyn rc_exports::ExportFiles>>,
    pub export_jobs: Arc<dyn rc_queue::ExportJobs>,
    /// On the embedded defaults: the durable queue export jobs go to.
    pub local_export_queue: Option<Arc<crate::LocalQueue>>,
    /// Started connect flows (single-use OAuth states).
    pub connect_states: Arc<rc_orders::ConnectStates>,
    /// On the embedded defaults: what was published, also kept in memory (logs, tests).
    pub published: Option<Arc<MemoryPublisher>>,
    /// On the embedded defaults: the durable queue order events go to (SQS's role).
    pub local_queue: Option<Arc<crate::LocalQueue>>,
}

/// What the privacy lifecycle is built from; the registry of copies is the part that varies.
struct PrivacyWiring<'a> {
    data: &'a Arc<dyn Store>,
    orders: &'a Arc<OrderRepository>,
    vault: &'a Arc<Vault>,
    receipts: &'a Arc<ReceiptLedger>,
    connections: &'a Arc<ConnectionRepository>,
    api_keys: &'a Arc<ApiKeyRepository>,
    privacy_requests: &'a Arc<PrivacyRequestRepository>,
    stock: &'a Arc<StockRepository>,
    clock: &'a Arc<dyn Clock>,
}

impl PrivacyWiring<'_> {
    fn build(
        &self,
        copies: &Arc<PiiCopies>,
    ) -> (
        Arc<Purger>,
        Arc<AccountCancellation>,
        Arc<ComplianceRequests>,
    ) {
        let purger = Arc::new(Purger::new(
            self.data.clone(),
            self.orders.clone(),
            self.vault.clone(),
            copies.clone(),
            self.receipts.clone(),
            self.clock.clone(),
        ));
        let cancellation = Arc::new(AccountCancellation::new(
            self.data.clone(),
            self.vault.clone(),
            copies.clone(),
            self.receipts.clone(),
            rc_privacy::AccountRecords {
                connections: self.connections.clone(),
                api_keys: self.api_keys.clone(),
                stock: self.stock.clone(),
            },
            self.clock.clone(),
        ));
        let compliance = Arc::new(ComplianceRequests::new(
            self.privacy_requests.clone(),
            self.orders.clone(),
            purger.clone(),
            cancellation.clone(),
        ));
        (purger, cancellation, compliance)
    }
}

/// For a process configured without an event queue: refuses, so events wait in the outbox
/// (or the order event is retried) instead of being dropped.
struct NoQueue;

#[async_trait::async_trait]
impl LabelJobs for NoQueue {
    async fn send(&self, _: &[rc_queue::LabelJob]) -> Result<(), PublishError> {
        Err(PublishError::Unavailable(
            "RC_LABEL_JOBS_QUEUE_URL is not set".into(),
        ))
    }
}

#[async_trait::async_trait]
impl rc_queue::ExportJobs for NoQueue {
    async fn send(&self, _: &[rc_queue::ExportJob]) -> Result<(), PublishError> {
        Err(PublishError::Unavailable(
            "RC_EXPORT_JOBS_QUEUE_URL is not set".into(),
        ))
    }
}

#[async_trait::async_trait]
impl ShipmentEvents for NoQueue {
    async fn send(&self, _: &[rc_queue::ShipmentEvent]) -> Result<(), PublishError> {
        Err(PublishError::Unavailable(
            "RC_SHIPMENT_EVENTS_QUEUE_URL is not set".into(),
        ))
    }
}

#[async_trait::async_trait]
impl Publisher for NoQueue {
    async fn publish(&self, _: &[OrderEvent]) -> Result<(), PublishError> {
        Err(PublishError::Unavailable(
            "RC_ORDER_EVENTS_QUEUE_URL is not set".into(),
        ))
    }
}

impl Services {
    pub fn assemble(
        data: Arc<dyn Store>,
        keys: Arc<dyn Store>,
        root: Arc<dyn RootKey>,
        clock: Arc<dyn Clock>,
        publisher: Arc<dyn Publisher>,
    ) -> Self {
        let vault = Arc::new(Vault::new(root, keys, clock.clone()));
        let outbox = Arc::new(Outbox::new(data.clone(), publisher, clock.clone()));
        let orders = Arc::new(OrderRepository::new(
            data.clone(),
            vault.clone(),
            clock.clone(),
            outbox.clone(),
        ));
        let connections = Arc::new(ConnectionRepository::new(
            data.clone(),
            vault.clone(),
            clock.clone(),
        ));
        let api_keys = Arc::new(ApiKeyRepository::new(
            data.clone(),
            vault.clone(),
            clock.clone(),
        ));
        let privacy_requests = Arc::new(PrivacyRequestRepository::new(data.clone(), clock.clone()));
        // No feature copies PII yet; labels and exports register their erasers here.
        let copies = Arc::new(PiiCopies::new(data.clone(), clock.clone()));
        let receipts = Arc::new(ReceiptLedger::new(data.clone(), clock.clone()));
        let stock = Arc::new(StockRepository::new(data.clone(), clock.clone()));
        let (purger, cancellation, compliance) = PrivacyWiring {
            data: &data,
            orders: &orders,
            vault: &vault,
            receipts: &receipts,
            connections: &connections,
            api_keys: &api_keys,
            privacy_requests: &privacy_requests,
            stock: &stock,
            clock: &clock,
        }
        .build(&copies);
        let warehouses = Arc::new(WarehouseRepository::new(data.clone(), stock.clone()));
        let routing = Arc::new(RoutingRepository::new(data.clone()));
        let shipments = Arc::new(ShipmentRepository::new(data.clone(), clock.clone()));
        let label_jobs: Arc<dyn LabelJobs> = Arc::new(MemoryLabelJobs::default());
        let planner = Arc::new(ShipmentPlanner::new(
            shipments.clone(),
            stock.clone(),
            label_jobs.clone(),
        ));
        let reservations = Arc::new(Reservations::new(
            stock.clone(),
            warehouses.clone(),
            routing.clone(),
        ));
        let tax_classes = Arc::new(rc_tax_records::TaxClasses::new(data.clone()));
        let tax_settings = Arc::new(rc_tax_records::TaxSettingsRepository::new(data.clone()));
        let tax = Arc::new(rc_tax_records::TaxRecorder::new(
            orders.clone(),
            reservations.clone(),
            warehouses.clone(),
            tax_classes.clone(),
            tax_settings.clone(),
            Arc::new(rc_tax_records::TaxRecords::new(data.clone())),
            clock.clone(),
        ));
        Self {
            tax_classes,
            tax_settings,
            tax,
            tax_reporter: Arc::new(rc_tax_records::TaxReporter::new(data.clone())),
            merchants: Arc::new(rc_orders::MerchantRepository::new(
                data.clone(),
                vault.clone(),
                clock.clone(),
            )),
            audit: Arc::new(AuditLog::new(data.clone(), clock.clone())),
            connect_states: Arc::new(rc_orders::ConnectStates::new(data.clone(), clock.clone())),
            exports: Arc::new(rc_exports::ExportRepository::new(
                data.clone(),
                clock.clone(),
            )),
            export_files: None,
            export_jobs: Arc::new(rc_queue::MemoryExportJobs::default()),
            local_export_queue: None,
            orders,
            outbox,
            published: None,
            local_queue: None,
            stock,
            reservations,
            listings: Arc::new(ListingRepository::new(data.clone())),
            warehouses,
            routing,
            courier_accounts: Arc::new(CourierAccountRepository::new(
                data.clone(),
                vault.clone(),
                connections.clone(),
                clock.clone(),
            )),
            shipments,
            label_jobs,
            planner,
            label_store: None,
            local_label_queue: None,
            shipment_events: Arc::new(MemoryShipmentEvents::default()),
            local_shipment_queue: None,
            fulfillment_settings: Arc::new(FulfillmentSettingsRepository::new(data.clone())),
            connections,
            api_keys,
            privacy_requests,
            copies,
            receipts,
            purger,
            cancellation,
            compliance,
            clock,
            data,
            vault,
        }
    }

    /// Replaces the registry of PII copies (a test registering its own kind of copy, or a feature
    /// wiring its eraser), rebuilding what uses it.
    pub fn with_copies(mut self, copies: PiiCopies) -> Self {
        let copies = Arc::new(copies);
        let (purger, cancellation, compliance) = PrivacyWiring {
            data: &self.data,
            orders: &self.orders,
            vault: &self.vault,
            receipts: &self.receipts,
            connections: &self.connections,
            api_keys: &self.api_keys,
            privacy_requests: &self.privacy_requests,
            stock: &self.stock,
            clock: &self.clock,
        }
        .build(&copies);
        (self.purger, self.cancellation, self.compliance) = (purger, cancellation, compliance);
        self.copies = copies;
        self
    }

    /// Sends label jobs to `jobs` (rebuilding the planner that sends them).
    pub fn with_label_jobs(mut self, jobs: Arc<dyn LabelJobs>) -> Self {
        self.planner = Arc::new(ShipmentPlanner::new(
            self.shipments.clone(),
            self.stock.clone(),
            jobs.clone(),
        ));
        self.label_jobs = jobs;
        self
    }

    /// Runs with our marketplace apps' credentials: connections made through a connect flow
    /// authenticate with them, and the merchant API offers the connect flows.
    pub fn with_apps(self, apps: rc_domain::AppCredentials) -> Self {
        self.connections.set_apps(apps);
        self
    }

    /// Sends shipment events to `events`.
    pub fn with_shipment_events(mut self, events: Arc<dyn ShipmentEvents>) -> Self {
        self.shipment_events = events;
        self
    }

    /// Keeps sealed label documents in `store`, and registers its eraser so the purger and the
    /// account cancellation reach them.
    pub fn with_label_store(mut self, store: Arc<dyn LabelStore>) -> Self {
        self.label_store = Some(store);
        let copies = self.copies_with_erasers();
        self.with_copies(copies)
    }

    /// Keeps export files in `files`, and registers their eraser so the purger and the
    /// account cancellation reach them.
    pub fn with_export_files(mut self, files: Arc<dyn rc_exports::ExportFiles>) -> Self {
        self.export_files = Some(files);
        let copies = self.copies_with_erasers();
        self.with_copies(copies)
    }

    /// Sends export jobs to `jobs`.
    pub fn with_export_jobs(mut self, jobs: Arc<dyn rc_queue::ExportJobs>) -> Self {
        self.export_jobs = jobs;
        self
    }

    /// The registry of PII copies with an eraser for every store configured here.
    fn copies_with_erasers(&self) -> PiiCopies {
        let mut copies = PiiCopies::new(self.data.clone(), self.clock.clone());
        if let Some(store) = &self.label_store {
            copies = copies.with_eraser(Arc::new(LabelEraser {
                store: store.clone(),
            }));
        }
        if let Some(deletion) = self.export_deletion() {
            copies = copies.with_eraser(Arc::new(rc_exports::ExportEraser { deletion }));
        }
        copies
    }

    /// Deleting export files (where storage is configured).
    pub fn export_deletion(&self) -> Option<Arc<rc_exports::ExportDeletion>> {
        Some(Arc::new(rc_exports::ExportDeletion {
            exports: self.exports.clone(),
            files: self.export_files.clone()?,
            clock: self.clock.clone(),
        }))
    }

    /// What each export kind is read from.
    pub fn export_sources(&self) -> rc_exports::Sources {
        rc_exports::Sources {
            orders: self.orders.clone(),
            stock: self.stock.clone(),
            receipts: self.receipts.clone(),
            shipments: self.shipments.clone(),
            tax: self.tax_reporter.clone(),
            clock: self.clock.clone(),
            account: rc_exports::AccountRecords {
                merchants: self.merchants.clone(),
                connections: self.connections.clone(),
                api_keys: self.api_keys.clone(),
                warehouses: self.warehouses.clone(),
                audit: self.audit.clone(),
            },
        }
    }

    /// The export worker (where storage is configured).
    pub fn export_worker(&self) -> Option<rc_exports::ExportWorker> {
        Some(rc_exports::ExportWorker::new(
            self.exports.clone(),
            self.export_files.clone()?,
            self.export_sources(),
            self.copies.clone(),
            self.audit.clone(),
            self.clock.clone(),
        ))
    }

    /// The label generator over these services, buying through `channels`' courier clients.
    /// `None` without a label store.
    pub fn label_generator(
        &self,
        channels: &crate::ChannelClients,
    ) -> Option<rc_fulfillment::LabelGenerator> {
        Some(rc_fulfillment::LabelGenerator::new(
            self.shipments.clone(),
            self.courier_accounts.clone(),
            self.warehouses.clone(),
            self.orders.clone(),
            self.audit.clone(),
            self.vault.clone(),
            self.copies.clone(),
            self.label_store.clone()?,
            channels.couriers(),
        ))
    }

    /// The scheduled privacy run (purge, requests, cancellations) over these services.
    pub fn privacy_run(&self) -> PrivacyRun {
        PrivacyRun::new(
            self.purger.clone(),
            self.compliance.clone(),
            self.cancellation.clone(),
        )
    }

    /// DynamoDB tables and the KMS root key, as `template.yaml` configures them.
    pub async fn aws(config: &AwsConfig) -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let kms = aws_sdk_kms::Client::new(&sdk);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let data = Arc::new(DynamoStore::new(
            dynamodb.clone(),
            &config.data_table,
            clock.clone(),
        ));
        let keys = Arc::new(DynamoStore::new(
            dynamodb,
            &config.keys_table,
            clock.clone(),
        ));
        let root = Arc::new(KmsRoot::new(kms, config.kms_key_id.clone()));
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let publisher: Arc<dyn Publisher> = match &config.order_events_queue_url {
            Some(url) => Arc::new(SqsPublisher::new(sqs.clone(), url.clone())),
            None => Arc::new(NoQueue),
        };
        let label_jobs: Arc<dyn LabelJobs> = match &config.label_jobs_queue_url {
            Some(url) => Arc::new(SqsPublisher::new(sqs.clone(), url.clone())),
            None => Arc::new(NoQueue),
        };
        let shipment_events: Arc<dyn ShipmentEvents> = match &config.shipment_events_queue_url {
            Some(url) => Arc::new(SqsPublisher::new(sqs.clone(), url.clone())),
            None => Arc::new(NoQueue),
        };
        let export_jobs: Arc<dyn rc_queue::ExportJobs> = match &config.export_jobs_queue_url {
            Some(url) => Arc::new(SqsPublisher::new(sqs, url.clone())),
            None => Arc::new(NoQueue),
        };
        // Our apps' credentials, read once at start. Unreadable, the process runs without them
        // (fails closed: app-made connections do not authenticate, connect flows answer 503)
        // and says so loudly.
        let apps = match crate::load_apps(&sdk).await {
            Ok(apps) => apps,
            Err(error) => {
                tracing::error!(%error, "marketplace app credentials unavailable");
                rc_domain::AppCredentials::default()
            }
        };
        let services = Self::assemble(data, keys, root, clock, publisher)
            .with_label_jobs(label_jobs)
            .with_shipment_events(shipment_events)
            .with_export_jobs(export_jobs)
            .with_apps(apps);
        let services = match &config.exports_bucket {
            #[cfg(feature = "exports-bucket")]
            Some(bucket) => services.with_export_files(Arc::new(rc_exports::S3ExportFiles::new(
                aws_sdk_s3::Client::new(&sdk),
                bucket.clone(),
                config.kms_key_id.clone(),
                sdk.credentials_provider(),
            ))),
            #[cfg(not(feature = "exports-bucket"))]
            Some(_) => {
                tracing::error!(
                    "RC_EXPORTS_BUCKET is set, but this function was built without the exports bucket (feature exports-bucket)"
                );
                services
            }
            None => services,
        };
        match &config.labels_bucket {
            #[cfg(feature = "labels-bucket")]
            Some(bucket) => services.with_label_store(Arc::new(rc_fulfillment::S3LabelStore::new(
                aws_sdk_s3::Client::new(&sdk),
                bucket.clone(),
            ))),
            // Only the functions built with the bucket may be told it: the others never touch
            // labels (a purge without the eraser leaves the order due rather than the copy).
            #[cfg(not(feature = "labels-bucket"))]
            Some(_) => {
                tracing::error!(
                    "RC_LABELS_BUCKET is set, but this function was built without the labels bucket (feature labels-bucket); labels are not reachable from here"
                );
                services
            }
            None => services,
        }
    }

    /// The embedded defaults: `retailcoder.db` (data), `keys.db` (wrapped keys, never backed up)
    /// and `root.key` in `data_dir` (created on first run; the key file with mode 0600).
    pub fn embedded(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, ServicesError> {
        create_private_dir(data_dir).map_err(|e| VaultError::RootKeyFile {
            path: data_dir.display().to_string(),
            problem: e.to_string(),
        })?;
        // Keys in their own file, like the key table in AWS: back up `retailcoder.db`, never
        // `keys.db` (destroying a key must reach every backup of what it sealed).
        let (key_path, root_path) = (data_dir.join("keys.db"), data_dir.join("root.key"));
        // Every key in keys.db is wrapped by root.key: a new root would orphan them all (every
        // sealed value unreadable) without a word. The root is created before keys.db, so this
        // only happens when root.key was lost or moved.
        if key_path.exists() && !root_path.exists() {
            return Err(VaultError::RootKeyFile {
                path: root_path.display().to_string(),
                problem: "missing beside an existing keys.db (restore it, or start with an empty data directory)".into(),
            }
            .into());
        }
        let root = Arc::new(FileRoot::open_or_create(&root_path)?);
        let db = EmbeddedDb::open(&data_dir.join("retailcoder.db"))?;
        let key_db = EmbeddedDb::open(&key_path)?;
        let data = Arc::new(SqliteStore::new(db, "data", clock.clone()));
        let keys = Arc::new(SqliteStore::new(key_db, "keys", clock.clone()));
        let published = Arc::new(MemoryPublisher::default());
        let queue = Arc::new(crate::LocalQueue::new(
            crate::ORDER_EVENTS,
            data.clone(),
            clock.clone(),
            published.clone(),
        ));
        let label_queue = Arc::new(crate::LocalQueue::new(
            crate::LABEL_JOBS,
            data.clone(),
            clock.clone(),
            Arc::new(MemoryPublisher::default()),
        ));
        let shipment_queue = Arc::new(crate::LocalQueue::new(
            crate::SHIPMENT_EVENTS,
            data.clone(),
            clock.clone(),
            Arc::new(MemoryPublisher::default()),
        ));
        let export_queue = Arc::new(crate::LocalQueue::new(
            crate::EXPORT_JOBS,
            data.clone(),
            clock.clone(),
            Arc::new(MemoryPublisher::default()),
        ));
        // Export links point at the local host; `RC_URL` (or the default address) until the
        // host, once listening, sets its own.
        let export_files = rc_exports::LocalExportFiles::open(
            &data_dir.join("exports"),
            std::env::var("RC_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
            clock.clone(),
        )
        .map_err(|e| VaultError::RootKeyFile {
            path: data_dir.join("exports").display().to_string(),
            problem: e.to_string(),
        })?;
        let mut services = Self::assemble(data, keys, root, clock, queue.clone())
            .with_label_jobs(label_queue.clone())
            .with_shipment_events(shipment_queue.clone())
            .with_export_jobs(export_queue.clone())
            .with_label_store(Arc::new(FileLabelStore::new(data_dir.to_path_buf())))
            .with_export_files(Arc::new(export_files));
        services.published = Some(published);
        services.local_queue = Some(queue);
        services.local_label_queue = Some(label_queue);
        services.local_shipment_queue = Some(shipment_queue);
        services.local_export_queue = Some(export_queue);
        Ok(services)
    }
}

/// The data directory holds the root key and every sealed value: owner-only, like `~/.ssh`. An
/// existing directory open to others is tightened to 0700 (and said so).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                directory = %dir.display(),
                "data directory was open to other users (mode {:o}); tightened to 700",
                mode & 0o777
            );
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

impl Services {
    /// The merchant API handler over these services, pushing stock changes to the channels
    /// through `channels`.
    /// The dashboard's users (sign-in, roles).
    pub fn dashboard_users(&self) -> Arc<rc_dashboard::UserRepository> {
        Arc::new(rc_dashboard::UserRepository::new(
            self.data.clone(),
            self.vault.clone(),
            self.clock.clone(),
        ))
    }

    /// The merchant dashboard, acting through `api`.
    pub fn dashboard(&self, api: Arc<rc_api::MerchantApi>) -> rc_dashboard::Dashboard {
        rc_dashboard::Dashboard::new(
            api,
            self.dashboard_users(),
            Arc::new(rc_dashboard::SessionRepository::new(
                self.data.clone(),
                self.clock.clone(),
            )),
            Arc::new(rc_dashboard::SignInThrottle::new(
                self.data.clone(),
                self.clock.clone(),
            )),
            self.audit.clone(),
            self.vault.clone(),
        )
    }

    pub fn merchant_api(&self, channels: &crate::ChannelClients) -> rc_api::MerchantApi {
        self.merchant_api_with(Arc::new(self.inventory_sync(channels)), channels)
    }

    /// The merchant API handler, pushing stock changes through `sync`.
    pub fn merchant_api_with(
        &self,
        sync: Arc<rc_jobs::InventorySync>,
        channels: &crate::ChannelClients,
    ) -> rc_api::MerchantApi {
        rc_api::MerchantApi::new(
            self.orders.clone(),
            rc_api::AccountApi {
                merchants: self.merchants.clone(),
                api_keys: self.api_keys.clone(),
                connections: self.connections.clone(),
            },
            rc_api::PrivacyApi {
                requests: self.privacy_requests.clone(),
                receipts: self.receipts.clone(),
                cancellation: self.cancellation.clone(),
                audit: self.audit.clone(),
            },
            rc_api::InventoryApi {
                stock: self.stock.clone(),
                listings: self.listings.clone(),
                connections: self.connections.clone(),
                sync,
                backorders: Arc::new(rc_jobs::Backorders::new(
                    self.orders.clone(),
                    self.reservations.clone(),
                    self.planner.clone(),
                )),
                warehouses: self.warehouses.clone(),
                routing: self.routing.clone(),
                reservations: self.reservations.clone(),
            },
            rc_api::FulfillmentApi {
                orders: self.orders.clone(),
                shipments: self.shipments.clone(),
                accounts: self.courier_accounts.clone(),
                planner: self.planner.clone(),
                stock: self.stock.clone(),
                labels: self.label_generator(channels).map(Arc::new),
                settings: self.fulfillment_settings.clone(),
                outside: Arc::new(self.outside_shipments()),
                events: self.shipment_events.clone(),
            },
            rc_api::TaxApi {
                classes: self.tax_classes.clone(),
                settings: self.tax_settings.clone(),
                recorder: self.tax.clone(),
                reporter: self.tax_reporter.clone(),
            },
        )
        .with_exports_if(self.export_api())
        .with_connect(rc_api::ConnectApi {
            states: self.connect_states.clone(),
            connections: self.connections.clone(),
            shopify: channels.shopify(),
            amazon: channels.amazon(),
            audit: self.audit.clone(),
            seller_central_base: channels.seller_central_base(),
        })
    }

    /// The export routes (where storage is configured).
    pub fn export_api(&self) -> Option<rc_api::ExportApi> {
        Some(rc_api::ExportApi {
            exports: self.exports.clone(),
            files: self.export_files.clone()?,
            deletion: self.export_deletion()?,
            jobs: self.export_jobs.clone(),
            sources: self.export_sources(),
            cancellation: self.cancellation.clone(),
            audit: self.audit.clone(),
            clock: self.clock.clone(),
        })
    }

    /// "Shipped outside RetailCoder" over these services.
    pub fn outside_shipments(&self) -> rc_fulfillment::OutsideShipments {
        rc_fulfillment::OutsideShipments::new(
            self.shipments.clone(),
            self.orders.clone(),
            self.shipment_events.clone(),
        )
    }

    /// The courier tracking webhook receiver over these services.
    pub fn courier_webhook(&self) -> rc_api::CourierWebhook {
        rc_api::CourierWebhook::new(
            self.courier_accounts.clone(),
            rc_fulfillment::TrackingRecorder::new(self.shipments.clone()),
            self.shipment_events.clone(),
        )
    }

    /// The fulfillment worker (stock at pickup, returns, the order's status and PII clock,
    /// confirmations) over these services, confirming through `channels`.
    pub fn shipment_settler(
        &self,
        channels: &crate::ChannelClients,
    ) -> rc_fulfillment::ShipmentSettler {
        let amazon = channels.amazon();
        let confirmer = rc_fulfillment::Confirmer::new(
            self.connections.clone(),
            self.stock.clone(),
            self.fulfillment_settings.clone(),
            rc_fulfillment::Marketplaces {
                amazon: amazon.clone(),
                amazon_orders: amazon,
                shopify: channels.shopify(),
            },
        );
        rc_fulfillment::ShipmentSettler::new(
            self.shipments.clone(),
            self.orders.clone(),
            self.reservations.clone(),
            self.stock.clone(),
            Arc::new(confirmer),
        )
    }

    /// The fulfillment worker: the settler, then pushes of the stock it moved through `sync`.
    pub fn fulfillment_worker(
        &self,
        channels: &crate::ChannelClients,
        sync: Arc<rc_jobs::InventorySync>,
    ) -> rc_jobs::FulfillmentWorker {
        rc_jobs::FulfillmentWorker::new(Arc::new(self.shipment_settler(channels)), sync)
    }

    /// The scheduled tracking poller over these services.
    pub fn tracking_poller(
        &self,
        channels: &crate::ChannelClients,
    ) -> rc_fulfillment::TrackingPoller {
        rc_fulfillment::TrackingPoller::new(
            self.shipments.clone(),
            self.courier_accounts.clone(),
            self.fulfillment_settings.clone(),
            self.connections.clone(),
            channels.couriers(),
            self.shipment_events.clone(),
        )
    }

    /// The Amazon notification consumer over these services.
    pub fn amazon_notifications(
        &self,
        channels: &crate::ChannelClients,
    ) -> rc_jobs::AmazonNotifications {
        rc_jobs::AmazonNotifications::new(
            self.orders.clone(),
            self.connections.clone(),
            channels.amazon(),
        )
    }

    /// The reconciliation job over these services.
    pub fn reconciler(&self, channels: &crate::ChannelClients) -> rc_jobs::Reconciler {
        rc_jobs::Reconciler::new(
            self.orders.clone(),
            self.outbox.clone(),
            self.connections.clone(),
            channels.amazon(),
            channels.shopify(),
            self.clock.clone(),
        )
        .with_subscriptions(channels.amazon())
    }

    /// Pushing available-to-sell quantities to the channels.
    pub fn inventory_sync(&self, channels: &crate::ChannelClients) -> rc_jobs::InventorySync {
        rc_jobs::InventorySync::new(
            self.stock.clone(),
            self.listings.clone(),
            self.connections.clone(),
            channels.shopify(),
            channels.amazon(),
        )
    }

    /// The order processor (reservations, then pushes) over these services.
    pub fn order_processor(&self, sync: Arc<rc_jobs::InventorySync>) -> rc_jobs::OrderProcessor {
        rc_jobs::OrderProcessor::new(
            self.orders.clone(),
            self.reservations.clone(),
            sync,
            self.planner.clone(),
            self.tax.clone(),
        )
    }

    /// Lists (and unless `dry_run`, sends back) up to `max` dead-lettered order events: from the
    /// SQS dead-letter queue on AWS (`RC_ORDER_EVENTS_DLQ_URL` → `RC_ORDER_EVENTS_QUEUE_URL`),
    /// from the embedded queue's dead letters locally.
    pub async fn redrive_order_events(
        &self,
        config: Option<&AwsConfig>,
        max: usize,
        dry_run: bool,
    ) -> Result<Vec<rc_queue::DeadLetter>, String> {
        if let Some(queue) = &self.local_queue {
            let dead = queue.dead_letters(max).await.map_err(|e| e.to_string())?;
            if !dry_run {
                queue.redrive(&dead).await.map_err(|e| e.to_string())?;
            }
            return Ok(dead
                .into_iter()
                .map(|m| rc_queue::DeadLetter {
                    event: serde_json::from_str(&m.body).ok(),
                    message_id: m.id,
                    receives: crate::MAX_RECEIVES as u32,
                    redriven: !dry_run,
                })
                .collect());
        }
        let config = config.ok_or("no queue is configured")?;
        let (Some(queue), Some(dead_letters)) = (
            config.order_events_queue_url.as_deref(),
            config.order_events_dead_letters_url.as_deref(),
        ) else {
            return Err(
                "RC_ORDER_EVENTS_QUEUE_URL and RC_ORDER_EVENTS_DLQ_URL must both be set".into(),
            );
        };
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        rc_queue::redrive_dead_letters(
            &aws_sdk_sqs::Client::new(&sdk),
            dead_letters,
            queue,
            max,
            dry_run,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// The Shopify webhook handler over these services.
    pub fn shopify_webhook(&self) -> rc_api::ShopifyWebhook {
        rc_api::ShopifyWebhook::new(
            self.orders.clone(),
            self.connections.clone(),
            self.privacy_requests.clone(),
            self.audit.clone(),
        )
    }
}
