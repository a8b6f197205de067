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
    shopify_admin_base: Option<String>,
    amazon: Arc<OnceLock<Arc<SpApiClient>>>,
    shopify: Arc<OnceLock<Arc<ShopifyAdmin>>>,
}

impl ChannelClients {
    pub fn new(endpoints: Endpoints, shopify_admin_base: Option<String>) -> Self {
        Self {
            endpoints,
            shopify_admin_base,
            amazon: Arc::default(),
            shopify: Arc::default(),
        }
    }

    /// At the endpoints the environment configures (`RC_SPAPI_ENDPOINT*`, `RC_LWA_ENDPOINT`,
    /// `RC_SHOPIFY_ADMIN_BASE`), Amazon's and the shops' own by default.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::new(
            crate::sp_api_endpoints()?,
            crate::shopify_admin_base()?,
        ))
    }

    /// The Selling Partner API (orders, listings, feeds) and Login with Amazon.
    pub fn amazon(&self) -> Arc<SpApiClient> {
        Arc::clone(
            self.amazon
                .get_or_init(|| Arc::new(SpApiClient::new(self.endpoints.clone()))),
        )
    }

    /// Shopify's Admin API (orders, inventory).
    pub fn shopify(&self) -> Arc<ShopifyAdmin> {
        Arc::clone(
            self.shopify
                .get_or_init(|| Arc::new(ShopifyAdmin::new(self.shopify_admin_base.clone()))),
        )
    }
}
