//! The one dispatch point per kernel family.
//!
//! Without `std`, the choice is made at compile time from
//! `cfg(target_feature)`; with `std`, at run time from CPU detection. Today
//! only the scalar references are wired in; SIMD twins register here.

use super::gemv_f32::Scalar as F32Scalar;
use super::gemv_i8::{FullyConnectedParams, Scalar as I8Scalar};

/// f32 dot product in the canonical order.
#[inline]
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    F32Scalar::dot(a, b)
}

/// f32 GEMV in the canonical order (shapes already checked or total).
#[inline]
pub(crate) fn gemv_f32(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    F32Scalar::gemv(w, x, b, y)
}

/// int8 fully connected, TFLite reference arithmetic (shapes already checked).
#[inline]
pub(crate) fn fully_connected_i8(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    I8Scalar::fully_connected(w, x, bias, p, y)
}
