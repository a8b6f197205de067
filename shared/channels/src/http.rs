//! The HTTP client every marketplace API shares. One per process (two at most: https-only, and
//! one that also allows plain http to this machine for sandboxes and test stand-ins), so one
//! connection pool and one set of trust roots serve every client — and a cold start builds them
//! once, not once per API.
//!
//! Trust roots are compiled in: Mozilla's root program as the `webpki-root-certs` crate carries
//! it (its version is pinned in `Cargo.lock`; updating the crate updates the roots). Reading the
//! system store instead costs a cold start ~150 file reads per client, and every endpoint we call
//! (Amazon, Shopify, couriers) is served under a public root. The AWS SDK clients keep their own
//! (system) roots.
//!
//! Policy, the same for every API: no redirects (a redirect would carry our access token
//! elsewhere, or from https to http), https only unless every endpoint is on this machine.

use std::sync::OnceLock;
use std::time::Duration;

/// The shared client with one API's timeout and `User-Agent`, applied per request.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    user_agent: &'static str,
}

impl HttpClient {
    /// For an API whose endpoints are all on this machine (`local`) or not.
    pub fn new(timeout: Duration, user_agent: &'static str, local: bool) -> Self {
        static REMOTE: OnceLock<reqwest::Client> = OnceLock::new();
        static LOCAL: OnceLock<reqwest::Client> = OnceLock::new();
        let cell = if local { &LOCAL } else { &REMOTE };
        Self {
            client: cell.get_or_init(|| build(local)).clone(),
            timeout,
            user_agent,
        }
    }

    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .timeout(self.timeout)
            .header(reqwest::header::USER_AGENT, self.user_agent)
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }

    pub fn put(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::PUT, url)
    }
}

fn build(local: bool) -> reqwest::Client {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok());
    let policy = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!local)
    };
    // Building fails only on a TLS set-up error, which compiled-in roots rule out; should it
    // happen, the system's roots are used, under the same policy.
    policy()
        .tls_certs_only(roots)
        .build()
        .or_else(|_| policy().build())
        .unwrap_or_else(|error| {
            tracing::error!(%error, "no HTTP client could be built; marketplace calls will fail");
            reqwest::Client::new()
        })
}
