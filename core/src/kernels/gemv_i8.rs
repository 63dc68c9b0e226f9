//! int8 fully connected (GEMV + requantization) exactly as TFLite's
//! reference kernel `reference_integer_ops::FullyConnected`.
//!
//! Per output channel `c`:
//!
//! ```text
//! acc  = Σ_d w[c,d] · (x[d] + input_offset) + bias[c]     (i32, wrapping)
//! acc  = MultiplyByQuantizedMultiplier(acc, M0[c], shift[c])
//! acc += output_offset
//! y[c] = clamp(acc, act_min, act_max)
//! ```
//!
//! The accumulation wraps modulo 2^32, as TFLite's C++ does on every machine
//! it runs on; that makes the sum independent of order, so every twin may
//! reorder it (or fold `input_offset·Σw` into the bias) and still agree.
//!
//! This module holds the checked entry points, which go through
//! [`dispatch`](super::dispatch), and the load-time preparations (row sums,
//! VNNI packing); the definitions ([`Scalar`], [`FullyConnectedParams`], the
//! packed layout) live in the kernels' leaf module of scalar references and
//! are re-exported here.

use crate::Error;

pub use super::reference::i8::{FullyConnectedParams, Scalar};
pub use super::reference::vnni::{packed_vnni_len, VNNI_COLS, VNNI_ROWS};
use super::reference::vnni::{vnni_index, VNNI_FLIP};

/// int8 fully connected with `w` output-major `(y.len(), x.len())`, through
/// the fastest kernel on this machine; every kernel returns the same bits.
pub fn fully_connected_i8(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) -> Result<(), Error> {
    check_fc_shapes(w, x, bias, p, y)?;
    super::dispatch::fully_connected_i8(w, x, bias, p, y);
    Ok(())
}

/// int8 fully connected with the per-row weight sums `row_sums[c] = Σ_d w[c, d]`
/// precomputed (by [`weight_row_sums`], once, at load time). Same result as
/// [`fully_connected_i8`]; the AVX-512 VNNI kernel needs these sums for its
/// unsigned-input offset correction and otherwise computes them on every
/// call. `row_sums` must have one entry per output and must be what
/// [`weight_row_sums`] writes for `w`: sums from elsewhere (for example an
/// untrusted blob) are not verified here.
pub fn fully_connected_i8_with_row_sums(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) -> Result<(), Error> {
    if row_sums.len() != y.len() {
        return Err(Error::ShapeMismatch {
            expected: y.len(),
            found: row_sums.len(),
        });
    }
    check_fc_shapes(w, x, bias, p, y)?;
    super::dispatch::fully_connected_i8_with_row_sums(w, x, bias, row_sums, p, y);
    Ok(())
}

/// Writes `out[c] = Σ_d w[c, d]` (wrapping i32) for `w` output-major with
/// `cols` columns: the load-time input of
/// [`fully_connected_i8_with_row_sums`]. `out` needs `w.len() / cols` entries.
pub fn weight_row_sums(w: &[i8], cols: usize, out: &mut [i32]) -> Result<(), Error> {
    let rows = w.len().checked_div(cols).unwrap_or(out.len());
    if rows.checked_mul(cols) != Some(w.len()) || out.len() != rows {
        return Err(Error::ShapeMismatch {
            expected: rows,
            found: out.len(),
        });
    }
    if cols == 0 {
        out.fill(0);
        return Ok(());
    }
    for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
        *o = row.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
    }
    Ok(())
}

/// Packs output-major `w` (`rows × cols`) into the VNNI layout (padding is
/// zero), once, at load time: the weight input of
/// [`fully_connected_i8_packed`]. `out` must be [`packed_vnni_len`] long.
pub fn pack_vnni(w: &[i8], cols: usize, out: &mut [i8]) -> Result<(), Error> {
    let rows = w.len().checked_div(cols).unwrap_or(0);
    let need = packed_vnni_len(rows, cols).unwrap_or(usize::MAX);
    if rows.checked_mul(cols) != Some(w.len()) || out.len() != need {
        return Err(Error::ShapeMismatch {
            expected: need,
            found: out.len(),
        });
    }
    out.fill(VNNI_FLIP as i8);
    let groups = cols.div_ceil(VNNI_COLS);
    for (r, row) in w.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[vnni_index(r, c, groups)] = ((v as u8) ^ VNNI_FLIP) as i8;
        }
    }
    Ok(())
}

/// int8 fully connected on weights packed by [`pack_vnni`] (`rows = y.len()`,
/// `cols = x.len()`), with the row sums of [`weight_row_sums`]. Same bits as
/// [`fully_connected_i8`]. The AVX-512 VNNI kernel runs it without any
/// horizontal sum; every other kernel runs the scalar reference on the
/// packed layout, so pack only where [`crate::kernels::dispatch::selected`]
/// is `Avx512`.
pub fn fully_connected_i8_packed(
    packed: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) -> Result<(), Error> {
    let need = packed_vnni_len(y.len(), x.len()).unwrap_or(usize::MAX);
    if packed.len() != need {
        return Err(Error::ShapeMismatch {
            expected: need,
            found: packed.len(),
        });
    }
    if row_sums.len() != y.len() || bias.len() != y.len() || x.is_empty() {
        return Err(Error::ShapeMismatch {
            expected: y.len(),
            found: if x.is_empty() {
                0
            } else {
                row_sums.len().min(bias.len())
            },
        });
    }
    let channels = p.multiplier.len();
    if p.shift.len() != channels || (channels != 1 && channels != y.len()) {
        return Err(Error::ShapeMismatch {
            expected: y.len(),
            found: channels,
        });
    }
    super::dispatch::fully_connected_i8_packed(packed, x, bias, row_sums, p, y);
    Ok(())
}

fn check_fc_shapes(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &[i8],
) -> Result<(), Error> {
    super::gemv_f32::check_gemv_shapes(w.len(), x.len(), bias.len(), y.len())?;
    let channels = p.multiplier.len();
    if p.shift.len() != channels || (channels != 1 && channels != y.len()) {
        return Err(Error::ShapeMismatch {
            expected: y.len(),
            found: channels,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Rounding;

    fn params<'a>(m: &'a [i32], s: &'a [i32]) -> FullyConnectedParams<'a> {
        FullyConnectedParams {
            input_offset: 128,
            output_offset: -5,
            multiplier: m,
            shift: s,
            act_min: -128,
            act_max: 127,
            rounding: Rounding::Double,
        }
    }

    #[test]
    fn requantizes_and_clamps() {
        let (m, s) = crate::quant::quantize_multiplier(1.0 / 255.0);
        let mm = [m];
        let ss = [s];
        let p = params(&mm, &ss);
        let w = [127i8, -127];
        let x = [127i8, 127];
        let mut y = [0i8; 2];
        fully_connected_i8(&w, &x[..1], &[0, 0], &p, &mut y).unwrap();
        // 127·255/255 = 127, −5 → 122; −127 − 5 = −132 → clamp −128.
        assert_eq!(y, [122, -128]);
    }

    #[test]
    fn rejects_bad_channel_counts() {
        let m = [1, 2, 3];
        let s = [0, 0, 0];
        let p = params(&m, &s);
        let mut y = [0i8; 2];
        assert!(fully_connected_i8(&[0; 4], &[0; 2], &[0; 2], &p, &mut y).is_err());
    }
}
