//! Our own applications on each marketplace: the Shopify app merchants install and the Amazon
//! SP-API application sellers authorize. Their credentials belong to RetailCoder, not to any
//! merchant: they come from the deployment's configuration (in AWS, a Secrets Manager secret
//! read at start), never from a request and never from the data table.

use std::sync::Arc;

use crate::{Secret, SecretText};

/// The Shopify app (a public or custom-distribution app using the authorization code grant).
pub struct ShopifyApp {
    /// The app's client id (Shopify calls it the API key); public.
    pub client_id: String,
    /// The client secret: signs the OAuth callback's query and every webhook of shops that
    /// installed the app.
    pub client_secret: Secret<SecretText>,
    /// The secret being rotated out, still accepted on webhooks until the rotation ends.
    pub previous_client_secret: Option<Secret<SecretText>>,
    /// The access scopes asked for, comma separated, as Shopify's authorize URL takes them.
    pub scopes: String,
}

/// The Amazon SP-API application (the website authorization workflow).
pub struct AmazonApp {
    /// `amzn1.sp.solution.…`: what the consent page is opened for.
    pub application_id: String,
    /// The application's Login with Amazon client (its refresh tokens are bound to it).
    pub client_id: String,
    pub client_secret: Secret<SecretText>,
    /// A draft application is authorized with `version=beta` on the consent URL.
    pub draft: bool,
    /// The SQS queue Amazon delivers notifications to (one destination per region).
    pub notifications_queue_arn: Option<String>,
}

/// Which of our applications this deployment runs, and where it is reached from outside.
#[derive(Clone, Default)]
pub struct AppCredentials {
    pub shopify: Option<Arc<ShopifyApp>>,
    pub amazon: Option<Arc<AmazonApp>>,
    /// The merchant API's public base URL (`https://api.example.com`): OAuth redirect URIs and
    /// webhook addresses are made from it, and must be registered with the app as such.
    pub public_base_url: Option<String>,
}
