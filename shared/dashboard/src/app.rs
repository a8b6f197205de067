//! The dashboard's HTTP handler: `/app/...` pages and forms. Thin: it authenticates the
//! session, checks the form's CSRF token and origin, asks the merchant API (as the user, with
//! the scopes of their role) and renders the answer. Every page is HTML with a strict
//! Content-Security-Policy, no third-party origin, and `Cache-Control: no-store`.

use std::sync::Arc;

use askama::Template;
use aws_lc_rs::digest::{SHA256, digest};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use rc_api::MerchantApi;
use rc_domain::MerchantId;
use rc_orders::{AuditEvent, AuditLog, KeyOwner, PresentedKey};
use rc_vault::Vault;
use serde_json::{Value, json};

mod shipping;

use crate::cookies::{self, Dates, Preferences};
use crate::pages::{
    BuyerView, Cell, Chrome, ErrorPage, ExportRow, ExportsPage, Filter, FilterGroup, OrderPage,
    Section, SettingsPage, SignInPage, TablePage, money, text, when,
};
use crate::password::Password;
use crate::roles::Role;
use crate::sessions::{Session, SessionRepository};
use crate::throttle::SignInThrottle;
use crate::users::{User, UserError, UserRepository};

/// The client's address (from API Gateway's `sourceIp` or the local host's peer), put in the
/// request's extensions by the glue — never read from a header a client could set.
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

/// The largest form body.
const MAX_FORM: usize = 16 * 1024;

/// No third-party origin, no inline script or style, no framing, forms only to ourselves.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");

/// Shipment statuses a merchant must act on, in the order the needs-action page lists them.
const NEEDS_ACTION: [(&str, &str); 5] = [
    ("label_failed", "Labels that could not be bought"),
    ("delivery_attempted", "Delivery attempts that failed"),
    ("undeliverable", "Undeliverable"),
    ("return_to_origin", "Returning to the warehouse"),
    ("lost", "Lost"),
];

const SHIPMENT_STATUSES: [&str; 15] = [
    "awaiting_label",
    "purchasing",
    "label_created",
    "label_failed",
    "voided",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivery_attempted",
    "undeliverable",
    "return_to_origin",
    "returned",
    "delivered",
    "lost",
    "cancelled",
];

/// Why a request ends without its page.
#[derive(Debug)]
enum Fail {
    /// No live session: to the sign-in page.
    SignIn,
    NotFound,
    /// The user's role lacks what the page needs.
    Forbidden,
    /// A form without this session's CSRF token, or from another origin.
    Csrf,
    /// The form or the request is not one we take (a machine-readable reason).
    Refused(String),
    TooMany,
    MethodNotAllowed,
    /// The store or a service is busy for a moment (the API's 503): try again.
    Unavailable,
    Internal,
}

/// A signed-in user and what they act with.
struct Signed {
    session: Session,
    user: User,
    caller: PresentedKey,
    prefs: Preferences,
}

impl Signed {
    fn chrome(&self, active: &str) -> Chrome {
        Chrome::new(
            active,
            self.user.role.as_str(),
            &self.session.csrf,
            self.prefs,
        )
    }

    fn merchant(&self) -> &MerchantId {
        &self.session.merchant
    }
}

pub struct Dashboard {
    api: Arc<MerchantApi>,
    users: Arc<UserRepository>,
    sessions: Arc<SessionRepository>,
    throttle: Arc<SignInThrottle>,
    audit: Arc<AuditLog>,
    vault: Arc<Vault>,
}

type Form = Vec<(String, String)>;

/// The one value of `name` in a form (a repeated field is no value).
fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    let mut values = form.iter().filter(|(k, _)| k == name);
    let first = values.next()?;
    values.next().is_none().then_some(first.1.as_str())
}

