//! Shopify's authorization code grant, as a non-embedded app does it ("Implement authorization
//! code grant manually", shopify.dev): the authorize URL on the shop, the callback's query HMAC,
//! the code exchanged for an offline access token at `/admin/oauth/access_token`, and the order
//! webhooks registered with `webhookSubscriptionCreate`.

use aws_lc_rs::hmac;
use rc_domain::{RevealPurpose, Secret, SecretText, ShopifyApp};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::ShopDomain;
use super::admin::ShopifyAdmin;
use crate::FetchError;

/// The webhook topics a connected shop is subscribed to (GraphQL `WebhookSubscriptionTopic`
/// names; deliveries carry them as `orders/create` …). Compliance topics are not here: Shopify
/// takes those from the app's configuration, not from an API call.
pub const WEBHOOK_TOPICS: [&str; 5] = [
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
    "ORDERS_FULFILLED",
    "APP_UNINSTALLED",
];

/// The URL the merchant's browser is sent to: the shop's own authorize page for our app.
pub fn authorize_url(
    shop: &ShopDomain,
    app: &ShopifyApp,
    redirect_uri: &str,
    state: &str,
    base_override: Option<&str>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &app.client_id)
        .append_pair("scope", &app.scopes)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    match base_override {
        // A sandbox serves every shop at one address: it is told which shop.
        Some(base) if base != format!("https://{shop}") => {
            query.append_pair("shop", shop.as_str());
            format!("{base}/admin/oauth/authorize?{}", query.finish())
        }
        _ => format!("https://{shop}/admin/oauth/authorize?{}", query.finish()),
    }
}

/// Why a callback's query was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackError {
    /// A parameter is missing, empty, or given twice.
    Malformed(&'static str),
    /// The `hmac` does not sign the other parameters under the app's secret.
    BadSignature,
}

/// The callback's parameters, once their HMAC is verified.
#[derive(Debug)]
pub struct Callback {
    pub code: String,
    pub shop: String,
    pub state: String,
}

/// The message Shopify signs: every parameter but `hmac`, sorted, `key=value` joined by `&`,
/// with `%` and `&` (and `=` in keys) escaped so no pair can pass for another.
fn signed_message(pairs: &[(String, String)]) -> String {
    let escape = |s: &str, key: bool| {
        let s = s.replace('%', "%25").replace('&', "%26");
        if key { s.replace('=', "%3D") } else { s }
    };
    let mut rest: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "hmac")
        .map(|(k, v)| format!("{}={}", escape(k, true), escape(v, false)))
        .collect();
    rest.sort();
    rest.join("&")
}

fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A query's parameters, decoded, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A query's parameters, each given once; `None` if one is given twice (which copy counts
/// would be ambiguous, and no marketplace sends one twice).
pub fn unique_query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    let pairs = query_pairs(query);
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    (!names.windows(2).any(|w| w[0] == w[1])).then_some(pairs)
}

/// Parses the callback query and verifies its HMAC under the app's secret (in constant time).
/// Duplicated parameters are refused: which copy was signed would be ambiguous.
pub fn verify_callback(
    query: &str,
    secret: &Secret<SecretText>,
) -> Result<Callback, CallbackError> {
    let pairs =
        unique_query_pairs(query).ok_or(CallbackError::Malformed("duplicated_parameter"))?;
    let get = |name: &'static str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && v.len() <= 512)
            .ok_or(CallbackError::Malformed(name))
    };
    let tag = hex_decode(get("hmac")?).ok_or(CallbackError::BadSignature)?;
    let (code, shop, state) = (get("code")?, get("shop")?, get("state")?);
    get("timestamp")?;
    hmac::verify(
        &super::signature::key(secret),
        signed_message(&pairs).as_bytes(),
        &tag,
    )
    .map_err(|_| CallbackError::BadSignature)?;
    Ok(Callback {
        code: code.to_owned(),
        shop: shop.to_owned(),
        state: state.to_owned(),
    })
}

/// The callback query Shopify would send (the local sandbox and tests play Shopify with it).
pub fn sign_callback(pairs: &[(&str, &str)], secret: &Secret<SecretText>) -> String {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let tag = rc_domain::to_hex(
        hmac::sign(
            &super::signature::key(secret),
            signed_message(&owned).as_bytes(),
        )
        .as_ref(),
    );
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    query.append_pair("hmac", &tag);
    query.finish()
}

