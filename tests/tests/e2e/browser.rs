//! The dashboard in a real browser — Debian's headless Chromium over WebDriver — on the local
//! host filled by the sandbox marketplace: a merchant signs in, works through the views, opens
//! an order's buyer (and finds it in the audit log), requests an export, makes and revokes a
//! key, chooses a preference and signs out; the browser's own cookie store holds exactly the
//! two cookies with their attributes; the Content-Security-Policy is enforced by the browser;
//! every view passes axe-core's WCAG 2 A/AA rules with no serious or critical violation; and a
//! screenshot of each view is taken (`RC_WRITE_SCREENSHOTS=1` writes them to
//! `docs/screenshots/`, linked from the README).

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::start_local_host_with;
use crate::support::webdriver::{self, Browser};

const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/browser/node_modules/axe-core/axe.min.js"
);

fn screenshot_dir() -> std::path::PathBuf {
    if std::env::var("RC_WRITE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

/// axe-core's WCAG 2 A and AA rules on the page: the serious and critical violations.
async fn accessibility(browser: &Browser, axe: &str) -> Vec<Value> {
    browser
        .script(&format!("{axe}\nreturn true;"), json!([]))
        .await;
    let result = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))))
               .catch(e => done([{id: 'axe_failed', impact: 'critical', error: String(e)}]));",
            json!([]),
        )
        .await;
    result
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

