//! A whole system (services, handlers) on a manual clock, over the embedded store or over
//! DynamoDB + KMS in moto, with what a privacy test needs: ingesting canary orders, taking a
//! "backup" of the data store, and opening PII from a backup with the live keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use rc_channels::shopify::ShopDomain;
use rc_domain::{ManualClock, MerchantId, OrderId, RevealPurpose, Secret, SecretText};
use rc_orders::{ApiKey, OrderRepository, Outbox, RepoError, Scope, ShopifyCredentials};
use rc_queue::MemoryPublisher;
use rc_runtime::Services;
use rc_store::Store;
use rc_store::dynamo::{DynamoStore, TableShape, create_table};
use rc_store::sqlite::{EmbeddedDb, SqliteStore};
use rc_vault::{FileRoot, KmsRoot, RootKey, Vault, VaultError};

pub const MERCHANT: &str = "privacy-merchant";
pub const SHOP: &str = "privacy-shop.myshopify.com";
pub const SECRET: &str = "privacy-webhook-secret";
pub const API_KEY: &str = "rck_privacy_test_key";
/// A second key of the merchant's, with the `pii:read` scope (the data-request report).
pub const PII_KEY: &str = "rck_privacy_test_pii_reader";
/// The Shopify customer id of the fixture order's buyer.
pub const CUSTOMER_ID: u64 = 115310627314723954;

static STACKS: AtomicU32 = AtomicU32::new(0);

pub enum Backend {
    Embedded {
        dir: tempfile::TempDir,
    },
    Moto {
        dynamodb: aws_sdk_dynamodb::Client,
        data_table: String,
        keys_table: String,
        kms_key: String,
        keys: Arc<dyn Store>,
        root: Arc<dyn RootKey>,
    },
}

pub struct Stack {
    pub services: Services,
    /// The channel and courier clients the merchant API calls through.
    pub channels: rc_runtime::ChannelClients,
    pub clock: Arc<ManualClock>,
    pub backend: Backend,
    pub published: Arc<MemoryPublisher>,
    /// On moto: this test's turn at it (see [`super::moto_turn`]), held while the stack lives.
    _moto_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

pub fn merchant() -> MerchantId {
    MerchantId::parse(MERCHANT).expect("merchant")
}

pub fn start_time() -> time::OffsetDateTime {
    // Just after the fixture order was placed (2026-11-21T00:00Z).
    time::macros::datetime!(2026-11-25 00:00 UTC)
}

async fn connect(services: &Services) {
    services
        .connections
        .put_shopify(
            &merchant(),
            &ShopDomain::parse(SHOP).expect("shop"),
            &ShopifyCredentials::webhook_only(Secret::new(
                SecretText::parse(SECRET).expect("secret"),
            )),
        )
        .await
        .expect("connect");
    services
        .api_keys
        .register(
            &merchant(),
            &ApiKey(Secret::new(SecretText::parse(API_KEY).expect("key"))),
        )
        .await
        .expect("api key");
    services
        .api_keys
        .register_with(
            &merchant(),
            &ApiKey(Secret::new(SecretText::parse(PII_KEY).expect("key"))),
            &[Scope::PiiRead],
        )
        .await
        .expect("pii key");
}

pub async fn embedded() -> Stack {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::at(start_time()));
    let mut services = Services::embedded(dir.path(), clock.clone()).expect("services");
    let published = services.published.take().expect("memory queue");
    connect(&services).await;
    Stack {
        services,
        channels: rc_runtime::ChannelClients::from_env().expect("channels"),
        clock,
        backend: Backend::Embedded { dir },
        published,
        _moto_turn: None,
    }
}

pub async fn moto() -> Stack {
    let turn = super::moto_turn().await;
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the README's test command"
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let n = format!(
        "{}-{}",
        std::process::id(),
        STACKS.fetch_add(1, Ordering::Relaxed)
    );
    let (data_table, keys_table) = (format!("rc-pdata-{n}"), format!("rc-pkeys-{n}"));
    create_table(&dynamodb, &data_table, TableShape::Data)
        .await
        .expect("data table");
    create_table(&dynamodb, &keys_table, TableShape::Keys)
        .await
        .expect("keys table");
    let key_id = kms
        .create_key()
        .send()
        .await
        .expect("kms key")
        .key_metadata
        .expect("metadata")
        .key_id;
    let clock = Arc::new(ManualClock::at(start_time()));
    let data: Arc<dyn Store> = Arc::new(DynamoStore::new(
        dynamodb.clone(),
        &data_table,
        clock.clone(),
    ));
    let keys: Arc<dyn Store> = Arc::new(DynamoStore::new(
        dynamodb.clone(),
        &keys_table,
        clock.clone(),
    ));
    let root: Arc<dyn RootKey> = Arc::new(KmsRoot::new(kms, key_id.clone()));
    let published = Arc::new(MemoryPublisher::default());
    let services = Services::assemble(
        data,
        keys.clone(),
        root.clone(),
        clock.clone(),
        published.clone(),
    );
    connect(&services).await;
    Stack {
        services,
        channels: rc_runtime::ChannelClients::from_env().expect("channels"),
        clock,
        backend: Backend::Moto {
            dynamodb,
            data_table,
            keys_table,
            kms_key: key_id,
            keys,
            root,
        },
        published,
        _moto_turn: Some(turn),
    }
}

