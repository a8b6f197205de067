//! API Gateway HTTP API (payload v2) <-> `http::Request<Bytes>` / `http::Response<Bytes>`.

use std::future::Future;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, Response};
use lambda_runtime::{LambdaEvent, service_fn};

/// Converts an API Gateway event into a plain request. The body is kept byte for byte (webhook
/// signatures are computed over the raw bytes). `None` if the event is unusable (a body marked
/// base64 that is not).
pub fn from_apigw(event: ApiGatewayV2httpRequest) -> Option<Request<Bytes>> {
    let body = match event.body {
        None => Bytes::new(),
        Some(text) if event.is_base64_encoded => Bytes::from(STANDARD.decode(text).ok()?),
        Some(text) => Bytes::from(text),
    };
    let path = event.raw_path.unwrap_or_else(|| "/".to_owned());
    let uri = match event.raw_query_string.filter(|q| !q.is_empty()) {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut request = Request::builder()
        .method(event.request_context.http.method)
        .uri(uri)
        .body(body)
        .ok()?;
    *request.headers_mut() = event.headers;
    // Payload v2 moves the request's cookies out of the headers into `cookies`.
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty())
        && let Ok(value) = http::HeaderValue::from_str(&cookies.join("; "))
    {
        request.headers_mut().insert(http::header::COOKIE, value);
    }
    // The caller's address as API Gateway saw it (not a header the caller could set).
    if let Some(address) = event.request_context.http.source_ip {
        request
            .extensions_mut()
            .insert(rc_dashboard::ClientAddress(address));
    }
    Some(request)
}

/// Converts a response for API Gateway; JSON bodies are sent as text, anything else as base64.
pub fn to_apigw(response: Response<Bytes>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    let mut headers = parts.headers;
    // Payload v2 takes each `Set-Cookie` in `cookies` (headers of one name would be joined).
    if let http::header::Entry::Occupied(entry) = headers.entry(http::header::SET_COOKIE) {
        let (_, values) = entry.remove_entry_mult();
        out.cookies = values
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
    }
    out.headers = headers;
    match String::from_utf8(body.to_vec()) {
        Ok(text) => out.body = Some(Body::Text(text)),
        Err(bytes) => {
            out.body = Some(Body::Text(STANDARD.encode(bytes.into_bytes())));
            out.is_base64_encoded = true;
        }
    }
    out
}

/// Runs an HTTP handler as a Lambda function behind API Gateway.
pub async fn run_http<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Request<Bytes>) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let request = from_apigw(event.payload);
        async {
            let response = match request {
                Some(request) => handler(request).await,
                None => rc_api::ApiError::MalformedJson("request body is not valid base64".into())
                    .into_response(),
            };
            Ok::<_, lambda_runtime::Error>(to_apigw(response))
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str, base64: bool) -> ApiGatewayV2httpRequest {
        serde_json::from_value(serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/webhooks/shopify",
            "rawQueryString": "a=1",
            "headers": {"x-shopify-topic": "orders/create"},
            "requestContext": {"http": {"method": "POST", "path": "/webhooks/shopify"}, "timeEpoch": 0},
            "body": body,
            "isBase64Encoded": base64
        }))
        .expect("event")
    }

    #[test]
    fn the_raw_body_survives_both_encodings() {
        let text = from_apigw(event("{\"a\": 1}", false)).expect("request");
        assert_eq!(text.body().as_ref(), b"{\"a\": 1}");
        assert_eq!(text.uri().to_string(), "/webhooks/shopify?a=1");
        assert_eq!(text.headers()["x-shopify-topic"], "orders/create");
        let encoded = from_apigw(event("eyJhIjogMX0=", true)).expect("request");
        assert_eq!(encoded.body().as_ref(), b"{\"a\": 1}");
    }

    #[test]
    fn cookies_travel_in_their_own_fields() {
        let mut payload = event("", false);
        payload.cookies = Some(vec!["a=1".into(), "__Host-rc_session=rcd_x".into()]);
        payload.request_context.http.source_ip = Some("203.0.113.9".into());
        let request = from_apigw(payload).expect("request");
        assert_eq!(request.headers()["cookie"], "a=1; __Host-rc_session=rcd_x");
        assert_eq!(
            request
                .extensions()
                .get::<rc_dashboard::ClientAddress>()
                .map(|a| a.0.as_str()),
            Some("203.0.113.9")
        );
        let mut response = Response::new(Bytes::new());
        response
            .headers_mut()
            .append("set-cookie", http::HeaderValue::from_static("a=1; Secure"));
        response
            .headers_mut()
            .append("set-cookie", http::HeaderValue::from_static("b=2; Secure"));
        let out = to_apigw(response);
        assert_eq!(out.cookies, vec!["a=1; Secure", "b=2; Secure"]);
        assert!(!out.headers.contains_key("set-cookie"));
    }

    #[test]
    fn a_body_marked_base64_that_is_not_is_refused() {
        assert!(from_apigw(event("not base64!", true)).is_none());
    }

    #[test]
    fn responses_keep_status_headers_and_body() {
        let response = rc_api::ApiError::NotFound.into_response();
        let out = to_apigw(response);
        assert_eq!(out.status_code, 404);
        assert_eq!(out.headers["content-type"], "application/json");
        assert!(matches!(out.body, Some(Body::Text(ref t)) if t.contains("not_found")));
    }
}
