//! The merchant dashboard from outside, over HTTP, as a browser and an attacker would use it:
//! sign-in, the two cookies and their attributes, the security headers, every view, revealing
//! an order's buyer (audited, refused to a viewer), CSRF and origin checks, session fixation,
//! sign-out, the sign-in throttle, another tenant's order, and no PII in logs or error pages.

use std::collections::BTreeMap;

use crate::support::{
    self, CANARY_EMAIL, CANARY_NAME_LAST, canaries, post_webhook, start_local_host,
};

const OWNER: &str = "owner@demo.retailcoder.example";
const OPERATOR: &str = "operator@demo.retailcoder.example";
const VIEWER: &str = "viewer@demo.retailcoder.example";
const PASSWORD: &str = "e2e-demo-password";

/// A form's fields, as posted.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// A browser without a cookie jar: cookies are sent as the test says, redirects not followed.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        self.body[start..start + 64].to_owned()
    }
}

async fn get(base: &str, path: &str, cookie: Option<&str>) -> Answer {
    let mut request = client().get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    answer(request.send().await.expect("sent")).await
}

async fn post(
    base: &str,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    let mut request = client()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        );
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    answer(request.send().await.expect("sent")).await
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap_or_default(),
    }
}

/// Signs in; the `Cookie` header the browser would send afterwards.
async fn sign_in(base: &str, email: &str) -> String {
    let answer = post(
        base,
        "/app/sign-in",
        None,
        Some(base),
        &[
            ("account", "demo-merchant"),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let cookie = answer
        .set_cookies()
        .into_iter()
        .next()
        .expect("a session cookie");
    cookie.split(';').next().expect("pair").to_owned()
}

/// The demo merchant's user id for `email`.
fn demo_user_id(email: &str) -> String {
    rc_dashboard::users::user_id(
        &rc_domain::MerchantId::parse("demo-merchant").expect("merchant"),
        email,
    )
}

/// A button's form: nothing but this session's CSRF token, posted from our own origin.
async fn action(base: &str, path: &str, cookie: &str, csrf: &str) -> Answer {
    post(base, path, Some(cookie), Some(base), &[("csrf", csrf)]).await
}

async fn audit(base: &str) -> Vec<serde_json::Value> {
    let response = client()
        .get(format!("{base}/v1/privacy/audit"))
        .bearer_auth("rck_e2e_api_key")
        .send()
        .await
        .expect("sent");
    let body: serde_json::Value = response.json().await.expect("json");
    body["entries"].as_array().cloned().unwrap_or_default()
}

fn assert_secure_headers(answer: &Answer) {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("http"), "no other origin: {csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
}

#[tokio::test]
async fn a_merchant_signs_in_and_every_view_renders_with_two_cookies_at_most() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let (status, _) = post_webhook(
        &base,
        &config,
        "orders/create",
        "dash-1",
        support::canary_order(880_001),
    )
    .await;
    assert_eq!(status, 200);

    // Not signed in: every page sends the browser to the sign-in page.
    let answer = get(&base, "/app/orders", None).await;
    assert_eq!((answer.status, answer.location()), (303, "/app/sign-in"));
    let page = get(&base, "/app/sign-in", None).await;
    assert_eq!(page.status, 200);
    assert_secure_headers(&page);
    assert!(
        page.set_cookies().is_empty(),
        "the sign-in page sets no cookie"
    );

    let sign_in = post(
        &base,
        "/app/sign-in",
        None,
        Some(&base),
        &[
            ("account", "demo-merchant"),
            ("email", OWNER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (sign_in.status, sign_in.location()),
        (303, "/app/needs-action")
    );
    let cookies = sign_in.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attributes: Vec<&str> = cookies[0].split("; ").collect();
    assert!(attributes[0].starts_with("__Host-rc_session=rcd_"));
    assert_eq!(
        attributes[0].len(),
        "__Host-rc_session=rcd_".len() + 64,
        "256 random bits"
    );
    for expected in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(&expected), "{cookies:?}");
    }
    assert!(!cookies[0].contains("Domain"), "{cookies:?}");
    let cookie = attributes[0].to_owned();

    let mut names = BTreeMap::new();
    for path in [
        "/app/needs-action",
        "/app/orders",
        "/app/orders/shopify-880001",
        "/app/shipments",
        "/app/shipments?status=label_failed",
        "/app/inventory",
        "/app/inventory/TSHIRT-RED-M",
        "/app/exports",
        "/app/privacy",
        "/app/privacy?verify=1",
        "/app/settings",
    ] {
        let page = get(&base, path, Some(&cookie)).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_secure_headers(&page);
        assert!(page.body.contains("<main id=\"main\">"), "{path}");
        for canary in canaries() {
            assert!(
                !page.body.contains(canary),
                "{path} shows buyer PII unasked"
            );
        }
        for set in page.set_cookies() {
            names.insert(set.split('=').next().unwrap_or_default().to_owned(), path);
        }
    }
    assert!(names.is_empty(), "pages set no cookie: {names:?}");

    // The preferences: the second and last cookie.
    let settings = get(&base, "/app/settings", Some(&cookie)).await;
    let saved = post(
        &base,
        "/app/preferences",
        Some(&cookie),
        Some(&base),
        &[
            ("csrf", &settings.csrf()),
            ("density", "compact"),
            ("dates", "relative"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303);
    let prefs = saved.set_cookies();
    assert_eq!(prefs.len(), 1);
    assert!(
        prefs[0].starts_with(
            "__Host-rc_prefs=compact.relative; Path=/; Secure; HttpOnly; SameSite=Lax"
        )
    );
    let both = format!("{cookie}; __Host-rc_prefs=compact.relative");
    let page = get(&base, "/app/orders", Some(&both)).await;
    assert!(page.body.contains("class=\"compact\""));
    // A tampered preference reads as the defaults; nothing breaks, nothing is echoed.
    let tampered = format!("{cookie}; __Host-rc_prefs=<script>alert(1)</script>.x");
    let page = get(&base, "/app/orders", Some(&tampered)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("class=\"comfortable\""));
    assert!(!page.body.contains("alert(1)"));

    // Signed in, in the audit trail.
    let entries = audit(&base).await;
    assert!(
        entries.iter().any(|e| e["action"] == "sign_in"
            && e["actor"].as_str().is_some_and(|a| a.starts_with("user:"))),
        "{entries:?}"
    );

    // Signing out ends the session on the server, not only in the browser.
    let page = get(&base, "/app/needs-action", Some(&cookie)).await;
    let out = action(&base, "/app/sign-out", &cookie, &page.csrf()).await;
    assert_eq!((out.status, out.location()), (303, "/app/sign-in"));
    assert!(out.set_cookies()[0].contains("Max-Age=0"));
    let after = get(&base, "/app/needs-action", Some(&cookie)).await;
    assert_eq!((after.status, after.location()), (303, "/app/sign-in"));
}

#[tokio::test]
async fn buyer_details_open_only_on_request_for_a_named_reason_and_never_for_a_viewer() {
    let logs = support::capture_all_logs();
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let (status, _) = post_webhook(
        &base,
        &config,
        "orders/create",
        "dash-2",
        support::canary_order(880_002),
    )
    .await;
    assert_eq!(status, 200);
    let order = "/app/orders/shopify-880002";

    // A viewer sees the order, not the buyer, and cannot open it.
    let viewer = sign_in(&base, VIEWER).await;
    let page = get(&base, order, Some(&viewer)).await;
    assert_eq!(page.status, 200);
    let before = audit(&base).await.len();
    let refused = post(
        &base,
        &format!("{order}/buyer"),
        Some(&viewer),
        Some(&base),
        &[("csrf", &page.csrf()), ("reason", "customer_service")],
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("data-reason=\"insufficient_role\""));
    assert!(!refused.body.contains(CANARY_EMAIL));
    assert_eq!(
        audit(&base).await.len(),
        before,
        "nothing opened, nothing recorded"
    );

    // An operator opens it, naming why; the audit trail says who, why and which order.
    let operator = sign_in(&base, OPERATOR).await;
    let page = get(&base, order, Some(&operator)).await;
    assert!(!page.body.contains(CANARY_EMAIL));
    let unknown = post(
        &base,
        &format!("{order}/buyer"),
        Some(&operator),
        Some(&base),
        &[("csrf", &page.csrf()), ("reason", "curiosity")],
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert!(!unknown.body.contains(CANARY_EMAIL));
    let shown = post(
        &base,
        &format!("{order}/buyer"),
        Some(&operator),
        Some(&base),
        &[("csrf", &page.csrf()), ("reason", "delivery_issue")],
    )
    .await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains(CANARY_EMAIL), "revealed");
    assert!(shown.body.contains(CANARY_NAME_LAST));
    let entries = audit(&base).await;
    let reveal = entries
        .iter()
        .rev()
        .find(|e| e["action"] == "pii_reveal" && e["purpose"] == "delivery_issue")
        .expect("the reveal is recorded");
    assert!(
        reveal["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("user:"))
    );
    assert_eq!(reveal["orders"], serde_json::json!(["shopify-880002"]));

    // Another tenant's order, and a made-up one, are not found — revealing them too.
    let other = rc_domain::MerchantId::parse("other-merchant").expect("merchant");
    let parsed =
        rc_channels::shopify::parse_order(&other, &support::canary_order(880_003)).expect("order");
    host.services
        .orders
        .upsert(&parsed.order, None)
        .await
        .expect("stored");
    for path in [
        "/app/orders/shopify-880003",
        "/app/orders/shopify-999999",
        "/app/orders/%3Cscript%3E",
    ] {
        let page = get(&base, path, Some(&operator)).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("script>"), "{path}");
    }
    let foreign = post(
        &base,
        "/app/orders/shopify-880003/buyer",
        Some(&operator),
        Some(&base),
        &[("csrf", &page.csrf()), ("reason", "delivery_issue")],
    )
    .await;
    assert_eq!(foreign.status, 404);
    assert!(!foreign.body.contains(CANARY_EMAIL));

    let text = logs.text();
    for canary in canaries() {
        assert!(!text.contains(canary), "a log line holds PII");
    }
}

#[tokio::test]
async fn forged_replayed_and_cross_site_forms_change_nothing() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let owner = sign_in(&base, OWNER).await;
    let settings = get(&base, "/app/settings", Some(&owner)).await;
    let csrf = settings.csrf();
    let keys_before = settings.body.matches("/revoke").count();
    let other = sign_in(&base, OPERATOR).await;
    let other_csrf = get(&base, "/app/needs-action", Some(&other)).await.csrf();

    let cases: [(&str, Option<&str>, Form); 5] = [
        (
            "no token",
            Some(&base),
            vec![("name", "k"), ("access", "read")],
        ),
        (
            "wrong token",
            Some(&base),
            vec![("csrf", "0000"), ("name", "k"), ("access", "read")],
        ),
        (
            "another session's token",
            Some(&base),
            vec![("csrf", &other_csrf), ("name", "k"), ("access", "read")],
        ),
        (
            "another site",
            Some("https://evil.example"),
            vec![("csrf", &csrf), ("name", "k"), ("access", "read")],
        ),
        (
            "twice the token",
            Some(&base),
            vec![
                ("csrf", &csrf),
                ("csrf", &csrf),
                ("name", "k"),
                ("access", "read"),
            ],
        ),
    ];
    for (what, origin, form) in cases {
        let answer = post(&base, "/app/settings/keys", Some(&owner), origin, &form).await;
        assert_eq!(answer.status, 403, "{what}");
        assert!(answer.body.contains("data-reason=\"csrf\""), "{what}");
    }
    // A sign-in posted from another site is refused too (login CSRF).
    let answer = post(
        &base,
        "/app/sign-in",
        None,
        Some("https://evil.example"),
        &[
            ("account", "demo-merchant"),
            ("email", OWNER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(answer.status, 403);
    assert!(answer.set_cookies().is_empty());
    let after = get(&base, "/app/settings", Some(&owner)).await;
    assert_eq!(
        after.body.matches("/revoke").count(),
        keys_before,
        "no key was made"
    );

    // The real form works, and a key revoked from the dashboard stops working.
    let made = post(
        &base,
        "/app/settings/keys",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("name", "warehouse pc"),
            ("access", "read"),
        ],
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let start = made.body.find("<code>rck_").expect("the key, shown once") + "<code>".len();
    let key = &made.body[start..made.body[start..].find('<').expect("end") + start];
    let listed = client()
        .get(format!("{base}/v1/orders"))
        .bearer_auth(key)
        .send()
        .await
        .expect("sent");
    assert_eq!(listed.status().as_u16(), 200);
    let page = get(&base, "/app/settings", Some(&owner)).await;
    assert!(!page.body.contains(key), "a key is shown once");
    // The revoke form in the new key's row.
    let row = page
        .body
        .find("<td>warehouse pc</td>")
        .expect("the new key is listed");
    let at = row
        + page.body[row..]
            .find("/app/settings/keys/")
            .expect("a revoke form");
    let revoke = page.body[at..at + "/app/settings/keys/".len() + 16].to_owned();
    let revoked = action(&base, &format!("{revoke}/revoke"), &owner, &csrf).await;
    assert_eq!(revoked.status, 303);
    let listed = client()
        .get(format!("{base}/v1/orders"))
        .bearer_auth(key)
        .send()
        .await
        .expect("sent");
    assert_eq!(listed.status().as_u16(), 401);
}

#[tokio::test]
async fn a_planted_session_is_never_promoted_and_sign_out_everywhere_ends_them_all() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    // The attacker's own valid session, planted in the victim's browser before they sign in.
    let planted = sign_in(&base, VIEWER).await;
    let answer = post(
        &base,
        "/app/sign-in",
        Some(&planted),
        Some(&base),
        &[
            ("account", "demo-merchant"),
            ("email", OWNER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(answer.status, 303);
    let fresh = answer.set_cookies()[0]
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert_ne!(fresh, planted, "a new session id at sign-in");
    let old = get(&base, "/app/needs-action", Some(&planted)).await;
    assert_eq!(old.status, 303, "the planted session ended");
    let page = get(&base, "/app/settings", Some(&fresh)).await;
    assert!(page.body.contains("Signed in as owner"));

    // Made-up, malformed and duplicated session cookies are no session.
    for cookie in [
        "__Host-rc_session=rcd_0000000000000000000000000000000000000000000000000000000000000000"
            .to_owned(),
        "__Host-rc_session=../../etc".to_owned(),
        format!("{fresh}; {fresh}"),
    ] {
        assert_eq!(
            get(&base, "/app/orders", Some(&cookie)).await.status,
            303,
            "{cookie}"
        );
    }

    // Two browsers; signing out everywhere from one ends both.
    let second = sign_in(&base, OWNER).await;
    let out = post(
        &base,
        "/app/sign-out-everywhere",
        Some(&second),
        Some(&base),
        &[(
            "csrf",
            &get(&base, "/app/orders", Some(&second)).await.csrf(),
        )],
    )
    .await;
    assert_eq!(out.status, 303);
    for cookie in [&fresh, &second] {
        assert_eq!(get(&base, "/app/orders", Some(cookie)).await.status, 303);
    }
}

#[tokio::test]
async fn wrong_passwords_are_refused_alike_and_then_throttled() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let attempt = |email: &'static str, password: &'static str| {
        let base = base.clone();
        async move {
            post(
                &base,
                "/app/sign-in",
                None,
                Some(&base),
                &[
                    ("account", "demo-merchant"),
                    ("email", email),
                    ("password", password),
                ],
            )
            .await
        }
    };
    let wrong = attempt(OWNER, "not the password").await;
    let unknown = attempt("nobody@demo.retailcoder.example", "not the password").await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(
        wrong.body, unknown.body,
        "the same answer whether or not the user exists"
    );
    assert!(wrong.set_cookies().is_empty());
    for _ in 0..4 {
        assert_eq!(attempt(OWNER, "still not it").await.status, 401);
    }
    // Five failures: the right password is refused too, for a while.
    let throttled = attempt(OWNER, PASSWORD).await;
    assert_eq!(throttled.status, 429);
    assert!(throttled.set_cookies().is_empty());
    // Other users are not locked out by it.
    assert_eq!(attempt(OPERATOR, PASSWORD).await.status, 303);

    // Bad input: no PII or values echoed, the right status, nothing panics.
    for form in [
        vec![("account", "demo-merchant")],
        vec![
            ("account", "../x"),
            ("email", OWNER),
            ("password", PASSWORD),
        ],
        vec![
            ("account", "demo-merchant"),
            ("email", OWNER),
            ("password", &"x".repeat(500)),
        ],
    ] {
        let answer = post(&base, "/app/sign-in", None, Some(&base), &form).await;
        assert_eq!(answer.status, 401);
        assert!(!answer.body.contains("../x"));
    }
    let json = client()
        .post(format!("{base}/app/sign-in"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(json.status().as_u16(), 400);
}

#[tokio::test]
async fn an_owner_adds_a_user_who_must_choose_a_password_and_roles_stay_within_bounds() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let owner = sign_in(&base, OWNER).await;
    let settings = get(&base, "/app/settings", Some(&owner)).await;
    let csrf = settings.csrf();
    let added = post(
        &base,
        "/app/settings/users",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("email", "new.admin@demo.retailcoder.example"),
            ("role", "admin"),
        ],
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let start = added
        .body
        .find("<code>")
        .expect("the first password, shown once")
        + "<code>".len();
    let first = added.body[start..start + 24].to_owned();
    assert!(
        added.body.contains("new.admin@demo.retailcoder.example"),
        "listed for the owner"
    );
    let again = post(
        &base,
        "/app/settings/users",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("email", "NEW.ADMIN@demo.retailcoder.example"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert!(again.body.contains("A user with that e-mail exists."));

    // The new admin signs in with it and is sent to choose their own before anything else.
    let signed = post(
        &base,
        "/app/sign-in",
        None,
        Some(&base),
        &[
            ("account", "demo-merchant"),
            ("email", "new.admin@demo.retailcoder.example"),
            ("password", &first),
        ],
    )
    .await;
    assert_eq!((signed.status, signed.location()), (303, "/app/settings"));
    let admin = signed.set_cookies()[0]
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let orders = get(&base, "/app/orders", Some(&admin)).await;
    assert_eq!((orders.status, orders.location()), (303, "/app/settings"));
    let page = get(&base, "/app/settings", Some(&admin)).await;
    assert!(page.body.contains("Choose your own password"));
    let short = post(
        &base,
        "/app/settings/password",
        Some(&admin),
        Some(&base),
        &[
            ("csrf", &page.csrf()),
            ("current", &first),
            ("new", "short"),
        ],
    )
    .await;
    assert!(short.body.contains("12 to 128 characters"));
    let changed = post(
        &base,
        "/app/settings/password",
        Some(&admin),
        Some(&base),
        &[
            ("csrf", &page.csrf()),
            ("current", &first),
            ("new", "a new admin password"),
        ],
    )
    .await;
    assert_eq!(changed.status, 303);
    let rotated = changed.set_cookies()[0]
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert_ne!(rotated, admin, "a new session after a new password");
    assert_eq!(
        get(&base, "/app/orders", Some(&admin)).await.status,
        303,
        "the old session ended"
    );
    assert_eq!(get(&base, "/app/orders", Some(&rotated)).await.status, 200);
    let old = post(
        &base,
        "/app/sign-in",
        None,
        Some(&base),
        &[
            ("account", "demo-merchant"),
            ("email", "new.admin@demo.retailcoder.example"),
            ("password", &first),
        ],
    )
    .await;
    assert_eq!(old.status, 401, "the first password no longer works");

    // An admin cannot make owners, nor remove the owner.
    let page = get(&base, "/app/settings", Some(&rotated)).await;
    assert!(!page.body.contains("<option value=\"owner\">"));
    let made_owner = post(
        &base,
        "/app/settings/users",
        Some(&rotated),
        Some(&base),
        &[
            ("csrf", &page.csrf()),
            ("email", "x@demo.retailcoder.example"),
            ("role", "owner"),
        ],
    )
    .await;
    assert_eq!(made_owner.status, 403);
    let owner_id = demo_user_id(OWNER);
    let removed = action(
        &base,
        &format!("/app/settings/users/{owner_id}/remove"),
        &rotated,
        &page.csrf(),
    )
    .await;
    assert_eq!(removed.status, 403);
    // Nor reset the owner's password, nor their own from here.
    for id in [
        &owner_id,
        &demo_user_id("new.admin@demo.retailcoder.example"),
    ] {
        let reset = action(
            &base,
            &format!("/app/settings/users/{id}/reset"),
            &rotated,
            &page.csrf(),
        )
        .await;
        assert_eq!(reset.status, 403);
    }
    // A viewer manages nobody.
    let viewer = sign_in(&base, VIEWER).await;
    let page = get(&base, "/app/settings", Some(&viewer)).await;
    assert!(!page.body.contains("id=\"users\""));
    let denied = post(
        &base,
        "/app/settings/users",
        Some(&viewer),
        Some(&base),
        &[
            ("csrf", &page.csrf()),
            ("email", "y@demo.retailcoder.example"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(denied.status, 403);

    // The admin forgot their password: the owner gives a new first password, shown once; the
    // admin's sessions end, the old password stops working, the new one must be changed.
    let page = get(&base, "/app/settings", Some(&owner)).await;
    let admin_id = demo_user_id("new.admin@demo.retailcoder.example");
    let reset = action(
        &base,
        &format!("/app/settings/users/{admin_id}/reset"),
        &owner,
        &page.csrf(),
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let start = reset.body.find("<code>").expect("shown once") + "<code>".len();
    let renewed = reset.body[start..start + 24].to_owned();
    assert_eq!(get(&base, "/app/orders", Some(&rotated)).await.status, 303);
    let sign_in_with = |password: String| {
        let base = base.clone();
        async move {
            post(
                &base,
                "/app/sign-in",
                None,
                Some(&base),
                &[
                    ("account", "demo-merchant"),
                    ("email", "new.admin@demo.retailcoder.example"),
                    ("password", &password),
                ],
            )
            .await
        }
    };
    assert_eq!(
        sign_in_with("a new admin password".into()).await.status,
        401
    );
    let again = sign_in_with(renewed).await;
    assert_eq!((again.status, again.location()), (303, "/app/settings"));
    let rotated = again.set_cookies()[0]
        .split(';')
        .next()
        .expect("pair")
        .to_owned();

    // The owner removes the admin: their session ends with them.
    let gone = action(
        &base,
        &format!("/app/settings/users/{admin_id}/remove"),
        &owner,
        &page.csrf(),
    )
    .await;
    assert_eq!(gone.status, 303);
    let after = get(&base, "/app/orders", Some(&rotated)).await;
    assert_eq!((after.status, after.location()), (303, "/app/sign-in"));
    let actions: Vec<String> = audit(&base)
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    for action in [
        "user_added",
        "password_changed",
        "password_reset",
        "user_removed",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn the_owner_starts_a_connect_flow_and_cancels_the_account_from_settings() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let owner = sign_in(&base, OWNER).await;
    let settings = get(&base, "/app/settings", Some(&owner)).await;
    assert!(
        settings.body.contains("demo-shop.myshopify.com"),
        "the connected shop"
    );
    assert!(settings.body.contains("id=\"cancel\""));
    let csrf = settings.csrf();

    // The consent page is a link to follow, with a single-use state.
    let started = post(
        &base,
        "/app/settings/connect/shopify",
        Some(&owner),
        Some(&base),
        &[("csrf", &csrf), ("shop", "new-shop.myshopify.com")],
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(
        started.body.contains("/admin/oauth/authorize?"),
        "{}",
        started.body
    );
    assert!(started.body.contains("state=rcs_"));
    let bad = post(
        &base,
        "/app/settings/connect/shopify",
        Some(&owner),
        Some(&base),
        &[("csrf", &csrf), ("shop", "not a shop")],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(!bad.body.contains("not a shop"), "no request value echoed");

    // An operator sees neither the connections nor the cancellation.
    let operator = sign_in(&base, OPERATOR).await;
    let page = get(&base, "/app/settings", Some(&operator)).await;
    assert!(!page.body.contains("id=\"connections\"") && !page.body.contains("id=\"cancel\""));
    let refused = post(
        &base,
        "/app/settings/cancel",
        Some(&operator),
        Some(&base),
        &[("csrf", &page.csrf()), ("confirm", "demo-merchant")],
    )
    .await;
    assert_eq!(refused.status, 403);

    // A wrong confirmation changes nothing; the right one cancels and ends every session.
    let wrong = post(
        &base,
        "/app/settings/cancel",
        Some(&owner),
        Some(&base),
        &[("csrf", &csrf), ("confirm", "demo")],
    )
    .await;
    assert!(wrong.body.contains("Type the account id exactly"));
    assert_eq!(get(&base, "/app/orders", Some(&owner)).await.status, 200);
    let cancelled = post(
        &base,
        "/app/settings/cancel",
        Some(&owner),
        Some(&base),
        &[("csrf", &csrf), ("confirm", "demo-merchant")],
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert!(cancelled.body.contains("data-reason=\"account_cancelled\""));
    assert!(cancelled.set_cookies()[0].contains("Max-Age=0"));
    for cookie in [&owner, &operator] {
        assert_eq!(get(&base, "/app/orders", Some(cookie)).await.status, 303);
    }
    let again = post(
        &base,
        "/app/sign-in",
        None,
        Some(&base),
        &[
            ("account", "demo-merchant"),
            ("email", OWNER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(again.status, 401, "a cancelled account signs nobody in");
}

#[tokio::test]
async fn every_export_the_form_offers_is_accepted_and_a_double_click_is_one_export() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let owner = sign_in(&base, OWNER).await;
    let page = get(&base, "/app/exports", Some(&owner)).await;
    let csrf = page.csrf();
    let kinds: Vec<String> = page
        .body
        .match_indices("<option value=\"")
        .map(|(i, m)| {
            let rest = &page.body[i + m.len()..];
            rest[..rest.find('"').expect("end")].to_owned()
        })
        .filter(|v| v != "csv" && v != "jsonl")
        .collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    for kind in &kinds {
        let (from, to) = if kind == "inventory" || kind == "account" {
            ("", "")
        } else {
            ("2026-11-01", "2026-11-30")
        };
        let made = post(
            &base,
            "/app/exports",
            Some(&owner),
            Some(&base),
            &[
                ("csrf", &csrf),
                ("kind", kind),
                ("format", "csv"),
                ("from", from),
                ("to", to),
            ],
        )
        .await;
        assert_eq!(
            (made.status, made.location()),
            (303, "/app/exports"),
            "{kind}: {}",
            made.body
        );
    }
    // The same form sent twice (a double click) is the same export.
    let again = post(
        &base,
        "/app/exports",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("kind", "inventory"),
            ("format", "csv"),
            ("from", ""),
            ("to", ""),
        ],
    )
    .await;
    assert_eq!(again.status, 303);
    let listed: serde_json::Value = client()
        .get(format!("{base}/v1/exports"))
        .bearer_auth("rck_e2e_api_key")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["exports"].as_array().map(Vec::len), Some(7));
    // A range the API refuses is a 400 with nothing stored.
    let refused = post(
        &base,
        "/app/exports",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("kind", "orders"),
            ("format", "csv"),
            ("from", "2026-11-30"),
            ("to", "2026-11-01"),
        ],
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.headers["x-rc-reason"], "from_after_to");
}

#[tokio::test]
async fn an_order_short_of_stock_waits_on_needs_action_until_stock_arrives() {
    let (host, config, _dir) = support::start_local_host_with(|config| {
        config.order_processing_interval = Some(std::time::Duration::from_millis(50));
    })
    .await;
    let base = format!("http://{}", host.addr);
    let mut order: serde_json::Value =
        serde_json::from_str(rc_local_host::DEMO_ORDER).expect("fixture");
    order["id"] = serde_json::json!(880_100);
    // One line of a seeded SKU, more than the warehouse holds.
    let mut line = order["line_items"][0].clone();
    line["sku"] = serde_json::json!("TSHIRT-RED-M");
    line["quantity"] = serde_json::json!(5_000);
    order["line_items"] = serde_json::json!([line]);
    let (status, _) = post_webhook(
        &base,
        &config,
        "orders/create",
        "dash-short",
        serde_json::to_vec(&order).expect("json"),
    )
    .await;
    assert_eq!(status, 200);
    let waiting = || async {
        let page: serde_json::Value = client()
            .get(format!("{base}/v1/orders?status=needs_action"))
            .bearer_auth("rck_e2e_api_key")
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        page["orders"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = waiting().await;
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(listed, ["shopify-880100"], "backordered, in the index");
    let owner = sign_in(&base, OWNER).await;
    let page = get(&base, "/app/needs-action", Some(&owner)).await;
    assert!(page.body.contains("/app/orders/shopify-880100"));
    assert!(page.body.contains("badge backordered"));
    // A status that does not exist is refused, not ignored.
    let refused = client()
        .get(format!("{base}/v1/orders?status=shipped-ish"))
        .bearer_auth("rck_e2e_api_key")
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 422);
    // Failed marketplace confirmations: none here; only `state=failed` is a filter.
    let failures: serde_json::Value = client()
        .get(format!("{base}/v1/confirmations?state=failed"))
        .bearer_auth("rck_e2e_api_key")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(failures, serde_json::json!({"shipments": []}));
    let refused = client()
        .get(format!("{base}/v1/confirmations?state=pending"))
        .bearer_auth("rck_e2e_api_key")
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 422);
    assert!(page.body.contains("Marketplace confirmations that failed"));

    // Stock arrives: the order is reserved and leaves the list (its entry removed with the move).
    let skus: Vec<String> = order["line_items"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["sku"].as_str().map(str::to_owned))
        .collect();
    for sku in &skus {
        let answer = client()
            .post(format!("{base}/v1/inventory/{sku}/adjustments"))
            .bearer_auth("rck_e2e_api_key")
            .header("content-type", "application/json")
            .body(format!(r#"{{"warehouse": "main", "kind": "receive", "quantity": 20000, "reason": "po-{sku}"}}"#))
            .send()
            .await
            .expect("sent");
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap_or_default()
        );
    }
    for _ in 0..100 {
        listed = waiting().await;
        if listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(listed.is_empty(), "{listed:?}");
    let page = get(&base, "/app/needs-action", Some(&owner)).await;
    assert!(!page.body.contains("/app/orders/shopify-880100"));
}

/// The merchant API as the e2e key: the status and the JSON body (null if none).
async fn api(base: &str, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
    let response = client()
        .request(method, format!("{base}{path}"))
        .bearer_auth("rck_e2e_api_key")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn api_get(base: &str, path: &str) -> serde_json::Value {
    api(base, reqwest::Method::GET, path).await.1
}

/// Two canary orders through the Shopify webhook; the second marked shipped now.
async fn two_orders_one_shipped(base: &str, config: &rc_local_host::LocalConfig, ids: [u64; 2]) {
    for id in ids {
        let (status, _) = post_webhook(
            base,
            config,
            "orders/create",
            &format!("two-orders-{id}"),
            support::canary_order(id),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = api(
        base,
        reqwest::Method::POST,
        &format!("/v1/orders/shopify-{}/shipped", ids[1]),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_center_lists_orders_by_days_left_before_deletion() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    // One ships now (30 days left); the other, placed 2026-11-20 and never shipped, keeps its
    // buyer data 90 days from placement at most.
    two_orders_one_shipped(&base, &config, [880_101, 880_102]).await;
    let deadlines = |query: &'static str| {
        let base = base.clone();
        async move {
            api(
                &base,
                reqwest::Method::GET,
                &format!("/v1/privacy/deadlines{query}"),
            )
            .await
        }
    };
    let (status, all) = deadlines("").await;
    assert_eq!(status, 200, "{all}");
    let listed: Vec<(&str, i64)> = all["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| {
            (
                o["order"].as_str().unwrap_or_default(),
                o["days_left"].as_i64().unwrap_or(-99),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2, "{all}");
    assert_eq!(
        listed[0].0, "shopify-880102",
        "earliest deletion first: {all}"
    );
    assert!((29..=30).contains(&listed[0].1), "{all}");
    assert_eq!(listed[1].0, "shopify-880101");
    assert!(listed[1].1 > 30 && listed[1].1 <= 90, "{all}");
    let (_, soon) = deadlines("?within_days=30").await;
    assert_eq!(soon["orders"].as_array().map(Vec::len), Some(1), "{soon}");
    for bad in ["?within_days=abc", "?within_days=-1", "?within_days=3651"] {
        let (status, body) = deadlines(bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_filter")),
            "{bad}: {body}"
        );
        assert!(!body.to_string().contains("abc"), "no request value echoed");
    }
    let (status, _) = deadlines("?after=not-a-cursor").await;
    assert_eq!(status, 404);

    // The dashboard's privacy center: both, soonest first, each linking to its order; a horizon
    // leaves the other out. A viewer sees it too (nothing in it is buyer data).
    let cookie = sign_in(&base, VIEWER).await;
    let page = get(&base, "/app/privacy", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    let first = page
        .body
        .find("/app/orders/shopify-880102")
        .expect("shipped order listed");
    let second = page
        .body
        .find("/app/orders/shopify-880101")
        .expect("unshipped order listed");
    assert!(first < second, "soonest first");
    let page = get(&base, "/app/privacy?within=30", Some(&cookie)).await;
    assert!(page.body.contains("/app/orders/shopify-880102"));
    assert!(!page.body.contains("/app/orders/shopify-880101"));
    // The audit trail newest first (the dashboard's order), the same entries as oldest first.
    for _ in 0..2 {
        sign_in(&base, OWNER).await;
    }
    let seqs = |body: serde_json::Value| -> Vec<u64> {
        body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .collect()
    };
    let oldest = api_get(&base, "/v1/privacy/audit").await;
    let newest = api_get(&base, "/v1/privacy/audit?order=newest").await;
    let mut forward = seqs(oldest);
    assert!(forward.len() >= 2, "{forward:?}");
    forward.reverse();
    assert_eq!(seqs(newest), forward);
    let (status, _) = api(
        &base,
        reqwest::Method::GET,
        "/v1/privacy/receipts?order=sideways",
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.body.contains("Audit log (newest first)"));
    // A horizon outside the offered ones reads as "all"; nothing is echoed.
    let page = get(&base, "/app/privacy?within=%3Cb%3E", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/app/orders/shopify-880101"));
    assert!(!page.body.contains("<b>"));
    for canary in canaries() {
        assert!(!page.body.contains(canary));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_filtered_by_status_and_channel_from_their_indexes() {
    let (host, config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    two_orders_one_shipped(&base, &config, [880_201, 880_202]).await;
    let api = |query: &'static str| {
        let base = base.clone();
        async move {
            let (status, body) =
                api(&base, reqwest::Method::GET, &format!("/v1/orders{query}")).await;
            let ids: Vec<String> = body["orders"]
                .as_array()
                .map(|orders| {
                    orders
                        .iter()
                        .filter_map(|o| o["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (status, ids, body)
        }
    };
    let (_, shipped, _) = api("?status=shipped").await;
    assert_eq!(shipped, ["shopify-880202"]);
    let (_, shopify_shipped, _) = api("?status=shipped&channel=shopify").await;
    assert_eq!(shopify_shipped, ["shopify-880202"]);
    let (_, amazon, _) = api("?channel=amazon").await;
    assert!(amazon.is_empty(), "{amazon:?}");
    let (_, shopify, _) = api("?channel=shopify").await;
    assert_eq!(shopify.len(), 2);
    // The other order was processed by the order worker meanwhile: whatever status it reached,
    // it is listed under exactly that one.
    let (_, all, body) = api("").await;
    let other = body["orders"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["id"] == "shopify-880201"))
        .and_then(|o| o["status"].as_str())
        .expect("other order")
        .to_owned();
    assert_eq!(all.len(), 2);
    for status in [
        "received",
        "backordered",
        "reserved",
        "needs_attention",
        "label_created",
        "shipped",
        "delivered",
        "cancelled",
    ] {
        let query: &'static str = Box::leak(format!("?status={status}").into_boxed_str());
        let (code, ids, _) = api(query).await;
        assert_eq!(code, 200);
        let expected = usize::from(status == other) + usize::from(status == "shipped");
        assert_eq!(ids.len(), expected, "{status}: {ids:?}");
    }
    for bad in [
        "?status=SHIPPED",
        "?status=%3Cscript%3E",
        "?channel=ebay",
        "?status=",
    ] {
        let (code, _, body) = api(bad).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (422, Some("unknown_filter")),
            "{bad}"
        );
        assert!(!body.to_string().contains("ebay") && !body.to_string().contains("script"));
    }

    // The dashboard: the same filters as links, each keeping the other; anything else is "all".
    let cookie = sign_in(&base, VIEWER).await;
    let page = get(&base, "/app/orders?status=shipped", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/app/orders/shopify-880202"));
    assert!(!page.body.contains("/app/orders/shopify-880201"));
    assert!(
        page.body
            .contains("href=\"/app/orders?status=shipped&#38;channel=amazon\"")
    );
    let page = get(
        &base,
        "/app/orders?status=shipped&channel=amazon",
        Some(&cookie),
    )
    .await;
    assert!(!page.body.contains("/app/orders/shopify-880202"));
    let page = get(
        &base,
        "/app/orders?status=%3Cb%3Ex&channel=ebay",
        Some(&cookie),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/app/orders/shopify-880201"));
    assert!(!page.body.contains("<b>") && !page.body.contains("ebay"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouses_routing_and_couriers_are_edited_from_the_dashboard_within_each_role() {
    let (host, _config, _dir) = start_local_host().await;
    let base = format!("http://{}", host.addr);
    let owner = sign_in(&base, OWNER).await;
    // The settings page itself: every section in the page's body, none in its title.
    let settings = get(&base, "/app/settings", Some(&owner)).await;
    assert!(
        settings
            .body
            .contains("<title>Settings · RetailCoder</title>")
    );
    let main = &settings.body[settings.body.find("<main").expect("main")..];
    for section in [
        "Channel connections",
        "Cancel the account",
        "/app/settings/shipping",
    ] {
        assert!(main.contains(section), "{section}");
    }
    // The profile, edited by the owner; a refusal names the field, never the value typed.
    let profile = |company: &'static str, currency: &'static str| {
        let base = base.clone();
        let owner = owner.clone();
        let csrf = settings.csrf();
        async move {
            post(
                &base,
                "/app/settings/profile",
                Some(&owner),
                Some(&base),
                &[
                    ("csrf", csrf.as_str()),
                    ("company_name", company),
                    ("default_currency", currency),
                    ("time_zone", "Europe/London"),
                    ("contact_name", "Dana Demo"),
                    ("contact_email", "dana@demo.retailcoder.example"),
                ],
            )
            .await
        }
    };
    let saved = profile("Demo Goods Ltd", "gbp").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let account = api_get(&base, "/v1/account").await;
    assert_eq!(
        (
            account["company_name"].as_str(),
            account["default_currency"].as_str()
        ),
        (Some("Demo Goods Ltd"), Some("GBP"))
    );
    let refused = profile("Other Name Ltd", "QQQX").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("currency") && !refused.body.contains("QQQX"));
    assert_eq!(
        api_get(&base, "/v1/account").await["company_name"],
        "Demo Goods Ltd"
    );

    let page = get(&base, "/app/settings/shipping", Some(&owner)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Save routing") && page.body.contains("Save courier account"));
    let csrf = page.csrf();

    // A courier account, with its tracking webhook shown once; its secret never is.
    let saved = post(
        &base,
        "/app/settings/couriers",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("kind", "sandbox"),
            ("name", "dash"),
            ("api_key", "sandbox-key-from-the-form"),
            ("webhook_secret", "hook-secret-from-the-form"),
        ],
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.body.contains("/tracking/"), "the webhook path, once");
    assert!(!saved.body.contains("sandbox-key-from-the-form"));
    assert!(!saved.body.contains("hook-secret-from-the-form"));
    let couriers = api_get(&base, "/v1/couriers").await;
    assert!(
        couriers["couriers"]
            .as_array()
            .expect("couriers")
            .iter()
            .any(|c| c["kind"] == "sandbox" && c["name"] == "dash"),
        "{couriers}"
    );

    // No such warehouse yet: the form for a new one names it.
    let new = get(&base, "/app/settings/new-warehouse", Some(&owner)).await;
    assert!(new.body.contains("name=\"id\" required"));
    // A new warehouse from the form, then edited: the API has exactly what the form said.
    let fields = |priority: &'static str, country: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("id", "west".to_owned()),
            ("name", "East coast".to_owned()),
            ("address_name", "Acme Fulfilment".to_owned()),
            ("line1", "1 Dock Street".to_owned()),
            ("line2", String::new()),
            ("city", "Newark".to_owned()),
            ("postal_code", "07102".to_owned()),
            ("phone", String::new()),
            ("country", country.to_owned()),
            ("region", "NJ".to_owned()),
            ("priority", priority.to_owned()),
            ("active", "yes".to_owned()),
            ("courier", "sandbox/dash".to_owned()),
            ("choose", "fastest".to_owned()),
            ("fixed_courier", String::new()),
            ("fixed_service", String::new()),
            ("cutoff_time", "17:30".to_owned()),
            ("cutoff_offset", "-05:00".to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let base = base.clone();
        let owner = owner.clone();
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(
                &base,
                "/app/settings/warehouses",
                Some(&owner),
                Some(&base),
                &pairs,
            )
            .await
        }
    };
    let created = send(fields("20", "US")).await;
    assert_eq!(
        (created.status, created.location()),
        (303, "/app/settings/shipping"),
        "{}",
        created.body
    );
    let stored = api_get(&base, "/v1/warehouses/west").await;
    assert_eq!(stored["priority"], 20, "{stored}");
    assert_eq!(stored["region"], "NJ");
    assert_eq!(stored["service"]["choose"], "fastest");
    assert_eq!(stored["cutoff"]["time"], "17:30");
    assert_eq!(stored["couriers"][0]["name"], "dash");
    let edit = get(&base, "/app/settings/warehouses/west", Some(&owner)).await;
    assert_eq!(edit.status, 200);
    assert!(edit.body.contains("value=\"1 Dock Street\""), "prefilled");
    assert!(
        edit.body
            .contains("value=\"sandbox/dash\" class=\"check\" checked")
    );
    let edited = send(fields("5", "US")).await;
    assert_eq!(edited.status, 303);
    assert_eq!(api_get(&base, "/v1/warehouses/west").await["priority"], 5);

    // Refused by the API: the form again with the stored values and the field named, never
    // the value sent; nothing changed.
    let refused = send(fields("5", "USA-ish")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("Not saved:") && refused.body.contains("country"));
    assert!(!refused.body.contains("USA-ish"));
    assert_eq!(api_get(&base, "/v1/warehouses/west").await["country"], "US");

    // Routing rules from the editor's rows; blank rows are no rules.
    let mut rules: Vec<(&str, &str)> = vec![("csrf", &csrf), ("allow_split", "yes")];
    for row in [
        ["east-coast", "US", "NJ, NY", "", "shopify", "east, main"],
        ["", "", "", "", "", ""],
    ] {
        for (name, value) in [
            "name",
            "countries",
            "regions",
            "postal_prefixes",
            "channels",
            "warehouses",
        ]
        .into_iter()
        .zip(row)
        {
            rules.push((name, value));
        }
    }
    let routed = post(
        &base,
        "/app/settings/routing",
        Some(&owner),
        Some(&base),
        &rules,
    )
    .await;
    assert_eq!(routed.status, 303, "{}", routed.body);
    let routing = api_get(&base, "/v1/routing").await;
    assert_eq!(routing["allow_split"], true);
    assert_eq!(
        routing["rules"],
        serde_json::json!([{"name": "east-coast", "countries": ["US"], "regions": ["NJ", "NY"], "postal_prefixes": [], "channels": ["shopify"], "warehouses": ["east", "main"]}]),
        "{routing}"
    );
    let page = get(&base, "/app/settings/shipping", Some(&owner)).await;
    assert!(page.body.contains("value=\"east-coast\""));
    assert!(page.body.contains("value=\"NJ, NY\""));
    let bad = post(
        &base,
        "/app/settings/routing",
        Some(&owner),
        Some(&base),
        &[
            ("csrf", &csrf),
            ("name", "x"),
            ("countries", "Narnia"),
            ("regions", ""),
            ("postal_prefixes", ""),
            ("channels", ""),
            ("warehouses", "east"),
        ],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(!bad.body.contains("Narnia"));
    assert_eq!(
        api_get(&base, "/v1/routing").await["rules"][0]["name"],
        "east-coast"
    );

    // An operator edits stock settings but never sees courier accounts; a viewer edits nothing.
    let operator = sign_in(&base, OPERATOR).await;
    let page = get(&base, "/app/settings/shipping", Some(&operator)).await;
    assert!(page.body.contains("Save routing"));
    assert!(!page.body.contains("Courier accounts"));
    let operator_settings = get(&base, "/app/settings", Some(&operator)).await;
    assert!(!operator_settings.body.contains("Save profile"));
    assert!(
        !operator_settings.body.contains("dana@"),
        "the billing contact is not theirs"
    );
    let denied = post(
        &base,
        "/app/settings/profile",
        Some(&operator),
        Some(&base),
        &[
            ("csrf", &operator_settings.csrf()),
            ("company_name", "Hijacked Ltd"),
            ("default_currency", "USD"),
            ("time_zone", "UTC"),
            ("contact_name", "X"),
            ("contact_email", "x@example.com"),
        ],
    )
    .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        api_get(&base, "/v1/account").await["company_name"],
        "Demo Goods Ltd"
    );
    let viewer = sign_in(&base, VIEWER).await;
    let page = get(&base, "/app/settings/shipping", Some(&viewer)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("east-coast") && !page.body.contains("Save routing"));
    let forbidden = post(
        &base,
        "/app/settings/routing",
        Some(&viewer),
        Some(&base),
        &[("csrf", &page.csrf()), ("allow_split", "yes")],
    )
    .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        get(&base, "/app/settings/warehouses/west", Some(&viewer))
            .await
            .status,
        403
    );
    assert_eq!(api_get(&base, "/v1/routing").await["allow_split"], true);

    // Removing: the warehouse record, then the courier account.
    let deleted = action(&base, "/app/settings/warehouses/west/delete", &owner, &csrf).await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let (gone, _) = api(&base, reqwest::Method::GET, "/v1/warehouses/west").await;
    assert_eq!(gone, 404);
    let removed = action(
        &base,
        "/app/settings/couriers/sandbox/dash/remove",
        &owner,
        &csrf,
    )
    .await;
    assert_eq!(removed.status, 303);
    let couriers = api_get(&base, "/v1/couriers").await;
    assert!(
        !couriers["couriers"]
            .as_array()
            .expect("couriers")
            .iter()
            .any(|c| c["name"] == "dash")
    );
}
