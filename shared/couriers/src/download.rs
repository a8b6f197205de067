//! Fetching a label document: once, from the URL the courier gave (a public object on its
//! storage — EasyPost's `easypost-files`, Shiprocket's label bucket). No credentials go with
//! it, only https is followed (or this machine, for the sandbox), and the size is bounded.

use rc_channels::HttpClient;
use rc_domain::RevealPurpose;
use zeroize::Zeroizing;

use crate::port::{CourierError, LabelDocument, LabelFormat, LabelSource, Purchase};

/// The largest label document we accept (a 4×6 PDF label is tens of kilobytes).
pub const MAX_LABEL_BYTES: usize = 5 * 1024 * 1024;

pub(crate) async fn label(
    http: &HttpClient,
    local: bool,
    purchase: &Purchase,
) -> Result<LabelDocument, CourierError> {
    let url = match &purchase.label {
        LabelSource::Url(url) => url,
        LabelSource::Inline(document) => {
            return Ok(LabelDocument {
                format: document.format,
                bytes: document.bytes.clone(),
            });
        }
    };
    let url = url.reveal(RevealPurpose::ShippingLabel).as_str();
    if !(url.starts_with("https://") || (local && rc_channels::endpoint_allowed(url))) {
        return Err(CourierError::Answer("label url"));
    }
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|_| CourierError::Unavailable("label download".into()))?;
    if !response.status().is_success() {
        return Err(CourierError::Unavailable(format!(
            "label download answered {}",
            response.status().as_u16()
        )));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_LABEL_BYTES as u64)
    {
        return Err(CourierError::Answer("label size"));
    }
    // Taken over without a copy when the buffer is ours alone.
    let bytes =
        Zeroizing::new(Vec::from(response.bytes().await.map_err(|_| {
            CourierError::Unavailable("label download cut off".into())
        })?));
    if bytes.len() > MAX_LABEL_BYTES {
        return Err(CourierError::Answer("label size"));
    }
    let format = if bytes.starts_with(b"%PDF-") {
        LabelFormat::Pdf
    } else if bytes.starts_with(b"\x89PNG") {
        LabelFormat::Png
    } else if bytes.starts_with(b"^XA") {
        LabelFormat::Zpl
    } else {
        return Err(CourierError::Answer("label document"));
    };
    Ok(LabelDocument { format, bytes })
}
