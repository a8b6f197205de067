//! Configuration, read only from environment variables that `template.yaml` sets.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// What a function needs to reach its AWS resources. Endpoints and credentials come from the
/// default `aws-config` chain (so `AWS_ENDPOINT_URL` points everything at local stand-ins).
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// `RC_DATA_TABLE`: orders, connections, API keys, delivery marks.
    pub data_table: String,
    /// `RC_KEYS_TABLE`: wrapped merchant and data keys (no backups).
    pub keys_table: String,
    /// `RC_KMS_KEY_ID`: the root key (id, ARN or alias).
    pub kms_key_id: String,
    /// `RC_ORDER_EVENTS_QUEUE_URL`: where order events (ids only) go. Functions that never change
    /// orders leave it unset; if a function that does lacks it, events wait in the outbox.
    pub order_events_queue_url: Option<String>,
}

impl AwsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            data_table: required("RC_DATA_TABLE")?,
            keys_table: required("RC_KEYS_TABLE")?,
            kms_key_id: required("RC_KMS_KEY_ID")?,
            order_events_queue_url: required("RC_ORDER_EVENTS_QUEUE_URL").ok(),
        })
    }
}

/// SP-API and LWA endpoints: `RC_SPAPI_ENDPOINT` and `RC_LWA_ENDPOINT`, defaulting to Amazon's
/// North America endpoints (set them for Europe or the Far East, or for a sandbox).
pub fn sp_api_endpoints() -> rc_channels::amazon::Endpoints {
    let defaults = rc_channels::amazon::Endpoints::default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    rc_channels::amazon::Endpoints {
        sp_api: var("RC_SPAPI_ENDPOINT").unwrap_or(defaults.sp_api),
        lwa: var("RC_LWA_ENDPOINT").unwrap_or(defaults.lwa),
    }
}

/// `RC_SHOPIFY_ADMIN_BASE`: replaces `https://{shop}` for Admin API calls (a sandbox); unset in AWS.
pub fn shopify_admin_base() -> Option<String> {
    std::env::var("RC_SHOPIFY_ADMIN_BASE")
        .ok()
        .filter(|v| !v.trim().is_empty())
}
