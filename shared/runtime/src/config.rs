//! Configuration, read only from environment variables that `template.yaml` sets.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} must be an https:// URL (http:// only on this machine)")]
    Insecure(&'static str),
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
    /// `RC_ORDER_EVENTS_DLQ_URL`: the order events' dead-letter queue (only `rc-ops
    /// redrive-order-events` reads it).
    pub order_events_dead_letters_url: Option<String>,
    /// `RC_LABEL_JOBS_QUEUE_URL`: where label jobs (ids only) go; functions that plan shipments
    /// (the order processor, the merchant API) need it, others leave it unset.
    pub label_jobs_queue_url: Option<String>,
    /// `RC_LABELS_BUCKET`: the bucket of sealed label documents (label generator, merchant API).
    pub labels_bucket: Option<String>,
    /// `RC_SHIPMENT_EVENTS_QUEUE_URL`: where shipment events (ids only) go — the courier
    /// webhook, the tracking poller and the merchant API send; the fulfillment worker reads.
    pub shipment_events_queue_url: Option<String>,
    /// `RC_EXPORTS_BUCKET`: the bucket of export files (merchant API, export worker, purger).
    pub exports_bucket: Option<String>,
    /// `RC_EXPORT_JOBS_QUEUE_URL`: where export jobs (ids only) go (the merchant API; the export
    /// worker sends a job back to itself to continue).
    pub export_jobs_queue_url: Option<String>,
}

impl AwsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            data_table: required("RC_DATA_TABLE")?,
            keys_table: required("RC_KEYS_TABLE")?,
            kms_key_id: required("RC_KMS_KEY_ID")?,
            order_events_queue_url: required("RC_ORDER_EVENTS_QUEUE_URL").ok(),
            order_events_dead_letters_url: required("RC_ORDER_EVENTS_DLQ_URL").ok(),
            label_jobs_queue_url: required("RC_LABEL_JOBS_QUEUE_URL").ok(),
            shipment_events_queue_url: required("RC_SHIPMENT_EVENTS_QUEUE_URL").ok(),
            labels_bucket: required("RC_LABELS_BUCKET").ok(),
            exports_bucket: required("RC_EXPORTS_BUCKET").ok(),
            export_jobs_queue_url: required("RC_EXPORT_JOBS_QUEUE_URL").ok(),
        })
    }
}

/// SP-API and LWA endpoints. Each connection's calls go to its region's endpoint: Amazon's
/// North America, Europe and Far East endpoints by default; `RC_SPAPI_ENDPOINT_NA`, `_EU` and
/// `_FE` replace one region's, `RC_SPAPI_ENDPOINT` every region's (a sandbox); `RC_LWA_ENDPOINT`
/// the token endpoint. Anything but `https://` (or `http://` on this machine) is refused.
pub fn sp_api_endpoints() -> Result<rc_channels::amazon::Endpoints, ConfigError> {
    sp_api_endpoints_from(|name| std::env::var(name).ok())
}

/// [`sp_api_endpoints`] from any source of variables (tests pass a table).
pub fn sp_api_endpoints_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<rc_channels::amazon::Endpoints, ConfigError> {
    let var = |name: &'static str| -> Result<Option<String>, ConfigError> {
        match lookup(name).filter(|v| !v.trim().is_empty()) {
            Some(url) if !rc_channels::endpoint_allowed(&url) => Err(ConfigError::Insecure(name)),
            other => Ok(other),
        }
    };
    let mut endpoints = match var("RC_SPAPI_ENDPOINT")? {
        Some(all) => rc_channels::amazon::Endpoints::all_at(
            all,
            rc_channels::amazon::Endpoints::default().lwa,
        ),
        None => rc_channels::amazon::Endpoints::default(),
    };
    if let Some(url) = var("RC_SPAPI_ENDPOINT_NA")? {
        endpoints.north_america = url;
    }
    if let Some(url) = var("RC_SPAPI_ENDPOINT_EU")? {
        endpoints.europe = url;
    }
    if let Some(url) = var("RC_SPAPI_ENDPOINT_FE")? {
        endpoints.far_east = url;
    }
    if let Some(url) = var("RC_LWA_ENDPOINT")? {
        endpoints.lwa = url;
    }
    Ok(endpoints)
}

/// `RC_EASYPOST_API` (EasyPost's API by default), `RC_SHIPROCKET_API` (Shiprocket's by default)
/// and `RC_SANDBOX_COURIER_BASE` (the local host's sandbox courier; unset in AWS, where the
/// sandbox kind is refused).
pub fn courier_endpoints() -> Result<(String, String, Option<String>), ConfigError> {
    let var = |name: &'static str| -> Result<Option<String>, ConfigError> {
        match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
            Some(url) if !rc_channels::endpoint_allowed(&url) => Err(ConfigError::Insecure(name)),
            other => Ok(other),
        }
    };
    Ok((
        var("RC_EASYPOST_API")?.unwrap_or_else(|| rc_couriers::EASYPOST_API.to_owned()),
        var("RC_SHIPROCKET_API")?.unwrap_or_else(|| rc_couriers::SHIPROCKET_API.to_owned()),
        var("RC_SANDBOX_COURIER_BASE")?,
    ))
}

/// `RC_SHOPIFY_ADMIN_BASE`: replaces `https://{shop}` for Admin API calls (a sandbox); unset in AWS.
pub fn shopify_admin_base() -> Result<Option<String>, ConfigError> {
    match std::env::var("RC_SHOPIFY_ADMIN_BASE")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(url) if !rc_channels::endpoint_allowed(&url) => {
            Err(ConfigError::Insecure("RC_SHOPIFY_ADMIN_BASE"))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(vars: &[(&str, &str)]) -> Result<rc_channels::amazon::Endpoints, ConfigError> {
        sp_api_endpoints_from(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn each_region_has_its_endpoint_and_plain_http_only_on_this_machine() {
        let defaults = endpoints(&[]).expect("defaults");
        use rc_channels::amazon::Region;
        assert_eq!(
            defaults.sp_api(Region::Europe),
            "https://sellingpartnerapi-eu.amazon.com"
        );
        assert_eq!(
            defaults.sp_api(Region::FarEast),
            "https://sellingpartnerapi-fe.amazon.com"
        );
        assert_eq!(
            defaults.sp_api(Region::NorthAmerica),
            "https://sellingpartnerapi-na.amazon.com"
        );
        let eu = endpoints(&[("RC_SPAPI_ENDPOINT_EU", "https://eu.example")]).expect("eu");
        assert_eq!(eu.sp_api(Region::Europe), "https://eu.example");
        assert_eq!(
            eu.sp_api(Region::NorthAmerica),
            "https://sellingpartnerapi-na.amazon.com"
        );
        let sandbox = endpoints(&[("RC_SPAPI_ENDPOINT", "http://127.0.0.1:8080/sandbox/amazon")])
            .expect("sandbox");
        assert_eq!(
            sandbox.sp_api(Region::FarEast),
            "http://127.0.0.1:8080/sandbox/amazon"
        );
        for name in [
            "RC_SPAPI_ENDPOINT",
            "RC_SPAPI_ENDPOINT_EU",
            "RC_LWA_ENDPOINT",
        ] {
            assert!(matches!(
                endpoints(&[(name, "http://sellingpartnerapi-eu.amazon.com")]),
                Err(ConfigError::Insecure(_))
            ));
        }
    }
}