/// Whether the scopes Shopify granted cover the ones asked for (a `write_` scope implies its
/// `read_`, and Shopify may list only the former).
pub fn scopes_cover(granted: &str, asked: &str) -> bool {
    let granted: Vec<&str> = granted.split(',').map(str::trim).collect();
    asked
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|scope| {
            granted.contains(&scope)
                || scope
                    .strip_prefix("read_")
                    .is_some_and(|rest| granted.contains(&format!("write_{rest}").as_str()))
        })
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    scope: String,
}

/// A shop's offline access token and the scopes it carries.
pub struct GrantedToken {
    pub access_token: Secret<SecretText>,
    pub scope: String,
}

const WEBHOOKS_QUERY: &str = "query RetailCoderWebhooks($uri: String!) { \
    webhookSubscriptions(first: 50, uri: $uri) { nodes { id topic uri } } }";

const WEBHOOK_CREATE: &str = "mutation RetailCoderWebhookCreate($topic: WebhookSubscriptionTopic!, \
    $webhookSubscription: WebhookSubscriptionInput!) { \
    webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { \
    webhookSubscription { id topic uri } userErrors { field message } } }";

impl ShopifyAdmin {
    /// Exchanges an authorization code for the shop's offline access token. A code Shopify
    /// refuses (used, expired, not for this app) is `Refused { code: "invalid_code" }`.
    pub async fn exchange_code(
        &self,
        shop: &ShopDomain,
        app: &ShopifyApp,
        code: &str,
    ) -> Result<GrantedToken, FetchError> {
        let url = format!("{}/admin/oauth/access_token", self.base(shop));
        let body = json!({
            "client_id": app.client_id,
            "client_secret": app.client_secret.reveal(RevealPurpose::Authentication).as_str(),
            "code": code,
        });
        // Not retried: a code is single-use, and a lost answer cannot be asked for again.
        let response = self
            .http()
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|_| FetchError::Unavailable("Shopify cannot be reached".into()))?;
        let status = response.status();
        if status.is_client_error() {
            return Err(FetchError::Refused {
                status: status.as_u16(),
                code: "invalid_code".into(),
            });
        }
        if status != StatusCode::OK {
            return Err(FetchError::Unavailable(format!(
                "Shopify answered {status}"
            )));
        }
        let bytes = crate::read_capped(response, crate::MAX_ANSWER_BYTES).await?;
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|_| FetchError::Unavailable("Shopify's token answer is malformed".into()))?;
        let access_token = SecretText::parse(&answer.access_token)
            .map(Secret::new)
            .map_err(|_| FetchError::Unavailable("Shopify's access token is malformed".into()))?;
        Ok(GrantedToken {
            access_token,
            scope: answer.scope,
        })
    }

    /// The topics already subscribed to deliver at `uri`.
    async fn subscribed_topics(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        uri: &str,
    ) -> Result<Vec<String>, FetchError> {
        let data = self
            .graphql(
                shop,
                access_token,
                &json!({"query": WEBHOOKS_QUERY, "variables": {"uri": uri}}),
            )
            .await?;
        Ok(data["webhookSubscriptions"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|node| node["uri"] == uri)
            .filter_map(|node| node["topic"].as_str().map(str::to_owned))
            .collect())
    }

    /// Subscribes the shop's [`WEBHOOK_TOPICS`] to `uri`, each once: topics already
    /// subscribed there are left alone, so a repeated connect creates nothing twice. Returns
    /// how many subscriptions were created.
    pub async fn subscribe_webhooks(
        &self,
        shop: &ShopDomain,
        access_token: &Secret<SecretText>,
        uri: &str,
    ) -> Result<usize, FetchError> {
        let existing = self.subscribed_topics(shop, access_token, uri).await?;
        let mut created = 0;
        for topic in WEBHOOK_TOPICS {
            if existing.iter().any(|t| t == topic) {
                continue;
            }
            let data = self
                .graphql(
                    shop,
                    access_token,
                    &json!({
                        "query": WEBHOOK_CREATE,
                        "variables": {"topic": topic, "webhookSubscription": {"uri": uri}},
                    }),
                )
                .await?;
            let answer = &data["webhookSubscriptionCreate"];
            if answer["webhookSubscription"]["id"].is_string() {
                created += 1;
                continue;
            }
            // A refusal: if a concurrent connect subscribed it meanwhile, that is the outcome
            // wanted; otherwise it is an error.
            let now = self.subscribed_topics(shop, access_token, uri).await?;
            if !now.iter().any(|t| t == topic) {
                let refused = answer["userErrors"]
                    .as_array()
                    .is_some_and(|errors| !errors.is_empty());
                return Err(FetchError::Refused {
                    status: 200,
                    code: if refused {
                        "webhook_subscription_refused".into()
                    } else {
                        "webhook_subscription_failed".into()
                    },
                });
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<SecretText> {
        Secret::new(SecretText::parse(s).expect("secret"))
    }

    /// Known-answer vectors: the example query and secret ("hush") of Shopify's OAuth
    /// verification documentation, without and with a `state`.
    #[test]
    fn the_documented_callback_examples_verify() {
        let documented = "code=0907a61c0c8d55e99db179b68161bc00&hmac=4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20&shop=some-shop.myshopify.com&timestamp=1337178173";
        // Without a state the callback is refused as malformed, but only after the HMAC shows
        // the message format is Shopify's: check the signature alone.
        let pairs = query_pairs(documented);
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"hush");
        let tag = hex_decode("4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20")
            .expect("hex");
        assert!(hmac::verify(&key, signed_message(&pairs).as_bytes(), &tag).is_ok());

        let with_state = "code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173";
        let callback = verify_callback(with_state, &secret("hush")).expect("verifies");
        assert_eq!(
            (callback.code.as_str(), callback.shop.as_str()),
            (
                "0907a61c0c8d55e99db179b68161bc00",
                "some-shop.myshopify.com"
            )
        );
        assert_eq!(
            verify_callback(with_state, &secret("not-hush")).err(),
            Some(CallbackError::BadSignature)
        );
    }

    #[test]
    fn tampered_duplicated_or_missing_parameters_are_refused() {
        let app_secret = secret("app-secret");
        let good = sign_callback(
            &[
                ("code", "abc"),
                ("shop", "a.myshopify.com"),
                ("state", "s1"),
                ("timestamp", "1"),
            ],
            &app_secret,
        );
        assert!(verify_callback(&good, &app_secret).is_ok());
        let tampered = good.replace("shop=a.myshopify.com", "shop=b.myshopify.com");
        assert_eq!(
            verify_callback(&tampered, &app_secret).err(),
            Some(CallbackError::BadSignature)
        );
        let doubled = format!("{good}&state=s2");
        assert_eq!(
            verify_callback(&doubled, &app_secret).err(),
            Some(CallbackError::Malformed("duplicated_parameter"))
        );
        let no_code = sign_callback(
            &[
                ("shop", "a.myshopify.com"),
                ("state", "s1"),
                ("timestamp", "1"),
            ],
            &app_secret,
        );
        assert_eq!(
            verify_callback(&no_code, &app_secret).err(),
            Some(CallbackError::Malformed("code"))
        );
        // An `&` inside a value cannot pass for a parameter boundary.
        let sneaky = sign_callback(
            &[
                ("code", "abc&shop=b.myshopify.com"),
                ("shop", "a.myshopify.com"),
                ("state", "s1"),
                ("timestamp", "1"),
            ],
            &app_secret,
        );
        assert_eq!(
            verify_callback(&sneaky, &app_secret).map(|c| c.shop).ok(),
            Some("a.myshopify.com".into())
        );
    }

    #[test]
    fn granted_scopes_must_cover_the_asked_ones() {
        let cases = [
            (
                "read_orders,write_inventory",
                "read_orders,write_inventory",
                true,
            ),
            ("write_orders", "read_orders", true),
            ("read_orders", "read_orders,write_inventory", false),
            ("", "read_orders", false),
            ("read_orders", "", true),
        ];
        for (granted, asked, covered) in cases {
            assert_eq!(scopes_cover(granted, asked), covered, "{granted} / {asked}");
        }
    }
}
