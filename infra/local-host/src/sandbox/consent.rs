//! The sandbox side of the connect flows, so a merchant can connect offline exactly as on the
//! deployed stack: the local host runs with sandbox apps ([`apps`]); Shopify's authorize page
//! and Seller Central's consent page approve at once and redirect back with a code (Shopify's
//! query signed with the sandbox app's secret); the code exchanges (`/admin/oauth/access_token`,
//! LWA's `authorization_code` grant), the grantless token, the webhook subscriptions and the
//! Notifications API answer as the real ones do. What was subscribed is shown at
//! `GET /sandbox/subscriptions`.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use rc_domain::{AmazonApp, AppCredentials, Secret, SecretText, ShopifyApp};
use serde_json::{Value, json};

use super::{SANDBOX_ACCESS_TOKEN, SANDBOX_SELLER};

pub const SANDBOX_SHOPIFY_CLIENT_ID: &str = "rc-local-sandbox-shopify-app";
const SANDBOX_SHOPIFY_SECRET: &str = "shpss_local_sandbox_app_secret";
pub const SANDBOX_APPLICATION_ID: &str = "amzn1.sp.solution.local-sandbox";
/// The local notifications queue, named as an SQS ARN (what a destination takes).
pub const SANDBOX_QUEUE_ARN: &str = "arn:aws:sqs:local:000000000000:rc-local-amazon-notifications";

fn secret(text: &str) -> Option<Secret<SecretText>> {
    SecretText::parse(text).ok().map(Secret::new)
}

/// The sandbox apps, reached at `base` (this host).
pub fn apps(base: &str) -> AppCredentials {
    AppCredentials {
        shopify: secret(SANDBOX_SHOPIFY_SECRET).map(|client_secret| {
            Arc::new(ShopifyApp {
                client_id: SANDBOX_SHOPIFY_CLIENT_ID.into(),
                client_secret,
                previous_client_secret: None,
                scopes: rc_runtime::DEFAULT_SHOPIFY_SCOPES.into(),
            })
        }),
        amazon: secret(super::SANDBOX_CLIENT_SECRET).map(|client_secret| {
            Arc::new(AmazonApp {
                application_id: SANDBOX_APPLICATION_ID.into(),
                client_id: super::SANDBOX_CLIENT_ID.into(),
                client_secret,
                draft: true,
                notifications_queue_arn: Some(SANDBOX_QUEUE_ARN.into()),
            })
        }),
        public_base_url: Some(base.to_owned()),
    }
}

#[derive(Default)]
pub struct SandboxConsent {
    next: AtomicU64,
    shopify_codes: Mutex<Vec<(String, String)>>,
    amazon_codes: Mutex<Vec<String>>,
    /// (topic, address) per shop.
    webhooks: Mutex<Vec<(String, String)>>,
    destinations: Mutex<Vec<(String, String)>>,
    /// (subscription id, destination id): one seller in the sandbox.
    subscription: Mutex<Option<(String, String)>>,
}

