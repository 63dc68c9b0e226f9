//! Attribute values several ops share, by name in model files.

use axon_core::ops::Fused;
use axon_core::quant::Rounding;

/// A fused activation from its name (`none`, `relu`, `relu6`).
pub fn parse_fused(name: &str) -> Result<Fused, String> {
    Fused::from_name(name).ok_or_else(|| {
        format!("unknown fused activation \"{name}\" (expected none, relu or relu6)")
    })
}

/// A rounding mode from its name (`double`, `single`).
pub fn parse_rounding(name: &str) -> Result<Rounding, String> {
    Rounding::from_name(name)
        .ok_or_else(|| format!("unknown rounding \"{name}\" (expected double or single)"))
}

/// Parses `attrs` (absent: `{}`) as `T`, whose unknown fields are errors.
pub fn from_attrs<T: serde::de::DeserializeOwned>(
    attrs: Option<&serde_json::Value>,
) -> Result<T, String> {
    let v = attrs
        .cloned()
        .unwrap_or(serde_json::Value::Object(Default::default()));
    // The path names the field a mistyped value is in (serde's own
    // message names only the type).
    serde_path_to_error::deserialize(v).map_err(|e| match e.path().to_string() {
        p if p == "." => format!("attrs: {}", e.inner()),
        p => format!("attrs.{p}: {}", e.inner()),
    })
}

/// `v` as a JSON object value, or `None` when it is `{}`.
pub fn to_attrs<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) if m.is_empty() => None,
        Ok(v) => Some(v),
        Err(_) => None,
    }
}

/// The attributes of an op that has none: any field is unknown.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct None {}
