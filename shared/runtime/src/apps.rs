//! Our marketplace apps' credentials, from configuration: public values (client ids, the
//! public URL, the notifications queue) from the environment, secret values from one AWS
//! Secrets Manager secret (`RC_APP_SECRETS_ARN`), read at start — never a plain environment
//! variable or template parameter in AWS.
//!
//! | variable | holds |
//! | --- | --- |
//! | `RC_PUBLIC_BASE_URL` | the merchant API's public URL (OAuth redirects, webhook address) |
//! | `RC_SHOPIFY_CLIENT_ID` | the Shopify app's client id |
//! | `RC_SHOPIFY_SCOPES` | access scopes asked for (default [`DEFAULT_SHOPIFY_SCOPES`]) |
//! | `RC_AMAZON_APPLICATION_ID` | the SP-API application id (`amzn1.sp.solution.…`) |
//! | `RC_AMAZON_LWA_CLIENT_ID` | the application's LWA client id |
//! | `RC_AMAZON_APP_DRAFT` | `true` while the application is a draft (`version=beta`) |
//! | `RC_AMAZON_NOTIFICATIONS_QUEUE_ARN` | the SQS queue ORDER_CHANGE notifications go to |
//! | `RC_APP_SECRETS_ARN` | the secret: `{"shopify_client_secret", "shopify_client_secret_previous", "lwa_client_secret"}` |
//!
//! An app is configured when its ids and its secret are all there; otherwise its connect flow
//! answers 503 `app_not_configured`.

use std::sync::Arc;

use rc_domain::{AmazonApp, AppCredentials, Secret, SecretText, ShopifyApp};
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What a shop is asked to grant: orders (webhooks, reconciliation), inventory (pushes) and
/// the merchant-managed fulfillment orders (confirming shipments).
pub const DEFAULT_SHOPIFY_SCOPES: &str = "read_orders,write_inventory,read_locations,\
write_merchant_managed_fulfillment_orders,write_assigned_fulfillment_orders";

/// The secret's JSON. Zeroized when dropped.
#[derive(Deserialize, Default, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct AppSecrets {
    #[serde(default)]
    pub shopify_client_secret: Option<String>,
    #[serde(default)]
    pub shopify_client_secret_previous: Option<String>,
    #[serde(default)]
    pub lwa_client_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("the app secret {0} cannot be read")]
    Unreadable(String),
    #[error("the app secret is not the documented JSON object")]
    Malformed,
    #[error("{0} must be an https:// URL (http:// only on this machine)")]
    Insecure(&'static str),
}

fn secret(raw: Option<&String>) -> Option<Secret<SecretText>> {
    raw.and_then(|s| SecretText::parse(s).ok()).map(Secret::new)
}

/// The apps from public values (`env`) and secret values.
pub fn apps_from(
    env: impl Fn(&str) -> Option<String>,
    secrets: &AppSecrets,
) -> Result<AppCredentials, AppsError> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let public_base_url = var("RC_PUBLIC_BASE_URL");
    if let Some(url) = &public_base_url
        && !(url.starts_with("https://") || rc_channels::is_loopback(url))
    {
        return Err(AppsError::Insecure("RC_PUBLIC_BASE_URL"));
    }
    let shopify = match (
        var("RC_SHOPIFY_CLIENT_ID"),
        secret(secrets.shopify_client_secret.as_ref()),
    ) {
        (Some(client_id), Some(client_secret)) => Some(Arc::new(ShopifyApp {
            client_id,
            client_secret,
            previous_client_secret: secret(secrets.shopify_client_secret_previous.as_ref()),
            scopes: var("RC_SHOPIFY_SCOPES").unwrap_or_else(|| DEFAULT_SHOPIFY_SCOPES.into()),
        })),
        _ => None,
    };
    let amazon = match (
        var("RC_AMAZON_APPLICATION_ID"),
        var("RC_AMAZON_LWA_CLIENT_ID"),
        secret(secrets.lwa_client_secret.as_ref()),
    ) {
        (Some(application_id), Some(client_id), Some(client_secret)) => Some(Arc::new(AmazonApp {
            application_id,
            client_id,
            client_secret,
            draft: var("RC_AMAZON_APP_DRAFT").is_some_and(|v| v == "true"),
            notifications_queue_arn: var("RC_AMAZON_NOTIFICATIONS_QUEUE_ARN"),
        })),
        _ => None,
    };
    Ok(AppCredentials {
        shopify,
        amazon,
        public_base_url,
    })
}

/// The apps as the environment configures them, their secret read from Secrets Manager when
/// `RC_APP_SECRETS_ARN` is set (none configured otherwise).
pub async fn load_apps(sdk: &aws_config::SdkConfig) -> Result<AppCredentials, AppsError> {
    load_apps_with(sdk, |name| std::env::var(name).ok()).await
}

/// [`load_apps`] with the variables `env` gives.
pub async fn load_apps_with(
    sdk: &aws_config::SdkConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AppCredentials, AppsError> {
    let Some(arn) = env("RC_APP_SECRETS_ARN").filter(|a| !a.is_empty()) else {
        return apps_from(env, &AppSecrets::default());
    };
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let answer = client
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .map_err(|e| {
            // The SDK's error names the failure (access denied, not found), never the value.
            AppsError::Unreadable(format!(
                "{arn}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))
        })?;
    let text = answer.secret_string().ok_or(AppsError::Malformed)?;
    let secrets: AppSecrets = serde_json::from_str(text).map_err(|_| AppsError::Malformed)?;
    apps_from(env, &secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn an_app_is_configured_only_with_its_ids_and_its_secret() {
        let mut secrets = AppSecrets::default();
        secrets.shopify_client_secret = Some("shpss_x".into());
        let apps = apps_from(
            env(&[
                ("RC_SHOPIFY_CLIENT_ID", "abc"),
                ("RC_AMAZON_APPLICATION_ID", "amzn1.sp.solution.x"),
                ("RC_PUBLIC_BASE_URL", "https://api.example.com"),
            ]),
            &secrets,
        )
        .expect("apps");
        let shopify = apps.shopify.expect("shopify configured");
        assert_eq!(shopify.scopes, DEFAULT_SHOPIFY_SCOPES);
        assert!(apps.amazon.is_none(), "no LWA client id nor secret");
        assert!(matches!(
            apps_from(
                env(&[("RC_PUBLIC_BASE_URL", "http://api.example.com")]),
                &secrets
            ),
            Err(AppsError::Insecure(_))
        ));
    }

    #[test]
    fn the_secret_is_the_documented_object_and_nothing_else() {
        assert!(
            serde_json::from_str::<AppSecrets>(r#"{"lwa_client_secret": "x"}"#).is_ok(),
            "one app alone"
        );
        assert!(serde_json::from_str::<AppSecrets>(r#"{"lwa_secret": "x"}"#).is_err());
    }
}
