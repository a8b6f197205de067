//! The SP-API stand-in's Login with Amazon grants and Notifications API v1, as Amazon documents
//! them (facts of `notifications.json` in `tests/fixtures/amazon-models/`): the three grants of
//! `/auth/o2/token` (refresh token, authorization code from the consent page — single use —,
//! and the grantless `client_credentials` with the notifications scope), destinations (grantless
//! operations, which refuse a seller's token), the seller's subscription (with the seller's
//! token, which the grantless token cannot replace), 409 on a second create, 404 when absent.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};

use super::sp_api::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SELLER, State, respond};

type Answer = hyper::Response<Full<Bytes>>;

fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    fields.get(name).map(String::as_str)
}

/// `POST /auth/o2/token`.
pub fn token_grant(state: &mut State, fields: &HashMap<String, String>) -> Answer {
    let refused = || {
        respond(
            400,
            json!({"error": "invalid_grant", "error_description": "The request has an invalid grant parameter"}),
        )
    };
    if field(fields, "client_id") != Some(CLIENT_ID)
        || field(fields, "client_secret") != Some(CLIENT_SECRET)
    {
        state
            .violations
            .push("LWA token request names another client".into());
        return respond(401, json!({"error": "invalid_client"}));
    }
    match field(fields, "grant_type") {
        Some("refresh_token") => {
            if field(fields, "refresh_token") != Some(REFRESH_TOKEN) {
                state
                    .violations
                    .push("LWA token request field refresh_token is wrong".into());
                return refused();
            }
            let token = format!("Atza|access-{}", state.token_calls);
            state.valid_tokens.push(token.clone());
            state.token_sellers.insert(token.clone(), SELLER.into());
            respond(
                200,
                json!({"access_token": token, "token_type": "bearer", "expires_in": 3600}),
            )
        }
        Some("authorization_code") => {
            state.code_exchanges += 1;
            if field(fields, "redirect_uri").is_none_or(str::is_empty) {
                state
                    .violations
                    .push("the code exchange lacks redirect_uri".into());
            }
            let code = field(fields, "code").unwrap_or_default();
            let Some(at) = state.auth_codes.iter().position(|c| c == code) else {
                return refused();
            };
            state.auth_codes.remove(at);
            respond(
                200,
                json!({"access_token": "Atza|from-consent", "refresh_token": REFRESH_TOKEN,
                       "token_type": "bearer", "expires_in": 3600}),
            )
        }
        Some("client_credentials") => {
            if field(fields, "scope") != Some("sellingpartnerapi::notifications") {
                state
                    .violations
                    .push("a grantless token for another scope".into());
                return refused();
            }
            let token = format!("Atza|grantless-{}", state.token_calls);
            state.grantless_tokens.push(token.clone());
            respond(
                200,
                json!({"access_token": token, "token_type": "bearer", "expires_in": 3600}),
            )
        }
        _ => {
            state.violations.push("unknown LWA grant_type".into());
            refused()
        }
    }
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    respond(
        status,
        json!({"errors": [{"code": code, "message": message}]}),
    )
}

/// Checks `body` has every property `definition` requires.
fn required(state: &mut State, model: &Value, definition: &str, body: &Value) {
    for name in model["definitions"][definition]["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if body.get(name).is_none() {
            state
                .violations
                .push(format!("{definition} lacks required {name}"));
        }
    }
}