/// A Shopify order whose buyer is the canary, with an email unique to the order.
pub fn unique_canary_order(id: u64) -> (Vec<u8>, String) {
    let email = format!("qanary.{id}.zq@canary.example");
    let mut order: serde_json::Value =
        serde_json::from_slice(&super::canary_order(id)).expect("order");
    for field in ["email", "contact_email"] {
        order[field] = serde_json::json!(email);
    }
    order["customer"]["email"] = serde_json::json!(email);
    (serde_json::to_vec(&order).expect("encode"), email)
}

pub fn order_id(id: u64) -> OrderId {
    OrderId::parse(&format!("shopify-{id}")).expect("order id")
}

/// Checks a merchant API answer against the OpenAPI document.
pub fn check_answer(method: &str, path: &str, response: &http::Response<Bytes>) {
    super::openapi::check(
        method,
        path,
        response.status().as_u16(),
        response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        response.body(),
    );
}

impl Stack {
    /// Delivers a signed Shopify webhook to the handler; the response status.
    pub async fn webhook(&self, topic: &str, webhook_id: &str, body: Vec<u8>) -> u16 {
        let request = rc_local_host::signed_shopify_request(
            "http://localhost/webhooks/shopify",
            SHOP,
            SECRET,
            topic,
            webhook_id,
            body,
        )
        .expect("request");
        self.services
            .shopify_webhook()
            .handle(request)
            .await
            .status()
            .as_u16()
    }

    /// A merchant API call with the merchant's key: (status, JSON body).
    pub async fn api(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.api_with(method, path, body, &[]).await
    }

    /// [`Self::api`] with extra headers.
    pub async fn api_with(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        self.api_as(API_KEY, method, path, body, headers).await
    }

    /// [`Self::api_with`] with another key.
    pub async fn api_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"))
            .header("authorization", format!("Bearer {key}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Bytes::from(body.to_owned())).expect("request");
        let response = self
            .services
            .merchant_api(&self.channels)
            .handle(request)
            .await;
        let status = response.status().as_u16();
        check_answer(method, path, &response);
        let json = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// A merchant API call with the merchant's key: (status, content type, body as text).
    pub async fn api_text(&self, method: &str, path: &str) -> (u16, String, String) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"))
            .header("authorization", format!("Bearer {API_KEY}"))
            .body(Bytes::new())
            .expect("request");
        let response = self
            .services
            .merchant_api(&self.channels)
            .handle(request)
            .await;
        check_answer(method, path, &response);
        let kind = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            response.status().as_u16(),
            kind,
            String::from_utf8_lossy(response.body()).into_owned(),
        )
    }

    /// Delivers every order event published so far to the order processor, through this
    /// stack's channels (redelivery is harmless); every one must succeed.
    pub async fn process_order_events(&self) {
        let processor = self
            .services
            .order_processor(Arc::new(self.services.inventory_sync(&self.channels)));
        let messages = self
            .published
            .published()
            .iter()
            .enumerate()
            .map(|(i, e)| rc_jobs::QueueMessage {
                id: format!("m{i}"),
                body: serde_json::to_string(e).expect("event"),
            })
            .collect();
        assert!(processor.handle_batch(messages).await.is_empty());
    }

    /// Ingests a canary order; returns its unique email.
    pub async fn ingest(&self, id: u64) -> String {
        let (body, email) = unique_canary_order(id);
        assert_eq!(
            self.webhook("orders/create", &format!("create-{id}"), body)
                .await,
            200
        );
        email
    }

