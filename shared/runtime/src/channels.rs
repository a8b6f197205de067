//! The channel clients, built once per process (Lambda: at cold start) and shared by every job
//! and handler that needs them: one HTTP connection pool, one token cache and one set of rate
//! limiters per API, whatever uses it. Each is built on first use, so a function that never
//! talks to Shopify never builds (or loads trust roots for) a Shopify client.

use std::sync::{Arc, OnceLock};

use rc_channels::amazon::{Endpoints, SpApiClient};
use rc_channels::shopify::ShopifyAdmin;

use crate::ConfigError;

#[derive(Clone)]
pub struct ChannelClients {
    endpoints: Endpoints,
    amazon_retry: rc_channels::amazon::RetryPolicy,
    shopify_admin_base: Option<String>,
    amazon: Arc<OnceLock<Arc<SpApiClient>>>,
    shopify: Arc<OnceLock<Arc<ShopifyAdmin>>>,
    /// EasyPost's API, and the sandbox courier's (local host only).
    easypost_base: String,
    shiprocket_base: String,
    sandbox_courier_base: Option<String>,
    couriers: Arc<OnceLock<rc_fulfillment::Couriers>>,
    /// Seller Central in a sandbox (`RC_SELLER_CENTRAL_BASE`); each marketplace's own otherwise.
    seller_central_base: Option<String>,
}

impl ChannelClients {
    pub fn new(endpoints: Endpoints, shopify_admin_base: Option<String>) -> Self {
        Self {
            endpoints,
            amazon_retry: rc_channels::amazon::RetryPolicy::default(),
            shopify_admin_base,
            amazon: Arc::default(),
            shopify: Arc::default(),
            easypost_base: rc_couriers::EASYPOST_API.to_owned(),
            shiprocket_base: rc_couriers::SHIPROCKET_API.to_owned(),
            sandbox_courier_base: None,
            couriers: Arc::default(),
            seller_central_base: None,
        }
    }

    /// The same, sending sellers to this Seller Central (a sandbox's consent page).
    pub fn with_seller_central(mut self, base: Option<String>) -> Self {
        self.seller_central_base = base;
        self
    }

    /// Where sellers authorize our app, if not each marketplace's own Seller Central.
    pub fn seller_central_base(&self) -> Option<String> {
        self.seller_central_base.clone()
    }

    /// The same, with couriers at these bases (tests' stand-ins, the local sandbox courier).
    pub fn with_couriers(mut self, easypost: String, sandbox: Option<String>) -> Self {
        self.easypost_base = easypost;
        self.sandbox_courier_base = sandbox;
        self.couriers = Arc::default();
        self
    }

    /// The same, retrying SP-API calls as `retry` says (tests: a short backoff).
    pub fn with_amazon_retry(mut self, retry: rc_channels::amazon::RetryPolicy) -> Self {
        self.amazon_retry = retry;
        self.amazon = Arc::default();
        self.couriers = Arc::default();
        self
    }

    /// The same, with Shiprocket at `base` (a test's stand-in).
    pub fn with_shiprocket(mut self, base: String) -> Self {
        self.shiprocket_base = base;
        self.couriers = Arc::default();
        self
    }

    /// The courier clients (EasyPost; the sandbox courier where configured).
    pub fn couriers(&self) -> rc_fulfillment::Couriers {
        self.couriers
            .get_or_init(|| rc_fulfillment::Couriers {
                easypost: Arc::new(rc_couriers::EasyPost::new(self.easypost_base.clone())),
                shiprocket: Arc::new(rc_couriers::Shiprocket::new(self.shiprocket_base.clone())),
                amazon_shipping: Arc::new(rc_couriers::AmazonShipping::new(self.amazon())),
                sandbox: self.sandbox_courier_base.clone().map(|base| {
                    Arc::new(rc_couriers::EasyPost::new(base))
                        as Arc<dyn rc_couriers::LabelPurchaser>
                }),
            })
            .clone()
    }

    /// At the endpoints the environment configures (`RC_SPAPI_ENDPOINT*`, `RC_LWA_ENDPOINT`,
    /// `RC_SHOPIFY_ADMIN_BASE`), Amazon's and the shops' own by default.
    pub fn from_env() -> Result<Self, ConfigError> {
        let (easypost, shiprocket, sandbox) = crate::config::courier_endpoints()?;
        Ok(
            Self::new(crate::sp_api_endpoints()?, crate::shopify_admin_base()?)
                .with_couriers(easypost, sandbox)
                .with_shiprocket(shiprocket)
                .with_seller_central(std::env::var("RC_SELLER_CENTRAL_BASE").ok()),
        )
    }

    /// The Selling Partner API (orders, listings, feeds) and Login with Amazon.
    pub fn amazon(&self) -> Arc<SpApiClient> {
        Arc::clone(self.amazon.get_or_init(|| {
            Arc::new(SpApiClient::with_retry(
                self.endpoints.clone(),
                self.amazon_retry,
            ))
        }))
    }

    /// Shopify's Admin API (orders, inventory).
    pub fn shopify(&self) -> Arc<ShopifyAdmin> {
        Arc::clone(
            self.shopify
                .get_or_init(|| Arc::new(ShopifyAdmin::new(self.shopify_admin_base.clone()))),
        )
    }
}
