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

use crate::quant::Rounding;
use crate::Error;

/// Quantization parameters of one int8 fully connected layer.
#[derive(Debug, Clone, Copy)]
pub struct FullyConnectedParams<'a> {
    /// `−input_zero_point`, added to every input code.
    pub input_offset: i32,
    /// The output zero point, added after requantization.
    pub output_offset: i32,
    /// Q31 multipliers: one per output channel, or a single one for the
    /// whole tensor.
    pub multiplier: &'a [i32],
    /// Power-of-two shifts, paired with `multiplier` (same length).
    pub shift: &'a [i32],
    /// Lower clamp (fused activation: ReLU sets it to the output zero point).
    pub act_min: i8,
    /// Upper clamp.
    pub act_max: i8,
    /// How `MultiplyByQuantizedMultiplier` rounds: TFLite Micro's double
    /// rounding or the TFLite interpreter's single rounding.
    pub rounding: Rounding,
}

impl FullyConnectedParams<'_> {
    /// The (multiplier, shift) of output channel `c`; per-tensor parameters
    /// serve every channel.
    #[inline(always)]
    pub fn channel(&self, c: usize) -> (i32, i32) {
        let i = if self.multiplier.len() == 1 { 0 } else { c };
        match (self.multiplier.get(i), self.shift.get(i)) {
            (Some(&m), Some(&s)) => (m, s),
            _ => (0, 0),
        }
    }

    /// Requantizes one accumulator to the output code.
    #[inline(always)]
    pub fn requantize(&self, acc: i32, c: usize) -> i8 {
        let (m, s) = self.channel(c);
        let v = self
            .rounding
            .multiply(acc, m, s)
            .wrapping_add(self.output_offset);
        // max-then-min rather than `clamp`, which panics on `act_min > act_max`
        // (equal results whenever the bounds are ordered).
        v.max(self.act_min as i32).min(self.act_max as i32) as i8
    }
}

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
    crate::kernels::dispatch::fully_connected_i8(w, x, bias, p, y);
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
    crate::kernels::dispatch::fully_connected_i8_with_row_sums(w, x, bias, row_sums, p, y);
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

/// Rows per block of the VNNI-packed weight layout ([`pack_vnni`]).
pub const VNNI_ROWS: usize = 16;
/// Columns per group of the VNNI-packed weight layout.
pub const VNNI_COLS: usize = 4;
/// A packed weight byte is `w ^ VNNI_FLIP`: the unsigned `w + 128`.
pub(crate) const VNNI_FLIP: u8 = 0x80;

/// Length in bytes of `rows × cols` weights packed by [`pack_vnni`]: rows
/// rounded up to [`VNNI_ROWS`], columns to [`VNNI_COLS`]; `None` on overflow.
pub fn packed_vnni_len(rows: usize, cols: usize) -> Option<usize> {
    rows.div_ceil(VNNI_ROWS)
        .checked_mul(VNNI_ROWS)?
        .checked_mul(cols.div_ceil(VNNI_COLS).checked_mul(VNNI_COLS)?)
}

/// Where weight `(r, c)` lives in the VNNI-packed layout: blocks of 16 rows,
/// inside a block groups of 4 columns, each group 64 bytes holding the 4
/// weights of each of the 16 rows (`[r0c0 r0c1 r0c2 r0c3 r1c0 …]`), each
/// stored as the unsigned byte `w + 128` (`w ^ 0x80`; padding is the weight
/// 0, stored as `0x80`). One `vpdpbusd` then multiplies 16 rows of unsigned
/// weights by a broadcast group of 4 signed inputs, straight from memory,
/// and leaves one row total per i32 lane: no horizontal sums, no per-call
/// conversion of the inputs. The `+128` costs `128·Σx` per call, subtracted
/// exactly in i32.
#[inline(always)]
pub(crate) fn vnni_index(r: usize, c: usize, groups: usize) -> usize {
    ((r / VNNI_ROWS) * groups + c / VNNI_COLS) * (VNNI_ROWS * VNNI_COLS)
        + (r % VNNI_ROWS) * VNNI_COLS
        + c % VNNI_COLS
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
    crate::kernels::dispatch::fully_connected_i8_packed(packed, x, bias, row_sums, p, y);
    Ok(())
}