    /// The raw bytes of every data store file or item: the "backup".
    pub async fn backup(&self) -> Backup {
        match &self.backend {
            Backend::Embedded { dir } => {
                let copy = tempfile::tempdir().expect("tempdir");
                for name in ["retailcoder.db", "retailcoder.db-wal"] {
                    let from = dir.path().join(name);
                    if from.exists() {
                        std::fs::copy(&from, copy.path().join(name)).expect("copy");
                    }
                }
                Backup::Embedded(copy)
            }
            Backend::Moto {
                dynamodb,
                data_table,
                ..
            } => {
                let backup_table = format!("{data_table}-backup");
                create_table(dynamodb, &backup_table, TableShape::Data)
                    .await
                    .expect("backup table");
                for item in scan(dynamodb, data_table).await {
                    dynamodb
                        .put_item()
                        .table_name(&backup_table)
                        .set_item(Some(item))
                        .send()
                        .await
                        .expect("copy item");
                }
                Backup::Moto(backup_table)
            }
        }
    }

    /// Every byte the live data store holds (files, or every attribute of every item of both
    /// tables).
    pub async fn raw_bytes(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Embedded { dir } => super::files_under(dir.path())
                .into_iter()
                .flat_map(|(_, bytes)| bytes)
                .collect(),
            Backend::Moto {
                dynamodb,
                data_table,
                ..
            } => {
                let mut all = Vec::new();
                for item in scan(dynamodb, data_table).await {
                    for value in item.values() {
                        all.extend(attribute_bytes(value));
                    }
                }
                all
            }
        }
    }

    /// A restored backup's data store, with the live key store and root (a DynamoDB
    /// point-in-time restore goes to a new table the stack is then pointed at).
    fn restored_stores(
        &self,
        backup: &Backup,
    ) -> (Arc<dyn Store>, Arc<dyn Store>, Arc<dyn RootKey>) {
        let clock = self.clock.clone();
        match (backup, &self.backend) {
            (Backup::Embedded(copy), Backend::Embedded { dir }) => {
                let db = EmbeddedDb::open(&copy.path().join("retailcoder.db")).expect("backup");
                let key_db = EmbeddedDb::open(&dir.path().join("keys.db")).expect("keys");
                (
                    Arc::new(SqliteStore::new(db, "data", clock.clone())),
                    Arc::new(SqliteStore::new(key_db, "keys", clock)),
                    Arc::new(FileRoot::open_or_create(&dir.path().join("root.key")).expect("root")),
                )
            }
            (
                Backup::Moto(table),
                Backend::Moto {
                    dynamodb,
                    keys,
                    root,
                    ..
                },
            ) => (
                Arc::new(DynamoStore::new(dynamodb.clone(), table, clock)),
                keys.clone(),
                root.clone(),
            ),
            _ => panic!("backup of another backend"),
        }
    }

    /// The whole system over a restored backup of the data store and the live key store.
    pub fn restore(&self, backup: &Backup) -> Services {
        let (data, keys, root) = self.restored_stores(backup);
        Services::assemble(
            data,
            keys,
            root,
            self.clock.clone(),
            Arc::new(MemoryPublisher::default()),
        )
    }

    /// The orders of a backup, opened with the live keys (as a restore would be).
    pub fn restored_orders(&self, backup: &Backup) -> OrderRepository {
        let clock = self.clock.clone();
        let (data, keys, root) = self.restored_stores(backup);
        let vault = Arc::new(Vault::new(root, keys, clock.clone()));
        let outbox = Arc::new(Outbox::new(
            data.clone(),
            Arc::new(MemoryPublisher::default()),
            clock.clone(),
        ));
        OrderRepository::new(data, vault, clock, outbox)
    }
}

pub enum Backup {
    Embedded(tempfile::TempDir),
    Moto(String),
}

/// The buyer's email as a repository can open it: `Ok(Some)` readable, `Ok(None)` no PII item,
/// `Err` a vault or store error (a destroyed key: gone for good).
pub async fn open_email(orders: &OrderRepository, id: u64) -> Result<Option<String>, RepoError> {
    let buyer = orders.buyer(&merchant(), &order_id(id)).await?;
    Ok(buyer.and_then(|b| {
        b.email
            .map(|e| e.reveal(RevealPurpose::Verification).as_str().to_owned())
    }))
}

pub fn is_destroyed(result: &Result<Option<String>, RepoError>) -> bool {
    matches!(result, Err(RepoError::Vault(VaultError::KeyDestroyed)))
}

async fn scan(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

fn attribute_bytes(value: &aws_sdk_dynamodb::types::AttributeValue) -> Vec<u8> {
    use aws_sdk_dynamodb::types::AttributeValue;
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.as_bytes().to_vec(),
        AttributeValue::B(b) => b.as_ref().to_vec(),
        AttributeValue::M(map) => map.values().flat_map(attribute_bytes).collect(),
        AttributeValue::L(list) => list.iter().flat_map(attribute_bytes).collect(),
        _ => Vec::new(),
    }
}