fn html(status: StatusCode, page: &impl Template) -> Response<Bytes> {
    match page.render() {
        Ok(body) => {
            let mut response = Response::new(Bytes::from(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            let mut response = Response::new(Bytes::from_static(b"Internal error"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

fn redirect(location: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn with_cookie(mut response: Response<Bytes>, cookie: &str) -> Response<Bytes> {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn fail_page(fail: Fail) -> Response<Bytes> {
    let (status, title, message, reason) = match fail {
        Fail::SignIn => return redirect("/app/sign-in"),
        Fail::NotFound => (
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or it is not part of your account.",
            "not_found",
        ),
        Fail::Forbidden => (
            StatusCode::FORBIDDEN,
            "Not allowed for your role",
            "Your role cannot do this. An owner or admin of the account can change your role.",
            "insufficient_role",
        ),
        Fail::Csrf => (
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form was not sent from your current session. Open the page again and retry.",
            "csrf",
        ),
        Fail::Refused(reason) => {
            let mut page = html(
                StatusCode::BAD_REQUEST,
                &ErrorPage {
                    title: "Not accepted",
                    message: "The request was not accepted; nothing was changed.",
                    reason: "refused",
                },
            );
            // The API's machine-readable reason (never a request value).
            if let Ok(value) = HeaderValue::from_str(&crate::pages::css_word(&reason)) {
                page.headers_mut().insert("x-rc-reason", value);
            }
            return page;
        }
        Fail::TooMany => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many sign-in attempts. Wait 15 minutes and try again.",
            "too_many_attempts",
        ),
        Fail::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            "Not available",
            "This address does not take that kind of request.",
            "method_not_allowed",
        ),
        Fail::Unavailable => {
            let mut page = html(
                StatusCode::SERVICE_UNAVAILABLE,
                &ErrorPage {
                    title: "Busy for a moment",
                    message: "This page could not be made just now; nothing was changed. Reload it \
                              in a second.",
                    reason: "temporarily_unavailable",
                },
            );
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return page;
        }
        Fail::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Something went wrong on our side; nothing was changed. Try again in a moment.",
            "internal",
        ),
    };
    html(
        status,
        &ErrorPage {
            title,
            message,
            reason,
        },
    )
}

/// The headers every dashboard answer carries.
fn secure(response: &mut Response<Bytes>, cacheable: bool) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set("content-security-policy", CSP);
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "same-origin");
    set("x-frame-options", "DENY");
    set("cross-origin-opener-policy", "same-origin");
    set("cross-origin-resource-policy", "same-origin");
    set(
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    set("strict-transport-security", "max-age=31536000");
    set(
        "cache-control",
        if cacheable {
            "public, max-age=300"
        } else {
            "no-store"
        },
    );
}

/// Whether a form was sent from this site: the `Origin` a browser sends with every POST must
/// name our own host; without it, `Sec-Fetch-Site` must say same-origin. (A client that sends
/// neither is no browser, so no cross-site request forgery can come through it.)
fn same_origin(request: &Request<Bytes>) -> bool {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        return origin_host.is_some() && origin_host == host;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

fn form(request: &Request<Bytes>) -> Result<Form, Fail> {
    let body = request.body();
    if body.len() > MAX_FORM {
        return Err(Fail::Refused("form_too_large".into()));
    }
    let urlencoded = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !urlencoded {
        return Err(Fail::Refused("unsupported_media_type".into()));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

fn query(request: &Request<Bytes>, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A path segment that is an id we could have issued: the identifier alphabet only (anything
/// else is not found, and never reaches the API or a log).
fn id_segment(raw: &str) -> Result<&str, Fail> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok { Ok(raw) } else { Err(Fail::NotFound) }
}

fn encode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

impl Dashboard {
    pub fn new(
        api: Arc<MerchantApi>,
        users: Arc<UserRepository>,
        sessions: Arc<SessionRepository>,
        throttle: Arc<SignInThrottle>,
        audit: Arc<AuditLog>,
        vault: Arc<Vault>,
    ) -> Self {
        Self {
            api,
            users,
            sessions,
            throttle,
            audit,
            vault,
        }
    }

    /// Handles one request under `/app`.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let is_static = request.uri().path().starts_with("/app/static/");
        let mut response = match self.route(request).await {
            Ok(response) => response,
            Err(fail) => fail_page(fail),
        };
        let cacheable = is_static && response.status() == StatusCode::OK;
        secure(&mut response, cacheable);
        response
    }

    async fn route(&self, request: Request<Bytes>) -> Result<Response<Bytes>, Fail> {
        let path = request.uri().path().to_owned();
        let Some(rest) = path.strip_prefix("/app") else {
            return Err(Fail::NotFound);
        };
        let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
        let get = request.method() == Method::GET;
        let post = request.method() == Method::POST;
        match segments.as_slice() {
            [""] if get => return Ok(redirect("/app/needs-action")),
            ["static", "app.css"] if get => return Ok(asset(CSS, "text/css; charset=utf-8")),
            ["static", "app.js"] if get => {
                return Ok(asset(JS, "text/javascript; charset=utf-8"));
            }
            ["sign-in"] if get => return Ok(html(StatusCode::OK, &SignInPage { error: None })),
            ["sign-in"] if post => return self.sign_in(&request).await,
            ["sign-in"] => return Err(Fail::MethodNotAllowed),
            _ => {}
        }
        let signed = self.signed(&request).await?;
        if !get && !post {
            return Err(Fail::MethodNotAllowed);
        }
        let form = if post {
            let form = form(&request)?;
            // The origin first, then this session's token: a forged or replayed form changes
            // nothing.
            let token = field(&form, "csrf").unwrap_or_default();
            if !same_origin(&request) || !signed.session.csrf_matches(token) {
                return Err(Fail::Csrf);
            }
            form
        } else {
            Vec::new()
        };
        if signed.user.must_change_password
            && !matches!(
                segments.as_slice(),
                ["settings"] | ["settings", "password"] | ["sign-out"]
            )
        {
            return Ok(redirect("/app/settings"));
        }
        match (post, segments.as_slice()) {
            (false, ["needs-action"]) => self.needs_action(&signed).await,
            (false, ["orders"]) => self.orders(&signed, &request).await,
            (false, ["orders", id]) => self.order(&signed, id_segment(id)?, None).await,
            (true, ["orders", id, "buyer"]) => {
                let reason = field(&form, "reason").unwrap_or_default().to_owned();
                self.order(&signed, id_segment(id)?, Some(reason)).await
            }
            (false, ["shipments"]) => self.shipments(&signed, &request).await,
            (true, ["shipments", id, "void"]) => {
                let id = id_segment(id)?;
                self.api(
                    &signed,
                    Method::POST,
                    &format!("/v1/shipments/{id}/void"),
                    None,
                )
                .await?;
                Ok(redirect("/app/shipments?status=voided"))
            }
            (false, ["shipments", id, "label"]) => self.label(&signed, id_segment(id)?).await,
            (false, ["inventory"]) => self.inventory(&signed, &request).await,
            (false, ["inventory", sku]) => self.sku(&signed, id_segment(sku)?).await,
            (false, ["exports"]) => self.exports(&signed).await,
            (true, ["exports"]) => self.request_export(&signed, &form).await,
            (false, ["exports", id, "download"]) => self.download(&signed, id_segment(id)?).await,
            (false, ["privacy"]) => self.privacy(&signed, &request).await,
            (false, ["settings"]) => self.settings(&signed, None, None).await,
            (true, ["settings", "keys"]) => self.create_key(&signed, &form).await,
            (true, ["settings", "profile"]) => self.save_profile(&signed, &form).await,
            (true, ["settings", "keys", id, "revoke"]) => {
                let id = id_segment(id)?;
                self.api(&signed, Method::DELETE, &format!("/v1/api-keys/{id}"), None)
                    .await?;
                Ok(redirect("/app/settings"))
            }
            (true, ["settings", "users"]) => self.add_user(&signed, &form).await,
            (true, ["settings", "users", id, "remove"]) => {
                self.remove_user(&signed, id_segment(id)?).await
            }
            (true, ["settings", "users", id, "reset"]) => {
                self.reset_user(&signed, id_segment(id)?).await
            }
            (true, ["settings", "password"]) => self.change_password(&signed, &form).await,
            (true, ["settings", "connect", channel]) => self.connect(&signed, channel, &form).await,
            (true, ["settings", "cancel"]) => self.cancel_account(&signed, &form).await,
            (false, ["settings", "shipping"]) => self.shipping(&signed, None, None).await,
            (false, ["settings", "new-warehouse"]) => self.warehouse(&signed, None, None).await,
            (false, ["settings", "warehouses", id]) => {
                self.warehouse(&signed, Some(id_segment(id)?), None).await
            }
            (true, ["settings", "warehouses"]) => self.save_warehouse(&signed, &form).await,
            (true, ["settings", "warehouses", id, "delete"]) => {
                self.delete_warehouse(&signed, id_segment(id)?).await
            }
            (true, ["settings", "routing"]) => self.save_routing(&signed, &form).await,
            (true, ["settings", "couriers"]) => self.save_courier(&signed, &form).await,
            (true, ["settings", "couriers", kind, name, "remove"]) => {
                self.remove_courier(&signed, kind, id_segment(name)?).await
            }
            (true, ["preferences"]) => {
                let chosen = Preferences::from_form(
                    field(&form, "density").unwrap_or_default(),
                    field(&form, "dates").unwrap_or_default(),
                )
                .ok_or(Fail::Refused("unknown_preference".into()))?;
                Ok(with_cookie(redirect("/app/settings"), &chosen.cookie()))
            }
            (true, ["sign-out"]) => {
                self.sessions
                    .end(&signed.session)
                    .await
                    .map_err(|_| Fail::Internal)?;
                Ok(with_cookie(
                    redirect("/app/sign-in"),
                    &cookies::clear_session(),
                ))
            }
            (true, ["sign-out-everywhere"]) => {
                self.users
                    .sign_out_everywhere(signed.merchant(), &signed.user.id)
                    .await
                    .map_err(|_| Fail::Internal)?;
                self.record(&signed, "signed_out_everywhere", "").await?;
                Ok(with_cookie(
                    redirect("/app/sign-in"),
                    &cookies::clear_session(),
                ))
            }
            _ => Err(Fail::NotFound),
        }
    }

    /// The live session the request's cookie names, and its user (still there, same
    /// generation, account open).
    async fn signed(&self, request: &Request<Bytes>) -> Result<Signed, Fail> {
        let cookie_header = request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok());
        let token = cookies::read(cookie_header, cookies::SESSION).ok_or(Fail::SignIn)?;
        let session = self
            .sessions
            .find(token)
            .await
            .map_err(|_| Fail::Internal)?
            .ok_or(Fail::SignIn)?;
        let user = self
            .users
            .get(&session.merchant, &session.user)
            .await
            .map_err(|_| Fail::Internal)?;
        let closed = self
            .vault
            .is_closed(&session.merchant)
            .await
            .map_err(|_| Fail::Internal)?;
        let Some(user) = user.filter(|u| u.generation == session.generation && !closed) else {
            let _ = self.sessions.end(&session).await;
            return Err(Fail::SignIn);
        };
        self.sessions.touch(&session).await;
        let caller = PresentedKey::for_user(
            KeyOwner::Active(session.merchant.clone()),
            user.role.scopes(),
            format!("user:{}", user.id),
        );
        Ok(Signed {
            prefs: Preferences::parse(cookies::read(cookie_header, cookies::PREFS)),
            session,
            user,
            caller,
        })
    }

    async fn sign_in(&self, request: &Request<Bytes>) -> Result<Response<Bytes>, Fail> {
        if !same_origin(request) {
            return Err(Fail::Csrf);
        }
        let form = form(request)?;
        let refused = || {
            html(
                StatusCode::UNAUTHORIZED,
                &SignInPage {
                    error: Some("The account id, e-mail or password is not right."),
                },
            )
        };
        let account = field(&form, "account").unwrap_or_default().trim();
        let email = field(&form, "email").unwrap_or_default();
        let address = request
            .extensions()
            .get::<ClientAddress>()
            .map(|a| a.0.clone())
            .unwrap_or_else(|| "unknown".into());
        let Some(password) =
            Password::presented(field(&form, "password").unwrap_or_default().to_owned())
        else {
            return Ok(refused());
        };
        if !self
            .throttle
            .allowed(account, email, &address)
            .await
            .map_err(|_| Fail::Internal)?
        {
            return Err(Fail::TooMany);
        }
        let user = match MerchantId::parse(account) {
            Ok(merchant) if !email.is_empty() => self
                .users
                .authenticate(&merchant, email, &password)
                .await
                .map_err(|_| Fail::Internal)?,
            _ => {
                crate::password::verify_nobody(&password);
                None
            }
        };
        let closed = match &user {
            Some(user) => self
                .vault
                .is_closed(&user.merchant)
                .await
                .map_err(|_| Fail::Internal)?,
            None => false,
        };
        let Some(user) = user.filter(|_| !closed) else {
            self.throttle
                .failed(account, email, &address)
                .await
                .map_err(|_| Fail::Internal)?;
            return Ok(refused());
        };
        // A session the browser already holds is never promoted (fixation): it ends, and a new
        // token is issued.
        let cookie_header = request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok());
        if let Some(old) = cookies::read(cookie_header, cookies::SESSION) {
            self.sessions.end_token(old).await;
        }
        let (token, session) = self
            .sessions
            .start(&user.merchant, &user.id, user.generation)
            .await
            .map_err(|_| Fail::Internal)?;
        let _ = self.throttle.succeeded(account, email).await;
        self.append(
            &user.merchant,
            "sign_in",
            &format!("user:{}", user.id),
            &session.user,
        )
        .await?;
        let next = if user.must_change_password {
            "/app/settings"
        } else {
            "/app/needs-action"
        };
        Ok(with_cookie(redirect(next), &cookies::session(&token)))
    }

    async fn append(
        &self,
        merchant: &MerchantId,
        action: &'static str,
        actor: &str,
        subject: &str,
    ) -> Result<(), Fail> {
        let request_id = rc_orders::random_hex::<8>().unwrap_or_default();
        self.audit
            .append(
                merchant,
                AuditEvent {
                    action,
                    purpose: "dashboard",
                    actor,
                    subject,
                    orders: &[],
                    request_id: &request_id,
                },
            )
            .await
            .map(|_| ())
            .map_err(|_| Fail::Internal)
    }

    async fn record(
        &self,
        signed: &Signed,
        action: &'static str,
        subject: &str,
    ) -> Result<(), Fail> {
        self.append(
            signed.merchant(),
            action,
            &format!("user:{}", signed.user.id),
            subject,
        )
        .await
    }

    /// Asks the merchant API as the user: its JSON answer, or why not.
    /// One call to the merchant API as the signed-in user: its status and JSON body.
    async fn call(
        &self,
        signed: &Signed,
        method: Method,
        uri: &str,
        body: Option<(Value, Option<String>)>,
    ) -> Result<(u16, Value), Fail> {
        let mut builder = Request::builder().method(method).uri(uri);
        let bytes = match body {
            Some((body, idempotency)) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                if let Some(key) = idempotency {
                    builder = builder.header("idempotency-key", key);
                }
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder.body(bytes).map_err(|_| Fail::Internal)?;
        let response = self.api.handle_as(signed.caller.clone(), request).await;
        let value: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Ok((response.status().as_u16(), value))
    }

    async fn api(
        &self,
        signed: &Signed,
        method: Method,
        uri: &str,
        body: Option<(Value, Option<String>)>,
    ) -> Result<Value, Fail> {
        let (status, value) = self.call(signed, method, uri, body).await?;
        api_outcome(status, value)
    }

    /// [`Self::api`] for a form's change: a refusal comes back as the API's message (it names
    /// fields and rules, never a value sent), for the page to show next to the form.
    async fn api_change(
        &self,
        signed: &Signed,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Result<Result<Value, String>, Fail> {
        let (status, value) = self
            .call(signed, method, uri, body.map(|b| (b, None)))
            .await?;
        match status {
            400 | 409 | 422 => Ok(Err(text(&value, "/message"))),
            _ => api_outcome(status, value).map(Ok),
        }
    }

    /// The same, where a role without the scope sees the page without that part.
    async fn api_if_allowed(&self, signed: &Signed, uri: &str) -> Result<Option<Value>, Fail> {
        match self.api(signed, Method::GET, uri, None).await {
            Ok(value) => Ok(Some(value)),
            Err(Fail::Forbidden) => Ok(None),
            Err(other) => Err(other),
        }
    }

    fn now(&self) -> i64 {
        self.sessions.now()
    }

    async fn needs_action(&self, signed: &Signed) -> Result<Response<Bytes>, Fail> {
        let now = self.now();
        let waiting = self
            .api(signed, Method::GET, "/v1/orders?status=needs_action", None)
            .await?;
        let mut sections = vec![Section {
            heading: "Orders waiting for stock or a routing decision".into(),
            columns: vec!["Order", "Channel", "Status", "Placed", "Lines"],
            rows: rows(&waiting["orders"], |o| order_cells(o, signed.prefs, now)),
            empty: "Nothing here.",
            next: None,
        }];
        let failed = self
            .api(signed, Method::GET, "/v1/confirmations?state=failed", None)
            .await?;
        sections.push(Section {
            heading: "Marketplace confirmations that failed".into(),
            columns: shipment_columns(),
            rows: self.shipment_rows(signed, &failed),
            empty: "Nothing here.",
            next: None,
        });
        let stalled = self
            .api(signed, Method::GET, "/v1/tracking?state=stalled", None)
            .await?;
        sections.push(Section {
            heading: "Tracking gone quiet (no courier event for 5 days)".into(),
            columns: shipment_columns(),
            rows: self.shipment_rows(signed, &stalled),
            empty: "Nothing here.",
            next: None,
        });
        for (status, heading) in NEEDS_ACTION {
            let page = self
                .api(
                    signed,
                    Method::GET,
                    &format!("/v1/shipments?status={status}"),
                    None,
                )
                .await?;
            let rows = self.shipment_rows(signed, &page);
            sections.push(Section {
                heading: heading.into(),
                columns: shipment_columns(),
                rows,
                empty: "Nothing here.",
                next: page["next"]
                    .as_str()
                    .map(|n| format!("/app/shipments?status={status}&after={}", encode(n))),
            });
        }
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/needs-action"),
                title: "Needs action".into(),
                intro: "What waits for you: orders short of stock or that routing could not \
                        place, marketplace confirmations and labels that failed, parcels the \
                        couriers went quiet about, deliveries that did not happen, parcels on \
                        their way back or lost."
                    .into(),
                filters: Vec::new(),
                sections,
            },
        ))
    }

    fn shipment_rows(&self, signed: &Signed, page: &Value) -> Vec<Vec<Cell>> {
        let now = self.now();
        page["shipments"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        let order = text(s, "/order");
                        let status = text(s, "/status");
                        let mut row = vec![
                            Cell::text(text(s, "/id")),
                            Cell::link(order.clone(), format!("/app/orders/{}", encode(&order))),
                            Cell::text(text(s, "/warehouse")),
                            Cell::badge(status.clone()),
                            Cell::text(text(s, "/purchase/carrier")),
                            Cell::text(text(s, "/purchase/tracking_code")),
                            Cell::text(shipment_note(s)),
                            Cell::text(when(s.pointer("/journey/since"), signed.prefs, now)),
                        ];
                        let id = encode(&text(s, "/id"));
                        row.push(if status == "label_created" {
                            Cell::link("Print label", format!("/app/shipments/{id}/label"))
                        } else {
                            Cell::text("")
                        });
                        row.push(if status == "label_created" {
                            Cell::action("Void label", format!("/app/shipments/{id}/void"))
                        } else {
                            Cell::text("")
                        });
                        row
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn orders(
        &self,
        signed: &Signed,
        request: &Request<Bytes>,
    ) -> Result<Response<Bytes>, Fail> {
        // Both filters come from closed lists: anything else reads as "all" and is never echoed.
        let status = query(request, "status").filter(|s| ORDER_STATUSES.contains(&s.as_str()));
        let channel = query(request, "channel").filter(|c| CHANNELS.contains(&c.as_str()));
        let link = |status: Option<&str>, channel: Option<&str>| {
            let params: Vec<String> = [("status", status), ("channel", channel)]
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| format!("{name}={v}")))
                .collect();
            if params.is_empty() {
                "/app/orders".to_owned()
            } else {
                format!("/app/orders?{}", params.join("&"))
            }
        };
        let filtered = link(status.as_deref(), channel.as_deref());
        let mut uri = filtered.replacen("/app/orders", "/v1/orders", 1);
        if let Some(after) = query(request, "after") {
            uri = with_query(&uri, "after", &encode(&after));
        }
        let page = self.api(signed, Method::GET, &uri, None).await?;
        let now = self.now();
        let filters = vec![
            FilterGroup {
                label: "Status",
                choices: std::iter::once(None)
                    .chain(ORDER_STATUSES.iter().map(Some))
                    .map(|s| Filter {
                        href: link(s.copied(), channel.as_deref()),
                        label: s.map_or("all".into(), |s| s.replace('_', " ")),
                        active: status.as_deref() == s.copied(),
                    })
                    .collect(),
            },
            FilterGroup {
                label: "Channel",
                choices: std::iter::once(None)
                    .chain(CHANNELS.iter().map(Some))
                    .map(|c| Filter {
                        href: link(status.as_deref(), c.copied()),
                        label: c.map_or("all", |c| *c).to_owned(),
                        active: channel.as_deref() == c.copied(),
                    })
                    .collect(),
            },
        ];
        let heading = match (&status, &channel) {
            (None, None) => "All orders".to_owned(),
            (status, channel) => format!(
                "Orders: {}",
                [
                    status.as_deref().map(|s| s.replace('_', " ")),
                    channel.as_deref().map(|c| format!("from {c}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
            ),
        };
        let rows = rows(&page["orders"], |o| {
            let mut cells = order_cells(o, signed.prefs, now);
            cells.push(Cell::text(money(&o["totals"]["total"])));
            cells.push(Cell::text(text(o, "/buyer_pii")));
            cells
        });
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/orders"),
                title: "Orders".into(),
                intro: String::new(),
                filters,
                sections: vec![Section {
                    heading,
                    columns: vec![
                        "Order",
                        "Channel",
                        "Status",
                        "Placed",
                        "Lines",
                        "Total",
                        "Buyer details",
                    ],
                    rows,
                    empty: "No order here.",
                    next: page["next"]
                        .as_str()
                        .map(|n| with_query(&filtered, "after", &encode(n))),
                }],
            },
        ))
    }

    async fn order(
        &self,
        signed: &Signed,
        id: &str,
        reveal: Option<String>,
    ) -> Result<Response<Bytes>, Fail> {
        let order = self
            .api(signed, Method::GET, &format!("/v1/orders/{id}"), None)
            .await?;
        // Revealed only on an explicit request naming its reason (the API records it).
        let (buyer, purged) = match reveal {
            Some(reason) => {
                let answer = self
                    .api(
                        signed,
                        Method::POST,
                        &format!("/v1/orders/{id}/buyer"),
                        Some((json!({ "reason": reason }), None)),
                    )
                    .await?;
                buyer_view(&answer)
            }
            None => (None, text(&order, "/buyer_pii") == "purged"),
        };
        let shipments = self
            .api(
                signed,
                Method::GET,
                &format!("/v1/orders/{id}/shipments"),
                None,
            )
            .await?;
        let tax = match self
            .api(signed, Method::GET, &format!("/v1/orders/{id}/tax"), None)
            .await
        {
            Ok(tax) => tax,
            Err(Fail::NotFound) => Value::Null,
            Err(other) => return Err(other),
        };
        let now = self.now();
        let currency = text(&order, "/currency");
        let deadline = match order.get("pii_deadline") {
            Some(Value::Object(d)) => format!(
                "{} ({})",
                when(d.get("at"), signed.prefs, now),
                relative_days(d.get("at"), now)
            ),
            _ if text(&order, "/buyer_pii") == "purged" => "Deleted".into(),
            _ => "30 days after it ships".into(),
        };
        let page = OrderPage {
            chrome: signed.chrome("/app/orders"),
            id: id.to_owned(),
            reference: text(&order, "/channel_reference"),
            channel: text(&order, "/channel"),
            status: text(&order, "/status"),
            placed: when(order.get("placed_at"), signed.prefs, now),
            total: money(&order["totals"]["total"]),
            deadline,
            stock: match order.get("reservation") {
                Some(Value::Object(r)) => {
                    let state = r.get("state").and_then(Value::as_str).unwrap_or_default();
                    let why = r
                        .get("note")
                        .and_then(Value::as_str)
                        .or_else(|| {
                            r.get("routing")
                                .and_then(|d| d.get("attention"))
                                .and_then(Value::as_str)
                        })
                        .unwrap_or_default();
                    if why.is_empty() {
                        state.replace('_', " ")
                    } else {
                        format!("{}: {why}", state.replace('_', " "))
                    }
                }
                _ => "not processed yet".into(),
            },
            lines: order["lines"]
                .as_array()
                .map(|lines| {
                    lines
                        .iter()
                        .map(|l| {
                            let mut price = l["unit_price"].clone();
                            if price.get("currency").is_none() && price.is_object() {
                                price["currency"] = json!(currency);
                            }
                            (text(l, "/sku"), text(l, "/quantity"), money(&price))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            shipments: shipments["shipments"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|s| {
                            (
                                text(s, "/id"),
                                text(s, "/warehouse"),
                                text(s, "/status"),
                                text(s, "/purchase/carrier"),
                                text(s, "/purchase/tracking_code"),
                                shipment_note(s),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            tax: tax_rows(&tax),
            buyer,
            purged,
            can_reveal: signed.caller.has(rc_orders::Scope::PiiRead),
        };
        Ok(html(StatusCode::OK, &page))
    }

    async fn shipments(
        &self,
        signed: &Signed,
        request: &Request<Bytes>,
    ) -> Result<Response<Bytes>, Fail> {
        let status = query(request, "status").unwrap_or_else(|| "awaiting_label".into());
        let status = SHIPMENT_STATUSES
            .into_iter()
            .find(|s| *s == status)
            .ok_or(Fail::NotFound)?;
        let mut uri = format!("/v1/shipments?status={status}");
        if let Some(after) = query(request, "after") {
            uri.push_str(&format!("&after={}", encode(&after)));
        }
        let page = self.api(signed, Method::GET, &uri, None).await?;
        let rows = self.shipment_rows(signed, &page);
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/shipments"),
                title: "Shipments".into(),
                intro: "The label queue and every shipment by status. A label is bought once; \
                        voiding refunds it before pickup."
                    .into(),
                filters: vec![FilterGroup {
                    label: "Status",
                    choices: SHIPMENT_STATUSES
                        .iter()
                        .map(|s| Filter {
                            href: format!("/app/shipments?status={s}"),
                            label: s.replace('_', " "),
                            active: *s == status,
                        })
                        .collect(),
                }],
                sections: vec![Section {
                    heading: status.replace('_', " "),
                    columns: shipment_columns(),
                    rows,
                    empty: "No shipment in this state.",
                    next: page["next"]
                        .as_str()
                        .map(|n| format!("/app/shipments?status={status}&after={}", encode(n))),
                }],
            },
        ))
    }

    async fn inventory(
        &self,
        signed: &Signed,
        request: &Request<Bytes>,
    ) -> Result<Response<Bytes>, Fail> {
        let uri = page_uri("/v1/inventory", request, "after");
        let page = self.api(signed, Method::GET, &uri, None).await?;
        let rows = page["skus"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        let sku = text(s, "/sku");
                        vec![
                            Cell::link(sku.clone(), format!("/app/inventory/{}", encode(&sku))),
                            Cell::text(text(s, "/available")),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/inventory"),
                title: "Inventory".into(),
                intro: "Free units per SKU across warehouses; open a SKU for each warehouse and \
                        what each channel may sell."
                    .into(),
                filters: Vec::new(),
                sections: vec![Section {
                    heading: "SKUs".into(),
                    columns: vec!["SKU", "Free units"],
                    rows,
                    empty: "No stock recorded yet.",
                    next: page["next"]
                        .as_str()
                        .map(|n| format!("/app/inventory?after={}", encode(n))),
                }],
            },
        ))
    }

    async fn sku(&self, signed: &Signed, sku: &str) -> Result<Response<Bytes>, Fail> {
        let stock = self
            .api(
                signed,
                Method::GET,
                &format!("/v1/inventory/{}", encode(sku)),
                None,
            )
            .await?;
        let levels = object_rows(&stock["warehouses"], |warehouse, level| {
            vec![
                Cell::text(warehouse),
                Cell::text(text(level, "/on_hand")),
                Cell::text(text(level, "/reserved")),
                Cell::text(text(level, "/available")),
            ]
        });
        let listings = stock["listings"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|l| {
                        vec![
                            Cell::text(text(l, "/listing/target/channel")),
                            Cell::text(listing_name(&l["listing"]["target"])),
                            Cell::text(text(l, "/available_to_sell")),
                            Cell::text(text(l, "/listing/last_pushed")),
                            Cell::text(text(l, "/listing/last_error")),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/inventory"),
                title: format!("SKU {}", text(&stock, "/sku")),
                intro: format!("{} free units in all.", text(&stock, "/available")),
                filters: Vec::new(),
                sections: vec![
                    Section {
                        heading: "Per warehouse".into(),
                        columns: vec!["Warehouse", "On hand", "Reserved", "Free"],
                        rows: levels,
                        empty: "No stock in any warehouse.",
                        next: None,
                    },
                    Section {
                        heading: "What each channel may sell".into(),
                        columns: vec![
                            "Channel",
                            "Listing",
                            "May sell",
                            "Last pushed",
                            "Push error",
                        ],
                        rows: listings,
                        empty: "Not listed on any channel.",
                        next: None,
                    },
                ],
            },
        ))
    }

    /// The label document, to print again: it shows the buyer's address, so it takes
    /// `pii:read` and the API records the opening; passed through as the API serves it.
    async fn label(&self, signed: &Signed, id: &str) -> Result<Response<Bytes>, Fail> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("/v1/shipments/{id}/label"))
            .body(Bytes::new())
            .map_err(|_| Fail::Internal)?;
        let answer = self.api.handle_as(signed.caller.clone(), request).await;
        match answer.status().as_u16() {
            200 => {}
            404 => return Err(Fail::NotFound),
            403 => return Err(Fail::Forbidden),
            401 | 410 => return Err(Fail::SignIn),
            _ => return Err(Fail::Internal),
        }
        let content_type = answer
            .headers()
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
        let mut response = Response::new(answer.into_body());
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
        if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"label-{id}\"")) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
        Ok(response)
    }

    async fn exports(&self, signed: &Signed) -> Result<Response<Bytes>, Fail> {
        let page = self.api(signed, Method::GET, "/v1/exports", None).await?;
        let now = self.now();
        let exports = page["exports"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        let state = text(e, "/state");
                        ExportRow {
                            id: text(e, "/id"),
                            created: when(e.get("created_at"), signed.prefs, now),
                            kind: text(e, "/kind"),
                            format: text(e, "/format"),
                            ready: state == "ready",
                            note: match state.as_str() {
                                "failed" => text(e, "/reason"),
                                "expired" | "deleted" => "deleted".into(),
                                _ => String::new(),
                            },
                            rows: text(e, "/rows"),
                            state,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(html(
            StatusCode::OK,
            &ExportsPage {
                chrome: signed.chrome("/app/exports"),
                exports,
            },
        ))
    }

    async fn request_export(&self, signed: &Signed, form: &Form) -> Result<Response<Bytes>, Fail> {
        let kind = field(form, "kind").unwrap_or_default();
        let format = field(form, "format").unwrap_or_default();
        let mut body = json!({"kind": kind, "format": format});
        for bound in ["from", "to"] {
            if let Some(day) = field(form, bound).filter(|d| !d.is_empty()) {
                body[bound] = json!(day);
            }
        }
        // A double click within the minute is the same export.
        let minute = self.now() / 60;
        let idempotency = rc_domain::to_hex(
            digest(
                &SHA256,
                format!("{}\0{body}\0{minute}", signed.session.csrf).as_bytes(),
            )
            .as_ref(),
        );
        self.api(
            signed,
            Method::POST,
            "/v1/exports",
            Some((body, Some(idempotency))),
        )
        .await?;
        Ok(redirect("/app/exports"))
    }

    async fn download(&self, signed: &Signed, id: &str) -> Result<Response<Bytes>, Fail> {
        let export = self
            .api(signed, Method::GET, &format!("/v1/exports/{id}"), None)
            .await?;
        let url = text(&export, "/download/url");
        if url.is_empty() {
            return Err(Fail::NotFound);
        }
        Ok(redirect(&url))
    }

    async fn privacy(
        &self,
        signed: &Signed,
        request: &Request<Bytes>,
    ) -> Result<Response<Bytes>, Fail> {
        // Verifying the whole receipt chain reads every receipt: only when asked for, so the
        // page itself stays a few store queries whatever the account's history.
        let chain = if query(request, "verify").as_deref() == Some("1") {
            let verify = self
                .api(signed, Method::GET, "/v1/privacy/receipts/verify", None)
                .await?;
            let intact = verify["problem"].is_null();
            vec![vec![
                Cell::badge(if intact { "intact" } else { "broken" }),
                Cell::text(text(&verify, "/receipts")),
                Cell::text(text(&verify, "/problem/problem")),
            ]]
        } else {
            vec![vec![
                Cell::text("not checked on this visit"),
                Cell::text(""),
                Cell::link("Verify the whole chain now", "/app/privacy?verify=1".into()),
            ]]
        };
        // Orders by days left before their buyer data is deleted, optionally only those due
        // within a horizon chosen from a closed list (anything else reads as "all").
        let within = query(request, "within").filter(|w| DEADLINE_HORIZONS.contains(&w.as_str()));
        let mut deadlines_uri = "/v1/privacy/deadlines".to_owned();
        if let Some(days) = &within {
            deadlines_uri = with_query(&deadlines_uri, "within_days", days);
        }
        if let Some(after) = query(request, "deadlines_after") {
            deadlines_uri = with_query(&deadlines_uri, "after", &encode(&after));
        }
        let deadlines = self.api(signed, Method::GET, &deadlines_uri, None).await?;
        // Both trails newest first: what happened lately is what a merchant looks for.
        let receipts_uri =
            newest_first(page_uri("/v1/privacy/receipts", request, "receipts_after"));
        let receipts = self.api(signed, Method::GET, &receipts_uri, None).await?;
        let requests = self
            .api(signed, Method::GET, "/v1/privacy/requests", None)
            .await?;
        let audit_uri = newest_first(page_uri("/v1/privacy/audit", request, "after"));
        let audit = self.api(signed, Method::GET, &audit_uri, None).await?;
        let now = self.now();
        let deadline_rows = rows(&deadlines["orders"], |o| {
            let order = text(o, "/order");
            let days = o["days_left"].as_i64().unwrap_or_default();
            vec![
                Cell::link(order.clone(), format!("/app/orders/{}", encode(&order))),
                Cell::text(when(o.get("pii_deadline"), signed.prefs, now)),
                Cell::badge(match days {
                    ..0 => "overdue, being deleted".to_owned(),
                    0 => "today".to_owned(),
                    1 => "1 day".to_owned(),
                    days => format!("{days} days"),
                }),
            ]
        });
        let receipt_rows = rows(&receipts["receipts"], |r| {
            vec![
                Cell::text(text(r, "/seq")),
                Cell::text(text(r, "/kind")),
                Cell::text(text(r, "/order")),
                Cell::text(when(r.get("at").or(r.get("deleted_at")), signed.prefs, now)),
                Cell::text(text(r, "/hash").chars().take(16).collect::<String>()),
            ]
        });
        let request_rows = rows(&requests["requests"], |r| {
            vec![
                Cell::text(text(r, "/kind").replace('_', " ")),
                Cell::badge(text(r, "/status")),
                Cell::text(when(r.get("received_at"), signed.prefs, now)),
                Cell::text(when(r.get("fulfilled_at"), signed.prefs, now)),
                Cell::text(r["orders"].as_array().map_or(0, Vec::len).to_string()),
            ]
        });
        let audit_rows = rows(&audit["entries"], |e| {
            vec![
                Cell::text(text(e, "/seq")),
                Cell::text(when(
                    e["at_ms"].as_i64().map(|ms| json!(ms / 1000)).as_ref(),
                    signed.prefs,
                    now,
                )),
                Cell::text(text(e, "/action")),
                Cell::text(text(e, "/purpose")),
                Cell::text(text(e, "/actor")),
                Cell::text(text(e, "/subject")),
                Cell::text(joined(&e["orders"], ", ")),
            ]
        });
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/privacy"),
                title: "Privacy center".into(),
                intro: "Buyer details are deleted 30 days after an order ships, and at once when \
                        the account is cancelled. Every deletion leaves a receipt in a hash chain; \
                        every time someone opens buyer details, the audit log says who and why."
                    .into(),
                filters: vec![FilterGroup {
                    label: "Buyer data deleted",
                    choices: std::iter::once(None)
                        .chain(DEADLINE_HORIZONS.iter().map(Some))
                        .map(|days| Filter {
                            href: days.map_or("/app/privacy".into(), |d| {
                                format!("/app/privacy?within={d}")
                            }),
                            label: days.map_or("any time".into(), |d| format!("within {d} days")),
                            active: within.as_deref() == days.copied(),
                        })
                        .collect(),
                }],
                sections: vec![
                    Section {
                        heading: "Buyer data by days left before deletion".into(),
                        columns: vec!["Order", "Deleted by", "Days left"],
                        rows: deadline_rows,
                        empty: "No order holds buyer data in this range.",
                        next: deadlines["next"].as_str().map(|n| {
                            let page = within.as_deref().map_or("/app/privacy".into(), |d| {
                                format!("/app/privacy?within={d}")
                            });
                            with_query(&page, "deadlines_after", &encode(n))
                        }),
                    },
                    Section {
                        heading: "Receipt chain".into(),
                        columns: vec!["State", "Receipts checked", "Problem"],
                        rows: chain,
                        empty: "",
                        next: None,
                    },
                    Section {
                        heading: "Deletion receipts (newest first)".into(),
                        columns: vec!["#", "Kind", "Order", "When", "Hash"],
                        rows: receipt_rows,
                        empty: "No deletion yet.",
                        next: receipts["next"]
                            .as_str()
                            .map(|n| format!("/app/privacy?receipts_after={}", encode(n))),
                    },
                    Section {
                        heading: "Data requests from the channels".into(),
                        columns: vec!["Request", "Status", "Received", "Fulfilled", "Orders"],
                        rows: request_rows,
                        empty: "No data request received.",
                        next: None,
                    },
                    Section {
                        heading: "Audit log (newest first)".into(),
                        columns: vec!["#", "When", "Action", "Purpose", "Who", "Subject", "Orders"],
                        rows: audit_rows,
                        empty: "Nothing recorded yet.",
                        next: audit["next"]
                            .as_str()
                            .map(|n| format!("/app/privacy?after={}", encode(n))),
                    },
                ],
            },
        ))
    }

    async fn settings(
        &self,
        signed: &Signed,
        shown_once: Option<(&'static str, String)>,
        problem: Option<String>,
    ) -> Result<Response<Bytes>, Fail> {
        let account = self.api_if_allowed(signed, "/v1/account").await?;
        let keys = self.api_if_allowed(signed, "/v1/api-keys").await?;
        let connections = self.api_if_allowed(signed, "/v1/connections").await?;
        let now = self.now();
        let manages_users = signed.user.role.manages_users();
        let users = if manages_users {
            self.users
                .list(signed.merchant())
                .await
                .map_err(|_| Fail::Internal)?
                .into_iter()
                .map(|u| {
                    let removable = u.id != signed.user.id && u.role >= signed.user.role;
                    (
                        u.id,
                        u.email,
                        u.role.as_str().to_owned(),
                        when(Some(&json!(u.created_at)), signed.prefs, now),
                        removable,
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let problem = problem.or(signed
            .user
            .must_change_password
            .then(|| "Choose your own password before you go on.".to_owned()));
        let page = SettingsPage {
            chrome: signed.chrome("/app/settings"),
            shown_once,
            problem,
            merchant: signed.merchant().to_string(),
            company: account
                .as_ref()
                .map(|a| text(a, "/company_name"))
                .unwrap_or_default(),
            currency: account
                .as_ref()
                .map(|a| text(a, "/default_currency"))
                .unwrap_or_default(),
            profile_editable: account.is_some(),
            time_zone: account
                .as_ref()
                .map(|a| text(a, "/time_zone"))
                .unwrap_or_default(),
            contact_name: account
                .as_ref()
                .map(|a| text(a, "/contact/name"))
                .unwrap_or_default(),
            contact_email: account
                .as_ref()
                .map(|a| text(a, "/contact/email"))
                .unwrap_or_default(),
            relative: signed.prefs.dates == Dates::Relative,
            manages_users,
            users,
            grantable: Role::ALL
                .into_iter()
                .filter(|r| signed.user.role.may_grant(*r))
                .map(Role::as_str)
                .collect(),
            connections_visible: connections.is_some(),
            connections: connections
                .as_ref()
                .map(|c| {
                    rows(&c["connections"], |c| {
                        vec![
                            Cell::text(text(c, "/channel")),
                            Cell::text(text(c, "/reference")),
                        ]
                    })
                })
                .unwrap_or_default()
                .into_iter()
                .map(|mut row| {
                    (
                        std::mem::take(&mut row[0].text),
                        std::mem::take(&mut row[1].text),
                    )
                })
                .collect(),
            owner: signed.user.role == Role::Owner,
            keys_visible: keys.is_some(),
            keys: keys
                .as_ref()
                .and_then(|k| k["api_keys"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|k| {
                    (
                        text(k, "/id"),
                        text(k, "/name"),
                        text(k, "/prefix"),
                        joined(&k["scopes"], " "),
                        when(k.get("last_used_at"), signed.prefs, now),
                    )
                })
                .collect(),
        };
        Ok(html(StatusCode::OK, &page))
    }

    /// The account's profile, replaced through `PUT /v1/account` (owners and admins): a refusal
    /// shows the page again with the API's message and the stored profile.
    async fn save_profile(&self, signed: &Signed, form: &Form) -> Result<Response<Bytes>, Fail> {
        let value = |name: &str| field(form, name).unwrap_or_default().trim().to_owned();
        let body = json!({
            "company_name": value("company_name"),
            "default_currency": value("default_currency").to_ascii_uppercase(),
            "time_zone": value("time_zone"),
            "contact": {"name": value("contact_name"), "email": value("contact_email")},
        });
        match self
            .api_change(signed, Method::PUT, "/v1/account", Some(body))
            .await?
        {
            Ok(_) => Ok(redirect("/app/settings")),
            Err(message) => {
                let mut page = self.settings(signed, None, Some(message)).await?;
                *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                Ok(page)
            }
        }
    }

    async fn create_key(&self, signed: &Signed, form: &Form) -> Result<Response<Bytes>, Fail> {
        let scopes: &[&str] = match field(form, "access") {
            Some("read") => &["orders:read", "inventory:read"],
            Some("operate") => &[
                "orders:read",
                "orders:write",
                "inventory:read",
                "inventory:write",
            ],
            _ => return Err(Fail::Refused("unknown_access".into())),
        };
        let name = field(form, "name").unwrap_or_default();
        let issued = self
            .api(
                signed,
                Method::POST,
                "/v1/api-keys",
                Some((json!({"name": name, "scopes": scopes}), None)),
            )
            .await?;
        self.settings(signed, Some(("New API key.", text(&issued, "/key"))), None)
            .await
    }

    async fn add_user(&self, signed: &Signed, form: &Form) -> Result<Response<Bytes>, Fail> {
        let role = field(form, "role")
            .and_then(Role::parse)
            .ok_or(Fail::Refused("unknown_role".into()))?;
        if !signed.user.role.may_grant(role) {
            return Err(Fail::Forbidden);
        }
        let (password, shown) = Password::random().map_err(|_| Fail::Internal)?;
        let email = field(form, "email").unwrap_or_default();
        match self
            .users
            .create(signed.merchant(), email, role, &password, true)
            .await
        {
            Ok(user) => {
                self.record(
                    signed,
                    "user_added",
                    &format!("user:{} {}", user.id, role.as_str()),
                )
                .await?;
                self.settings(
                    signed,
                    Some((
                        "The new user's first password (they choose their own at first sign-in).",
                        shown.to_string(),
                    )),
                    None,
                )
                .await
            }
            Err(UserError::InvalidEmail) => {
                self.settings(signed, None, Some("That is not an e-mail address.".into()))
                    .await
            }
            Err(UserError::Exists) => {
                self.settings(signed, None, Some("A user with that e-mail exists.".into()))
                    .await
            }
            Err(_) => Err(Fail::Internal),
        }
    }

    async fn remove_user(&self, signed: &Signed, id: &str) -> Result<Response<Bytes>, Fail> {
        self.check_manages(signed, id).await?;
        match self.users.remove(signed.merchant(), id).await {
            Ok(()) => {}
            Err(UserError::LastOwner) => return Err(Fail::Refused("last_owner".into())),
            Err(UserError::NotFound) => return Err(Fail::NotFound),
            Err(_) => return Err(Fail::Internal),
        }
        self.record(signed, "user_removed", &format!("user:{id}"))
            .await?;
        Ok(redirect("/app/settings"))
    }

    /// Whether the signed-in user may act on user `id`: they manage users, it is not
    /// themselves, and it is not above them.
    async fn check_manages(&self, signed: &Signed, id: &str) -> Result<(), Fail> {
        if !signed.user.role.manages_users() {
            return Err(Fail::Forbidden);
        }
        let target = self
            .users
            .get(signed.merchant(), id)
            .await
            .map_err(|_| Fail::Internal)?
            .ok_or(Fail::NotFound)?;
        if target.id == signed.user.id || target.role < signed.user.role {
            return Err(Fail::Forbidden);
        }
        Ok(())
    }

    /// A new first password for another user who lost theirs (the same rule as removing them:
    /// nobody resets themselves or a user above them); shown once to whoever reset it.
    async fn reset_user(&self, signed: &Signed, id: &str) -> Result<Response<Bytes>, Fail> {
        self.check_manages(signed, id).await?;
        let (password, shown) = Password::random().map_err(|_| Fail::Internal)?;
        match self
            .users
            .reset_password(signed.merchant(), id, &password)
            .await
        {
            Ok(()) => {}
            Err(UserError::NotFound) => return Err(Fail::NotFound),
            Err(_) => return Err(Fail::Internal),
        }
        self.record(signed, "password_reset", &format!("user:{id}"))
            .await?;
        self.settings(
            signed,
            Some((
                "The user's new first password (they choose their own at sign-in).",
                shown.as_str().to_owned(),
            )),
            None,
        )
        .await
    }

    /// Starts a connect flow: the marketplace's consent page is a link to follow (a form's
    /// redirect to another origin would break the `form-action 'self'` policy).
    async fn connect(
        &self,
        signed: &Signed,
        channel: &str,
        form: &Form,
    ) -> Result<Response<Bytes>, Fail> {
        let (uri, label) = match channel {
            "shopify" => (
                format!(
                    "/v1/connect/shopify?shop={}",
                    encode(field(form, "shop").unwrap_or_default().trim())
                ),
                "Continue to Shopify to approve RetailCoder",
            ),
            "amazon" => (
                format!(
                    "/v1/connect/amazon?marketplace_id={}",
                    encode(field(form, "marketplace_id").unwrap_or_default().trim())
                ),
                "Continue to Seller Central to approve RetailCoder",
            ),
            _ => return Err(Fail::NotFound),
        };
        let started = self.api(signed, Method::GET, &uri, None).await?;
        let url = text(&started, "/authorize_url");
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(Fail::Internal);
        }
        Ok(html(
            StatusCode::OK,
            &TablePage {
                chrome: signed.chrome("/app/settings"),
                title: "Connect a channel".into(),
                intro: "The link works once, for 10 minutes. After you approve, you come back \
                        here connected."
                    .into(),
                filters: Vec::new(),
                sections: vec![Section {
                    heading: "Next step".into(),
                    columns: vec!["Where"],
                    rows: vec![vec![Cell::link(label, url)]],
                    empty: "",
                    next: None,
                }],
            },
        ))
    }

    /// The owner cancels the account, naming it to confirm: the same request as the API's
    /// `DELETE /v1/account`; the session ends with the account.
    async fn cancel_account(&self, signed: &Signed, form: &Form) -> Result<Response<Bytes>, Fail> {
        if signed.user.role != Role::Owner {
            return Err(Fail::Forbidden);
        }
        let confirm = field(form, "confirm").unwrap_or_default().trim();
        if confirm != signed.merchant().as_str() {
            return self
                .settings(
                    signed,
                    None,
                    Some("Type the account id exactly to confirm the cancellation.".into()),
                )
                .await;
        }
        self.api(
            signed,
            Method::DELETE,
            "/v1/account",
            Some((json!({ "confirm": confirm }), None)),
        )
        .await?;
        let _ = self.sessions.end(&signed.session).await;
        let page = html(
            StatusCode::OK,
            &ErrorPage {
                title: "Account cancelled",
                message: "The account is cancelled. Buyer details are being deleted now; the \
                          final deletion receipt stays readable through the API.",
                reason: "account_cancelled",
            },
        );
        Ok(with_cookie(page, &cookies::clear_session()))
    }

    async fn change_password(&self, signed: &Signed, form: &Form) -> Result<Response<Bytes>, Fail> {
        let current = Password::presented(field(form, "current").unwrap_or_default().to_owned())
            .ok_or(Fail::Refused("wrong_password".into()))?;
        if !self
            .users
            .verify(signed.merchant(), &signed.user.id, &current)
            .await
            .map_err(|_| Fail::Internal)?
        {
            return self
                .settings(
                    signed,
                    None,
                    Some("The current password is not right.".into()),
                )
                .await;
        }
        let new = match Password::new_password(field(form, "new").unwrap_or_default().to_owned()) {
            Ok(new) => new,
            Err(_) => {
                return self
                    .settings(
                        signed,
                        None,
                        Some("Choose a password of 12 to 128 characters.".into()),
                    )
                    .await;
            }
        };
        self.users
            .set_password(signed.merchant(), &signed.user.id, &new)
            .await
            .map_err(|_| Fail::Internal)?;
        self.record(signed, "password_changed", "").await?;
        // Every session of the user ended with the change; this browser gets a new one.
        let _ = self.sessions.end(&signed.session).await;
        let user = self
            .users
            .get(signed.merchant(), &signed.user.id)
            .await
            .map_err(|_| Fail::Internal)?
            .ok_or(Fail::SignIn)?;
        let (token, _) = self
            .sessions
            .start(signed.merchant(), &user.id, user.generation)
            .await
            .map_err(|_| Fail::Internal)?;
        Ok(with_cookie(
            redirect("/app/needs-action"),
            &cookies::session(&token),
        ))
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An order's first cells in a list: its reference (linked), channel, status, when placed and
/// how many lines.
fn order_cells(o: &Value, prefs: Preferences, now: i64) -> Vec<Cell> {
    vec![
        Cell::link(
            text(o, "/channel_reference"),
            format!("/app/orders/{}", encode(&text(o, "/id"))),
        ),
        Cell::text(text(o, "/channel")),
        Cell::badge(text(o, "/status")),
        Cell::text(when(o.get("placed_at"), prefs, now)),
        Cell::text(o["lines"].as_array().map_or(0, Vec::len).to_string()),
    ]
}

/// An API list's address, continued after the page's `param` (the API's `after` token) if the
/// dashboard's own address carries one.
/// What an API answer means for a page: its body, or why not.
fn api_outcome(status: u16, value: Value) -> Result<Value, Fail> {
    match status {
        // 302: a connect flow's start (its body names where to go).
        200..=299 | 302 => Ok(value),
        404 => Err(Fail::NotFound),
        403 => Err(Fail::Forbidden),
        401 | 410 => Err(Fail::SignIn),
        400 | 409 | 413 | 422 => Err(Fail::Refused(text(&value, "/error"))),
        503 => Err(Fail::Unavailable),
        _ => Err(Fail::Internal),
    }
}

/// `uri` with one more query parameter (`value` as given: callers encode what needs it).
fn with_query(uri: &str, name: &str, value: &str) -> String {
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{name}={value}")
}

/// An API list address asking for the newest first.
fn newest_first(uri: String) -> String {
    with_query(&uri, "order", "newest")
}

/// The order list's status choices: the API's statuses and `needs_action`.
const ORDER_STATUSES: [&str; 9] = [
    "needs_action",
    "received",
    "backordered",
    "reserved",
    "needs_attention",
    "label_created",
    "shipped",
    "delivered",
    "cancelled",
];
/// The order list's channel choices.
const CHANNELS: [&str; 2] = ["shopify", "amazon"];

/// The privacy center's "deleted within" choices, in days.
const DEADLINE_HORIZONS: [&str; 3] = ["3", "7", "30"];

fn page_uri(path: &str, request: &Request<Bytes>, param: &str) -> String {
    match query(request, param) {
        Some(after) => format!("{path}?after={}", encode(&after)),
        None => path.to_owned(),
    }
}

/// The strings of a JSON array, joined with `separator` ("" if it is not an array).
fn joined(list: &Value, separator: &str) -> String {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(separator)
        })
        .unwrap_or_default()
}

/// One row per element of a JSON array (none if it is not one).
fn rows(list: &Value, row: impl Fn(&Value) -> Vec<Cell>) -> Vec<Vec<Cell>> {
    list.as_array()
        .map(|items| items.iter().map(row).collect())
        .unwrap_or_default()
}

fn shipment_columns() -> Vec<&'static str> {
    vec![
        "Shipment",
        "Order",
        "Warehouse",
        "Status",
        "Carrier",
        "Tracking",
        "Note",
        "Updated",
        "Label",
        "Void",
    ]
}

/// Where a listing is: the shop or the marketplace and seller SKU.
fn listing_name(target: &Value) -> String {
    match target["channel"].as_str() {
        Some("shopify") => text(target, "/shop"),
        Some("amazon") => format!(
            "{} {}",
            text(target, "/marketplace_id"),
            text(target, "/seller_sku")
        ),
        _ => String::new(),
    }
}

/// What else an order page says of a shipment: why it failed, the marketplace confirmation,
/// the last courier event.
fn shipment_note(s: &Value) -> String {
    let mut parts = Vec::new();
    let reason = text(s, "/reason");
    if !reason.is_empty() {
        parts.push(reason);
    }
    let confirmation = text(s, "/confirmation/state");
    if !confirmation.is_empty() {
        let why = text(s, "/confirmation/reason");
        parts.push(if why.is_empty() {
            format!("marketplace: {confirmation}")
        } else {
            format!("marketplace: {confirmation} ({why})")
        });
    }
    if let Some(last) = s["history"].as_array().and_then(|h| h.last()) {
        parts.push(format!(
            "{} courier events, last: {}",
            s["history"].as_array().map_or(0, Vec::len),
            text(last, "/status")
        ));
    }
    parts.join("; ")
}

fn relative_days(at: Option<&Value>, now: i64) -> String {
    let at = at.and_then(|v| match v {
        Value::String(s) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        }
        Value::Number(n) => n.as_i64(),
        _ => None,
    });
    match at {
        Some(at) => crate::pages::relative(at - now),
        None => String::new(),
    }
}

fn object_rows(value: &Value, row: impl Fn(String, &Value) -> Vec<Cell>) -> Vec<Vec<Cell>> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| row(k.clone(), v)).collect(),
        Value::Array(list) => list.iter().map(|v| row(text(v, "/warehouse"), v)).collect(),
        _ => Vec::new(),
    }
}

fn tax_rows(tax: &Value) -> Vec<(String, String, String, String, String)> {
    let mut rows = Vec::new();
    let currency = text(tax, "/currency");
    if let Some(lines) = tax["lines"].as_array() {
        for line in lines {
            let label = text(line, "/sku");
            for component in line["components"].as_array().into_iter().flatten() {
                let mut amount = json!({"minor": component["tax_minor"], "currency": currency});
                if component.get("tax").is_some() {
                    amount = component["tax"].clone();
                }
                rows.push((
                    label.clone(),
                    text(component, "/jurisdiction"),
                    text(component, "/component"),
                    format!(
                        "{}%",
                        component["rate_bp"]
                            .as_i64()
                            .map_or(String::new(), |bp| format!("{}.{:02}", bp / 100, bp % 100))
                    ),
                    money(&amount),
                ));
            }
        }
    }
    rows
}

fn buyer_view(answer: &Value) -> (Option<BuyerView>, bool) {
    let buyer = &answer["buyer"];
    if buyer.as_str() == Some("purged") {
        return (None, true);
    }
    let reason = match answer["reason"].as_str() {
        Some("customer_service") => "answering the buyer",
        Some("delivery_issue") => "a delivery problem",
        _ => "a return or refund",
    };
    let address = &buyer["shipping_address"];
    let address = [
        "/name",
        "/company",
        "/line1",
        "/line2",
        "/postal_code",
        "/city",
        "/region",
        "/country_code",
    ]
    .iter()
    .map(|p| text(address, p))
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    (
        Some(BuyerView {
            reason,
            name: text(buyer, "/name"),
            email: text(buyer, "/email"),
            phone: text(buyer, "/phone"),
            address,
        }),
        false,
    )
}
