//! Numbers on the wire: couriers take decimals (inches, kilograms, rupees); we count in integers
//! of the smallest unit and never compute in floating point.

use serde_json::Value;

/// A JSON number with `places` decimals from an integer count of the smallest unit
/// (`decimal(124, 1)` is `12.4`, `decimal(199, 2)` is `1.99`, `decimal(7, 0)` is `7`).
pub(crate) fn decimal(units: u64, places: u32) -> Value {
    if places == 0 {
        return Value::from(units);
    }
    let scale = 10u64.pow(places);
    let text = format!(
        "{}.{:0width$}",
        units / scale,
        units % scale,
        width = places as usize
    );
    serde_json::from_str(&text).unwrap_or(Value::from(0))
}