fn json_answer(status: StatusCode, body: Value) -> Response<Bytes> {
    rc_api::json(status, &body)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn query(request: &Request<Bytes>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn redirect(location: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn bad(message: &str) -> Response<Bytes> {
    json_answer(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": message}),
    )
}

impl SandboxConsent {
    fn code(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// `GET /sandbox/shopify/admin/oauth/authorize`: the merchant approves at once.
    pub fn shopify_authorize(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let pairs = query(request);
        let (Some(client_id), Some(redirect_uri), Some(state), Some(shop)) = (
            param(&pairs, "client_id"),
            param(&pairs, "redirect_uri"),
            param(&pairs, "state"),
            param(&pairs, "shop"),
        ) else {
            return bad("client_id, redirect_uri, state and shop are required");
        };
        if client_id != SANDBOX_SHOPIFY_CLIENT_ID {
            return bad("unknown app");
        }
        let code = self.code("sandbox-shopify-code-");
        lock(&self.shopify_codes).push((code.clone(), shop.to_owned()));
        let Some(signing) = secret(SANDBOX_SHOPIFY_SECRET) else {
            return bad("sandbox secret");
        };
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let signed = rc_channels::shopify::sign_callback(
            &[
                ("code", &code),
                ("shop", shop),
                ("state", state),
                ("timestamp", &timestamp),
            ],
            &signing,
        );
        redirect(&format!("{redirect_uri}?{signed}"))
    }

    /// `POST /sandbox/shopify/admin/oauth/access_token`: a code once, for the sandbox app.
    pub fn shopify_token(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let body: Value = serde_json::from_slice(request.body()).unwrap_or_default();
        if body["client_id"] != SANDBOX_SHOPIFY_CLIENT_ID
            || body["client_secret"] != SANDBOX_SHOPIFY_SECRET
        {
            return bad("unknown app");
        }
        let mut codes = lock(&self.shopify_codes);
        let Some(at) = codes.iter().position(|(c, _)| body["code"] == c.as_str()) else {
            return bad("The authorization code was not found or was already used");
        };
        codes.remove(at);
        json_answer(
            StatusCode::OK,
            json!({"access_token": SANDBOX_ACCESS_TOKEN, "scope": rc_runtime::DEFAULT_SHOPIFY_SCOPES}),
        )
    }

    /// Whether a GraphQL body is about webhook subscriptions (served here).
    pub fn is_webhooks(body: &[u8]) -> bool {
        serde_json::from_slice::<Value>(body).is_ok_and(|b| {
            b["query"].as_str().is_some_and(|q| {
                q.starts_with("query RetailCoderWebhooks(")
                    || q.starts_with("mutation RetailCoderWebhookCreate(")
            })
        })
    }

    /// `webhookSubscriptions` and `webhookSubscriptionCreate`, one subscription per topic and
    /// address.
    pub fn shopify_webhooks(&self, body: &[u8]) -> Response<Bytes> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let query = body["query"].as_str().unwrap_or_default();
        let variables = &body["variables"];
        let mut webhooks = lock(&self.webhooks);
        if query.starts_with("query") {
            let uri = variables["uri"].as_str().unwrap_or_default();
            let nodes: Vec<Value> = webhooks
                .iter()
                .enumerate()
                .filter(|(_, (_, u))| u == uri)
                .map(|(i, (topic, uri))| json!({"id": format!("gid://shopify/WebhookSubscription/{}", i + 1), "topic": topic, "uri": uri}))
                .collect();
            return json_answer(
                StatusCode::OK,
                json!({"data": {"webhookSubscriptions": {"nodes": nodes}}}),
            );
        }
        let topic = variables["topic"].as_str().unwrap_or_default().to_owned();
        let uri = variables["webhookSubscription"]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if webhooks.iter().any(|(t, u)| *t == topic && *u == uri) {
            return json_answer(
                StatusCode::OK,
                json!({"data": {"webhookSubscriptionCreate": {"webhookSubscription": null,
                    "userErrors": [{"field": ["webhookSubscription", "uri"], "message": "Address for this topic has already been taken"}]}}}),
            );
        }
        webhooks.push((topic.clone(), uri.clone()));
        json_answer(
            StatusCode::OK,
            json!({"data": {"webhookSubscriptionCreate": {"webhookSubscription": {"id": format!("gid://shopify/WebhookSubscription/{}", webhooks.len()), "topic": topic, "uri": uri}, "userErrors": []}}}),
        )
    }

    /// `GET /sandbox/sellercentral/apps/authorize/consent`: the seller consents at once.
    pub fn seller_central(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let pairs = query(request);
        let (Some(application), Some(state), Some(redirect_uri)) = (
            param(&pairs, "application_id"),
            param(&pairs, "state"),
            param(&pairs, "redirect_uri"),
        ) else {
            return bad("application_id, state and redirect_uri are required");
        };
        if application != SANDBOX_APPLICATION_ID {
            return bad("unknown application");
        }
        let code = self.code("ANsandbox");
        lock(&self.amazon_codes).push(code.clone());
        let mut back = url::form_urlencoded::Serializer::new(String::new());
        back.append_pair("state", state)
            .append_pair("selling_partner_id", SANDBOX_SELLER)
            .append_pair("spapi_oauth_code", &code);
        redirect(&format!("{redirect_uri}?{}", back.finish()))
    }

    /// LWA's `authorization_code` and `client_credentials` grants (the refresh-token grant is
    /// the Amazon sandbox's own); `None` for other grants.
    pub fn lwa_grant(&self, form: &[u8]) -> Option<Response<Bytes>> {
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(form)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        match param(&fields, "grant_type")? {
            "authorization_code" => {
                let code = param(&fields, "code").unwrap_or_default();
                let mut codes = lock(&self.amazon_codes);
                let Some(at) = codes.iter().position(|c| c == code) else {
                    return Some(json_answer(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "invalid_grant"}),
                    ));
                };
                codes.remove(at);
                Some(json_answer(
                    StatusCode::OK,
                    json!({"access_token": "Atza|sandbox-access", "refresh_token": super::SANDBOX_REFRESH_TOKEN,
                           "token_type": "bearer", "expires_in": 3600}),
                ))
            }
            "client_credentials" => Some(json_answer(
                StatusCode::OK,
                json!({"access_token": "Atza|sandbox-grantless", "token_type": "bearer", "expires_in": 3600}),
            )),
            _ => None,
        }
    }

    /// The Notifications API: destinations and the sandbox seller's ORDER_CHANGE subscription.
    pub fn notifications(&self, request: &Request<Bytes>, path: &str) -> Response<Bytes> {
        let method = request.method().as_str();
        let body: Value = serde_json::from_slice(request.body()).unwrap_or_default();
        let not_found = || {
            json_answer(
                StatusCode::NOT_FOUND,
                json!({"errors": [{"code": "NotFound", "message": "The resource specified does not exist."}]}),
            )
        };
        match (method, path) {
            ("GET", "/notifications/v1/destinations") => {
                let list: Vec<Value> = lock(&self.destinations)
                    .iter()
                    .map(|(id, arn)| json!({"destinationId": id, "name": "sandbox", "resource": {"sqs": {"arn": arn}}}))
                    .collect();
                json_answer(StatusCode::OK, json!({"payload": list}))
            }
            ("POST", "/notifications/v1/destinations") => {
                let arn = body["resourceSpecification"]["sqs"]["arn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let mut destinations = lock(&self.destinations);
                if destinations.iter().any(|(_, a)| *a == arn) {
                    return json_answer(
                        StatusCode::CONFLICT,
                        json!({"errors": [{"code": "Conflict", "message": "destination exists"}]}),
                    );
                }
                let id = self.code("sandbox-destination-");
                destinations.push((id.clone(), arn.clone()));
                json_answer(
                    StatusCode::OK,
                    json!({"payload": {"destinationId": id, "name": body["name"], "resource": {"sqs": {"arn": arn}}}}),
                )
            }
            ("GET", "/notifications/v1/subscriptions/ORDER_CHANGE") => {
                match lock(&self.subscription).clone() {
                    Some((id, destination)) => json_answer(
                        StatusCode::OK,
                        json!({"payload": {"subscriptionId": id, "payloadVersion": "1.0", "destinationId": destination}}),
                    ),
                    None => not_found(),
                }
            }
            ("POST", "/notifications/v1/subscriptions/ORDER_CHANGE") => {
                let mut subscription = lock(&self.subscription);
                if subscription.is_some() {
                    return json_answer(
                        StatusCode::CONFLICT,
                        json!({"errors": [{"code": "Conflict", "message": "subscription exists"}]}),
                    );
                }
                let id = self.code("sandbox-subscription-");
                let destination = body["destinationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                *subscription = Some((id.clone(), destination.clone()));
                json_answer(
                    StatusCode::OK,
                    json!({"payload": {"subscriptionId": id, "payloadVersion": "1.0", "destinationId": destination}}),
                )
            }
            ("DELETE", p) if p.starts_with("/notifications/v1/subscriptions/ORDER_CHANGE/") => {
                let id = p.rsplit('/').next().unwrap_or_default();
                let mut subscription = lock(&self.subscription);
                if subscription.as_ref().is_some_and(|(s, _)| s == id) {
                    *subscription = None;
                    json_answer(StatusCode::OK, json!({}))
                } else {
                    not_found()
                }
            }
            _ => not_found(),
        }
    }

    /// `GET /sandbox/subscriptions`: what the connect flows subscribed (no secrets).
    pub fn show(&self) -> Response<Bytes> {
        let webhooks: Vec<Value> = lock(&self.webhooks)
            .iter()
            .map(|(topic, uri)| json!({"topic": topic, "uri": uri}))
            .collect();
        json_answer(
            StatusCode::OK,
            json!({"shopify_webhooks": webhooks,
                   "amazon_destinations": lock(&self.destinations).iter().map(|(id, arn)| json!({"id": id, "arn": arn})).collect::<Vec<_>>(),
                   "amazon_subscription": lock(&self.subscription).as_ref().map(|(id, d)| json!({"id": id, "destination": d}))}),
        )
    }
}
