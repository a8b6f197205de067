//! The merchant API's tax routes:
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/tax/classes` | every class the merchant can assign (the seeded GST slabs, its own) |
//! | `GET/PUT /v1/tax/classes/{id}` | one class: `{"gst": {"hsn", "rules": [...]}, "vat": {"reduced": {...}}}` |
//! | `GET/PUT /v1/tax/skus/{sku}` | the class a SKU is in: `{"class": "gst-18"}` |
//! | `GET/PUT /v1/settings/tax` | `{"eu_below_threshold": bool}` |
//! | `GET /v1/orders/{id}/tax` | the order's tax record: what was charged, what is owed, by whom |
//! | `POST /v1/orders/{id}/tax` | compute it again now (after a class was fixed) |
//! | `GET /v1/reports/tax?from=&to=&group=&format=` | aggregates only: `group` `jurisdiction`, `gstr1` or `oss`; `format` `json` or `csv` |

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use rc_domain::{MerchantId, OrderId, Sku};
use rc_tax::{RawTaxClass, TaxClassId};
use rc_tax_records::{
    RecordOutcome, ReportGroup, ReportPeriod, TaxClasses, TaxRecordError, TaxRecorder, TaxReporter,
    TaxSettings, TaxSettingsRepository,
};
use serde::Deserialize;

use crate::{ApiError, json};

/// What the tax routes work with.
pub struct TaxApi {
    pub classes: Arc<TaxClasses>,
    pub settings: Arc<TaxSettingsRepository>,
    pub recorder: Arc<TaxRecorder>,
    pub reporter: Arc<TaxReporter>,
}

impl From<TaxRecordError> for ApiError {
    fn from(error: TaxRecordError) -> Self {
        tracing::error!(%error, "tax failure");
        if error.is_retryable() {
            ApiError::Unavailable
        } else {
            ApiError::Internal
        }
    }
}

fn invalid(reason: &'static str, message: String) -> ApiError {
    ApiError::InvalidPayload { reason, message }
}

pub(crate) fn class_from_path(raw: &str) -> Result<TaxClassId, ApiError> {
    TaxClassId::parse(raw).map_err(|_| ApiError::NotFound)
}

/// A query parameter's value (`name=value`), if present.
fn param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assignment {
    class: String,
}

impl TaxApi {
    pub(crate) async fn classes(&self, merchant: &MerchantId) -> Result<Response<Bytes>, ApiError> {
        let classes = self.classes.list(merchant).await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "classes": classes }),
        ))
    }

    pub(crate) async fn class(
        &self,
        merchant: &MerchantId,
        id: &TaxClassId,
    ) -> Result<Response<Bytes>, ApiError> {
        let class = self
            .classes
            .get(merchant, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &class))
    }

    /// Stores a class only if it parses: every price has exactly one rate on every date.
    pub(crate) async fn put_class(
        &self,
        merchant: &MerchantId,
        id: &TaxClassId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let raw: RawTaxClass = serde_json::from_slice(body).map_err(|_| {
            invalid(
                "invalid_body",
                "expected {\"gst\": {\"hsn\", \"rules\": [{\"effective_from\", \"rate_bp\", \"max_unit_price\"?, \"cess_bp\"?}]}?, \"vat\": {\"reduced\": {\"<member state>\": [{\"from\", \"rate_bp\"}]}}?}".into(),
            )
        })?;
        raw.parse()
            .map_err(|e| invalid(e.reason(), e.to_string()))?;
        let created = self.classes.put(merchant, id, &raw).await?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json(status, &raw))
    }

    pub(crate) async fn sku_class(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
    ) -> Result<Response<Bytes>, ApiError> {
        let class = self
            .classes
            .class_of(merchant, sku)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"sku": sku.as_str(), "class": class}),
        ))
    }

    pub(crate) async fn assign(
        &self,
        merchant: &MerchantId,
        sku: &Sku,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let assignment: Assignment = serde_json::from_slice(body).map_err(|_| {
            invalid(
                "invalid_body",
                "expected {\"class\": \"<class id>\"}".into(),
            )
        })?;
        let class = TaxClassId::parse(&assignment.class)
            .map_err(|_| invalid("invalid_field", "field `class` is invalid".into()))?;
        if !self.classes.assign(merchant, sku, &class).await? {
            return Err(invalid(
                "unknown_tax_class",
                "no tax class has this id; create it first".into(),
            ));
        }
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"sku": sku.as_str(), "class": class}),
        ))
    }

    pub(crate) async fn settings(
        &self,
        merchant: &MerchantId,
    ) -> Result<Response<Bytes>, ApiError> {
        Ok(json(StatusCode::OK, &self.settings.get(merchant).await?))
    }

    pub(crate) async fn put_settings(
        &self,
        merchant: &MerchantId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let settings = TaxSettings::parse(body).map_err(|_| {
            invalid(
                "invalid_body",
                "expected {\"eu_below_threshold\": bool}".into(),
            )
        })?;
        self.settings.put(merchant, &settings).await?;
        Ok(json(StatusCode::OK, &settings))
    }

    pub(crate) async fn order_tax(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Response<Bytes>, ApiError> {
        let record = self
            .recorder
            .get(merchant, order)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &record))
    }

    /// Computes the order's record again now (idempotent: the same inputs store the same
    /// figures).
    pub(crate) async fn recompute(
        &self,
        merchant: &MerchantId,
        order: &OrderId,
    ) -> Result<Response<Bytes>, ApiError> {
        if self.recorder.record(merchant, order, true).await? == RecordOutcome::NoOrder {
            return Err(ApiError::NotFound);
        }
        self.order_tax(merchant, order).await
    }

    pub(crate) async fn report(
        &self,
        merchant: &MerchantId,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let field = |field: &str| invalid("invalid_field", format!("field `{field}` is invalid"));
        let period = ReportPeriod::parse(param(query, "from"), param(query, "to"))
            .map_err(|f| invalid("invalid_field", format!("field `{f}` is invalid: dates as YYYY-MM-DD, `from` not after `to`, at most 366 days")))?;
        let group = ReportGroup::parse(param(query, "group")).map_err(&field)?;
        let csv = match param(query, "format") {
            None | Some("json") => false,
            Some("csv") => true,
            Some(_) => return Err(field("format")),
        };
        let report = self.reporter.report(merchant, period, group).await?;
        if !csv {
            return Ok(json(StatusCode::OK, &report.to_json()));
        }
        let mut response = Response::new(Bytes::from(report.to_csv()));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(disposition) = header::HeaderValue::from_str(&format!(
            "attachment; filename=\"tax-{}-{}-{}.csv\"",
            serde_json::to_value(group)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            rc_tax_records::report::iso(period.from),
            rc_tax_records::report::iso(period.to),
        )) {
            headers.insert(header::CONTENT_DISPOSITION, disposition);
        }
        Ok(response)
    }
}