/// Opens a page as a user would, reloading once if it answered "busy for a moment" (the
/// embedded store under a loaded machine); any other answer is kept.
async fn visit(browser: &Browser, url: &str) -> String {
    for _ in 0..3 {
        browser.go(url).await;
        let source = browser.source().await;
        if !source.contains("data-reason=\"temporarily_unavailable\"") {
            return source;
        }
        eprintln!("{url}: busy, reloading");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    browser.source().await
}

/// Fills the sign-in form as a user types it, and sends it.
async fn sign_in(browser: &Browser, config: &rc_local_host::LocalConfig, email: &str) {
    browser.type_into("#account", &config.demo_merchant).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", &config.demo_password).await;
    browser.click_and_wait("form button[type=submit]").await;
}

async fn wait_for_url(browser: &Browser, ending: &str) -> String {
    for _ in 0..50 {
        let url = browser.url().await;
        if url.ends_with(ending) {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never reached {ending}: {}", browser.url().await);
}

#[tokio::test]
async fn a_merchant_runs_a_day_from_the_dashboard_in_a_real_browser() {
    if let Err(why) = webdriver::browser() {
        assert!(!webdriver::required(), "the browser tests must run: {why}");
        eprintln!("skipped: {why}");
        return;
    }
    let axe = match std::fs::read_to_string(AXE) {
        Ok(axe) => axe,
        Err(_) => {
            assert!(
                !webdriver::required(),
                "axe-core is missing: ./infra/test installs it (npm ci in tests/browser)"
            );
            eprintln!("skipped: axe-core is not installed (npm ci --prefix tests/browser)");
            return;
        }
    };
    let (host, config, _dir) = start_local_host_with(|config| {
        config.order_processing_interval = Some(Duration::from_millis(50));
        config.courier_stage = Some(Duration::from_millis(300));
    })
    .await;
    let base = format!("http://{}", host.addr);
    for _ in 0..4 {
        host.sandbox.tick().await.expect("tick");
    }
    host.sandbox.drain().await;
    let api = reqwest::Client::new();
    // Labels bought for the sandbox orders before the tour starts.
    for _ in 0..100 {
        let page: Value = api
            .get(format!("{base}/v1/shipments?status=label_created"))
            .bearer_auth(&config.demo_api_key)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if page["shipments"].as_array().is_some_and(|s| !s.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let browser = Browser::start().await;
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("screenshot directory");

    // Signed out, the dashboard sends the browser to sign in.
    browser.go(&format!("{base}/app")).await;
    wait_for_url(&browser, "/app/sign-in").await;
    assert!(
        accessibility(&browser, &axe).await.is_empty(),
        "sign-in page"
    );
    std::fs::write(shots.join("sign-in.png"), browser.screenshot().await).expect("write");
    sign_in(&browser, &config, "owner@demo.retailcoder.example").await;
    wait_for_url(&browser, "/app/needs-action").await;

    // The browser holds one cookie: the session, with every attribute.
    let cookies = browser.cookies().await;
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert_eq!(cookies[0]["name"], "__Host-rc_session");
    assert_eq!(cookies[0]["httpOnly"], true);
    assert_eq!(cookies[0]["secure"], true);
    assert_eq!(cookies[0]["sameSite"], "Lax");
    assert_eq!(cookies[0]["path"], "/");
    assert!(cookies[0].get("expiry").is_none(), "a session cookie");
    // No script on the page can read it.
    let visible = browser.script("return document.cookie;", json!([])).await;
    assert_eq!(visible, json!(""));
    // The browser enforces the policy: an injected inline script does not run.
    let ran = browser
        .script(
            "const s = document.createElement('script'); s.textContent = 'window.__injected = 1';
             document.body.appendChild(s); return window.__injected === 1;",
            json!([]),
        )
        .await;
    assert_eq!(ran, json!(false), "inline script ran despite the CSP");

    // Every view: no serious accessibility violation, a screenshot.
    for (path, name) in [
        ("/app/needs-action", "needs-action"),
        ("/app/orders", "orders"),
        ("/app/shipments?status=label_created", "shipments"),
        ("/app/inventory", "inventory"),
        ("/app/inventory/TSHIRT-RED-M", "inventory-sku"),
        ("/app/exports", "exports"),
        ("/app/privacy", "privacy"),
        ("/app/settings", "settings"),
        ("/app/settings/shipping", "settings-shipping"),
        ("/app/settings/warehouses/main", "settings-warehouse"),
    ] {
        let source = visit(&browser, &format!("{base}{path}")).await;
        assert!(source.contains("<main id=\"main\">"), "{path}: {source}");
        let violations = accessibility(&browser, &axe).await;
        assert!(violations.is_empty(), "{path}: {violations:?}");
        std::fs::write(
            shots.join(format!("{name}.png")),
            browser.screenshot().await,
        )
        .expect("write");
    }

    // An order: its page, then its buyer, opened for a named reason and recorded.
    browser.go(&format!("{base}/app/orders")).await;
    browser.click_and_wait("main table tbody tr a").await;
    let order_url = browser.url().await;
    assert!(order_url.contains("/app/orders/"), "{order_url}");
    assert!(accessibility(&browser, &axe).await.is_empty(), "order page");
    std::fs::write(shots.join("order.png"), browser.screenshot().await).expect("write");
    assert!(browser.source().await.contains("Buyer details are hidden"));
    browser.select("#reason", "customer_service").await;
    browser
        .click_and_wait("form[action$='/buyer'] button")
        .await;
    let revealed = browser.source().await;
    assert!(
        revealed.contains("This view was recorded in the audit log"),
        "{revealed}"
    );
    let order_id = order_url.rsplit('/').next().expect("id").to_owned();
    let audit: Value = api
        .get(format!("{base}/v1/privacy/audit"))
        .bearer_auth(&config.demo_api_key)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(
        audit["entries"].as_array().is_some_and(|entries| entries
            .iter()
            .any(|e| e["action"] == "pii_reveal"
                && e["purpose"] == "customer_service"
                && e["orders"] == json!([order_id]))),
        "the reveal is in the audit log"
    );
    browser.go(&format!("{base}/app/privacy")).await;
    assert!(browser.source().await.contains("customer_service"));

    // A label printed again: the document, opened for this user and recorded.
    browser
        .go(&format!("{base}/app/shipments?status=label_created"))
        .await;
    let label = browser
        .script(
            "const a = document.querySelector('a[href$=\"/label\"]'); return a && a.getAttribute('href');",
            json!([]),
        )
        .await;
    if let Some(label) = label.as_str() {
        let session = browser
            .cookies()
            .await
            .into_iter()
            .find(|c| c["name"] == "__Host-rc_session")
            .and_then(|c| c["value"].as_str().map(str::to_owned))
            .expect("session");
        let document = api
            .get(format!("{base}{label}"))
            .header("cookie", format!("__Host-rc_session={session}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(document.status().as_u16(), 200);
        assert_eq!(document.headers()["content-type"], "application/pdf");
        assert_eq!(document.headers()["cache-control"], "no-store");
        let shipment = label
            .trim_end_matches("/label")
            .rsplit('/')
            .next()
            .expect("id");
        let audit: Value = api
            .get(format!("{base}/v1/privacy/audit"))
            .bearer_auth(&config.demo_api_key)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert!(
            audit["entries"].as_array().is_some_and(|entries| entries
                .iter()
                .any(|e| e["action"] == "pii_reveal"
                    && e["subject"] == shipment
                    && e["actor"].as_str().is_some_and(|a| a.starts_with("user:")))),
            "the reprint is in the audit log"
        );
    }

    // A form posted from another site (here an opaque `data:` page) changes nothing: the
    // session survives "sign out everywhere" sent from there.
    browser
        .go(&format!(
            "data:text/html,<form method=post action='{base}/app/sign-out-everywhere'><input name=csrf value=x></form><script>document.forms[0].submit()</script>"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.go(&format!("{base}/app/orders")).await;
    wait_for_url(&browser, "/app/orders").await;

    // An export, requested from its page.
    browser.go(&format!("{base}/app/exports")).await;
    browser.select("#kind", "inventory").await;
    browser
        .click_and_wait("form[action='/app/exports'] button")
        .await;
    wait_for_url(&browser, "/app/exports").await;
    let exports = browser.source().await;
    assert!(exports.contains("<td>inventory</td>"), "{exports}");

    // A key made, then revoked (the button asks first).
    browser.go(&format!("{base}/app/settings")).await;
    browser.type_into("#key-name", "browser test key").await;
    browser
        .click_and_wait("form[action='/app/settings/keys'] button")
        .await;
    let made = browser.source().await;
    assert!(made.contains("New API key."));
    let rows_before = made.matches("/revoke").count();
    browser.go(&format!("{base}/app/settings")).await;
    // Clicked after the script returns, so the confirmation dialog does not interrupt it.
    browser
        .script(
            "window.__before_click = true;
             const row = [...document.querySelectorAll('tr')].find(r => r.textContent.includes('browser test key'));
             setTimeout(() => row.querySelector('button').click(), 0); return true;",
            json!([]),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    browser.accept_dialog().await;
    browser.wait_for_new_page().await;
    let after = browser.source().await;
    assert!(!after.contains("browser test key"), "revoked");
    assert_eq!(after.matches("/revoke").count(), rows_before - 1);

    // A preference: the second and last cookie.
    browser.select("#density", "compact").await;
    browser
        .click_and_wait("form[action='/app/preferences'] button")
        .await;
    wait_for_url(&browser, "/app/settings").await;
    let cookies = browser.cookies().await;
    let mut names: Vec<&str> = cookies.iter().filter_map(|c| c["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["__Host-rc_prefs", "__Host-rc_session"]);
    assert!(
        cookies
            .iter()
            .all(|c| c["secure"] == true && c["httpOnly"] == true && c["sameSite"] == "Lax")
    );
    assert!(browser.source().await.contains("class=\"compact\""));

    // Signing out ends it; the session cookie goes.
    browser.click_and_wait("form.signout button").await;
    wait_for_url(&browser, "/app/sign-in").await;
    let names: Vec<String> = browser
        .cookies()
        .await
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["__Host-rc_prefs"]);
    browser.go(&format!("{base}/app/orders")).await;
    wait_for_url(&browser, "/app/sign-in").await;

    // A viewer sees the order but no way to open its buyer.
    sign_in(&browser, &config, "viewer@demo.retailcoder.example").await;
    browser.go(&order_url).await;
    let page = browser.source().await;
    assert!(
        page.contains("your role (viewer) cannot open them"),
        "{page}"
    );
    assert!(!page.contains("action=\"/app/orders/"));

    // Another tenant's order, or one that never existed: the same "not found" page.
    browser
        .go(&format!("{base}/app/orders/shopify-999999999"))
        .await;
    assert!(browser.source().await.contains("data-reason=\"not_found\""));

    // Session fixation: an attacker's own valid session planted in this browser is never
    // promoted by the victim's sign-in, and it ends.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let planted = no_redirects
        .post(format!("{base}/app/sign-in"))
        .header("origin", &base)
        .form(&[
            ("account", config.demo_merchant.as_str()),
            ("email", "operator@demo.retailcoder.example"),
            ("password", config.demo_password.as_str()),
        ])
        .send()
        .await
        .expect("sent");
    let planted = planted
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.strip_prefix("__Host-rc_session="))
        .expect("the attacker's session")
        .to_owned();
    browser.go(&format!("{base}/app/needs-action")).await;
    browser.click_and_wait("form.signout button").await;
    browser.add_cookie("__Host-rc_session", &planted).await;
    browser.go(&format!("{base}/app/sign-in")).await;
    sign_in(&browser, &config, "owner@demo.retailcoder.example").await;
    wait_for_url(&browser, "/app/needs-action").await;
    let held: Vec<String> = browser
        .cookies()
        .await
        .iter()
        .filter(|c| c["name"] == "__Host-rc_session")
        .filter_map(|c| c["value"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(held.len(), 1);
    assert_ne!(held[0], planted, "a new session at sign-in");
    let reused = api
        .get(format!("{base}/app/orders"))
        .header("cookie", format!("__Host-rc_session={planted}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        reused.status().as_u16(),
        200,
        "redirects are followed by this client"
    );
    assert!(
        reused.url().path().ends_with("/app/sign-in"),
        "the planted session ended"
    );
    browser.quit().await;
}