/// A Notifications API call (already checked against the model's paths and parameters).
pub fn handle(
    state: &mut State,
    model: &Value,
    method: &str,
    path: &str,
    token: &str,
    body: &[u8],
) -> Answer {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let template = match segments.as_slice() {
        ["notifications", "v1", "destinations"] => "/notifications/v1/destinations",
        ["notifications", "v1", "subscriptions", _] => {
            "/notifications/v1/subscriptions/{notificationType}"
        }
        ["notifications", "v1", "subscriptions", _, _] => {
            "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}"
        }
        _ => return error(404, "NotFound", "no such resource"),
    };
    let grantless = model["paths"][template][method]["grantless"] == true;
    let operation: &'static str = match (method, template) {
        ("get", "/notifications/v1/destinations") => "getDestinations",
        ("post", "/notifications/v1/destinations") => "createDestination",
        ("get", "/notifications/v1/subscriptions/{notificationType}") => "getSubscription",
        ("post", "/notifications/v1/subscriptions/{notificationType}") => "createSubscription",
        ("delete", "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}") => {
            "deleteSubscriptionById"
        }
        _ => {
            state
                .violations
                .push(format!("unexpected notifications call {method} {path}"));
            return error(400, "InvalidInput", "unexpected");
        }
    };
    *state.notification_calls.entry(operation).or_default() += 1;
    // A grantless operation takes the application's grantless token; the others the seller's.
    let seller = state.token_sellers.get(token).cloned();
    let authorized = if grantless {
        state.grantless_tokens.iter().any(|t| t == token)
    } else {
        seller.is_some() && state.valid_tokens.iter().any(|t| t == token)
    };
    if !authorized {
        state
            .violations
            .push(format!("{operation} with the wrong kind of token"));
        return error(
            403,
            "Unauthorized",
            "Access to requested resource is denied.",
        );
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match operation {
        "getDestinations" => {
            let list: Vec<Value> = state
                .destinations
                .iter()
                .map(|(id, arn)| json!({"destinationId": id, "name": "dest", "resource": {"sqs": {"arn": arn}}}))
                .collect();
            respond(200, json!({"payload": list}))
        }
        "createDestination" => {
            required(state, model, "CreateDestinationRequest", &body);
            let arn = body["resourceSpecification"]["sqs"]["arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[..3] != ["arn", "aws", "sqs"] {
                state
                    .violations
                    .push("the destination is not an SQS ARN".into());
                return error(400, "InvalidInput", "invalid arn");
            }
            if state.destinations.iter().any(|(_, a)| *a == arn) {
                return error(
                    409,
                    "Conflict",
                    "A destination with this resource already exists",
                );
            }
            let id = format!("dest-{}", state.destinations.len() + 1);
            state.destinations.push((id.clone(), arn.clone()));
            respond(
                200,
                json!({"payload": {"destinationId": id, "name": body["name"], "resource": {"sqs": {"arn": arn}}}}),
            )
        }
        "getSubscription" | "createSubscription" => {
            let seller = seller.unwrap_or_default();
            if segments[3] != "ORDER_CHANGE" {
                state
                    .violations
                    .push("a subscription to another notification type".into());
            }
            let existing = state
                .subscriptions
                .iter()
                .find(|(_, s, _)| *s == seller)
                .cloned();
            if operation == "getSubscription" {
                return match existing {
                    Some((id, _, destination)) => respond(
                        200,
                        json!({"payload": {"subscriptionId": id, "payloadVersion": "1.0", "destinationId": destination}}),
                    ),
                    None => error(404, "NotFound", "The resource specified does not exist."),
                };
            }
            required(state, model, "CreateSubscriptionRequest", &body);
            let destination = body["destinationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !state.destinations.iter().any(|(id, _)| *id == destination) {
                return error(400, "InvalidInput", "unknown destination");
            }
            if existing.is_some() {
                return error(409, "Conflict", "A subscription already exists");
            }
            let id = format!("sub-{}", state.notification_calls.values().sum::<usize>());
            state
                .subscriptions
                .push((id.clone(), seller, destination.clone()));
            respond(
                200,
                json!({"payload": {"subscriptionId": id, "payloadVersion": body["payloadVersion"], "destinationId": destination}}),
            )
        }
        _ => {
            let id = segments[4];
            match state.subscriptions.iter().position(|(s, _, _)| s == id) {
                Some(at) => {
                    state.subscriptions.remove(at);
                    respond(200, json!({}))
                }
                None => error(404, "NotFound", "The resource specified does not exist."),
            }
        }
    }
}
