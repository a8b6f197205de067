//! The merchant API (first routes): read an order, without PII.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use rc_domain::{MerchantId, OrderId};
use rc_orders::{ApiKeyRepository, OrderRepository};

use crate::{ApiError, json};

pub struct MerchantApi {
    orders: Arc<OrderRepository>,
    api_keys: Arc<ApiKeyRepository>,
}

enum Route {
    Order(OrderId),
}

impl MerchantApi {
    pub fn new(orders: Arc<OrderRepository>, api_keys: Arc<ApiKeyRepository>) -> Self {
        Self { orders, api_keys }
    }

    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        match self.process(request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn merchant(&self, request: &Request<Bytes>) -> Result<MerchantId, ApiError> {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        self.api_keys
            .merchant_for(token)
            .await?
            .ok_or(ApiError::Unauthorized)
    }

    fn route(request: &Request<Bytes>) -> Result<Route, ApiError> {
        let path = request.uri().path();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v1", "orders", id] => {
                if request.method() != Method::GET {
                    return Err(ApiError::MethodNotAllowed);
                }
                OrderId::parse(id)
                    .map(Route::Order)
                    .map_err(|_| ApiError::NotFound)
            }
            _ => Err(ApiError::NotFound),
        }
    }

    async fn process(&self, request: Request<Bytes>) -> Result<Response<Bytes>, ApiError> {
        // Authenticate before routing, so unauthenticated callers learn nothing about routes.
        let merchant = self.merchant(&request).await?;
        match Self::route(&request)? {
            Route::Order(order) => {
                let view = self
                    .orders
                    .view(&merchant, &order)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                Ok(json(StatusCode::OK, &view))
            }
        }
    }
}
