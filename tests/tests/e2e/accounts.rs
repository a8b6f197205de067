//! Merchant accounts, on both store adapters: the profile an operator creates (the contact
//! sealed, never in the store in plaintext), read and changed by the merchant's own
//! `account:admin` key, refused with a reason when malformed, audited when changed, invisible to
//! another tenant, and erased with the account.

use crate::support;

use rc_domain::MerchantId;
use rc_orders::{RawContact, RawProfile};
use support::privacy_stack::*;

const CONTACT_EMAIL: &str = "qanary.contact.zq@merchant.example";
const CONTACT_NAME: &str = "Qanary Zqcontact";

fn profile(email: &str) -> RawProfile {
    RawProfile {
        company_name: "Privacy Goods GmbH".into(),
        default_currency: "EUR".into(),
        time_zone: "Europe/Berlin".into(),
        contact: RawContact {
            name: CONTACT_NAME.into(),
            email: email.into(),
        },
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn the_profile_is_the_merchants_own(stack: Stack) {
    let m = merchant();
    assert_eq!(stack.api("GET", "/v1/account", "").await.0, 404, "none yet");
    let parsed = profile(CONTACT_EMAIL).parse().expect("profile");
    assert!(
        stack
            .services
            .merchants
            .create(&m, &parsed)
            .await
            .expect("create")
    );
    assert!(
        !stack
            .services
            .merchants
            .create(&m, &parsed)
            .await
            .expect("again"),
        "created once"
    );
    let (status, shown) = stack.api("GET", "/v1/account", "").await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        (
            shown["id"].as_str(),
            shown["company_name"].as_str(),
            shown["contact"]["email"].as_str()
        ),
        (
            Some(MERCHANT),
            Some("Privacy Goods GmbH"),
            Some(CONTACT_EMAIL)
        )
    );
    // Sealed at rest: neither the name nor the e-mail is in the store's bytes.
    let bytes = stack.raw_bytes().await;
    assert!(!contains(&bytes, CONTACT_EMAIL) && !contains(&bytes, CONTACT_NAME));

    // Changed by the merchant; malformed changes say which field and change nothing.
    let mut body = serde_json::to_value(profile("billing.zq@merchant.example")).expect("json");
    let (status, changed) = stack.api("PUT", "/v1/account", &body.to_string()).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["contact"]["email"], "billing.zq@merchant.example");
    for (field, value, message) in [
        (
            "default_currency",
            serde_json::json!("euro"),
            "field `default_currency` is invalid",
        ),
        (
            "time_zone",
            serde_json::json!("Berlin"),
            "field `time_zone` is invalid",
        ),
        (
            "company_name",
            serde_json::json!(""),
            "field `company_name` is invalid",
        ),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        let (status, answer) = stack.api("PUT", "/v1/account", &bad.to_string()).await;
        assert_eq!(
            (status, answer["error"].as_str(), answer["message"].as_str()),
            (422, Some("invalid_field"), Some(message))
        );
    }
    body["contact"]["email"] = serde_json::json!("not an email");
    let (status, answer) = stack.api("PUT", "/v1/account", &body.to_string()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("invalid_field"))
    );
    assert!(
        !answer.to_string().contains("not an email"),
        "no value in the error"
    );
    body["extra"] = serde_json::json!(1);
    let (status, answer) = stack.api("PUT", "/v1/account", &body.to_string()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("invalid_body"))
    );
    let (_, shown) = stack.api("GET", "/v1/account", "").await;
    assert_eq!(shown["contact"]["email"], "billing.zq@merchant.example");

    // The change is in the audit trail (no contact data in it).
    let (_, trail) = stack.api("GET", "/v1/audit", "").await;
    let text = trail.to_string();
    assert!(text.contains("\"purpose\":\"profile\""), "{text}");
    assert!(!text.contains("merchant.example"));

    // Another tenant sees its own (none), never ours.
    let other = MerchantId::parse("accounts-other-merchant").expect("merchant");
    assert!(
        stack
            .services
            .merchants
            .get(&other)
            .await
            .expect("get")
            .is_none()
    );

    // Cancelled: the profile and its key go with the account.
    let (status, _) = stack
        .api(
            "DELETE",
            "/v1/account",
            &format!(r#"{{"confirm":"{MERCHANT}"}}"#),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        stack
            .services
            .merchants
            .get(&m)
            .await
            .expect("get")
            .is_none()
    );
    let refused = stack.services.merchants.create(&m, &parsed).await;
    assert!(refused.is_err(), "a cancelled account is not made again");
}

#[tokio::test]
async fn the_profile_is_the_merchants_own_embedded() {
    the_profile_is_the_merchants_own(embedded().await).await;
}

#[tokio::test]
async fn the_profile_is_the_merchants_own_moto() {
    the_profile_is_the_merchants_own(moto().await).await;
}