/// The input offsets for which `x + input_offset` fits i16 for every int8
/// `x`: the widening kernels (AVX2, NEON) add the offset in i16 and fall back
/// to the scalar reference outside this range.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) const I16_OFFSET_RANGE: core::ops::RangeInclusive<i32> = -32640..=32640;

fn check_fc_shapes(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &[i8],
) -> Result<(), Error> {
    crate::kernels::gemv_f32::check_gemv_shapes(w.len(), x.len(), bias.len(), y.len())?;
    let channels = p.multiplier.len();
    if p.shift.len() != channels || (channels != 1 && channels != y.len()) {
        return Err(Error::ShapeMismatch {
            expected: y.len(),
            found: channels,
        });
    }
    Ok(())
}

/// The scalar reference: TFLite's loop, written plainly.
pub struct Scalar;

impl Scalar {
    /// Accumulator of one output channel: `Σ w·(x + input_offset) + bias`.
    #[inline(always)]
    pub fn accumulate(row: &[i8], x: &[i8], input_offset: i32, bias: i32) -> i32 {
        let mut acc: i32 = 0;
        for (&wi, &xi) in row.iter().zip(x) {
            acc =
                acc.wrapping_add((wi as i32).wrapping_mul((xi as i32).wrapping_add(input_offset)));
        }
        acc.wrapping_add(bias)
    }

    /// The whole layer on VNNI-packed weights ([`pack_vnni`]), `rows =
    /// y.len()`, `cols = x.len()`. Total: rows whose weights or bias are
    /// missing are left as they are.
    pub fn fully_connected_packed(
        packed: &[i8],
        x: &[i8],
        bias: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        let groups = x.len().div_ceil(VNNI_COLS);
        for (r, (yr, &b)) in y.iter_mut().zip(bias).enumerate() {
            let mut acc = b;
            for (c, &xc) in x.iter().enumerate() {
                let Some(&stored) = packed.get(vnni_index(r, c, groups)) else {
                    return;
                };
                let wv = ((stored as u8) ^ VNNI_FLIP) as i8;
                acc = acc.wrapping_add(
                    (wv as i32).wrapping_mul((xc as i32).wrapping_add(p.input_offset)),
                );
            }
            *yr = p.requantize(acc, r);
        }
    }

    /// The whole layer. Total: with inconsistent lengths it computes the rows
    /// that fit and never panics (the checked entry point is
    /// [`fully_connected_i8`]).
    pub fn fully_connected(
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        if x.is_empty() {
            for (c, (&b, yc)) in bias.iter().zip(y.iter_mut()).enumerate() {
                *yc = p.requantize(b, c);
            }
            return;
        }
        for (c, ((row, &b), yc)) in w
            .chunks_exact(x.len())
            .zip(bias)
            .zip(y.iter_mut())
            .enumerate()
        {
            *yc = p.requantize(Self::accumulate(row, x, p.input_offset, b), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn extremes_accumulate_exactly() {
        // inputs at −128 with input_offset 128 contribute 0; at 127, 255·w.
        let w = [127i8, -127, 127, -127];
        let x = [-128i8, 127];
        let acc0 = Scalar::accumulate(&w[..2], &x, 128, 0);
        assert_eq!(acc0, -127 * 255);
        let acc1 = Scalar::accumulate(&w[2..], &x, 128, i32::MAX);
        assert_eq!(acc1, i32::MAX.wrapping_add(-127 * 255));
        let acc2 = Scalar::accumulate(&w[..2], &x, 128, i32::MIN);
        assert_eq!(acc2, i32::MIN.wrapping_add(-127 * 255));
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
