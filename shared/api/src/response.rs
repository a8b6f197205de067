use bytes::Bytes;
use http::{Response, StatusCode, header};

/// A JSON response. Serialization of our own view types cannot fail; if it ever did, the client
/// gets a 500 rather than a panic.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response<Bytes> {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":"internal_error","message":"response could not be encoded"}"#.to_vec(),
        ),
    };
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
