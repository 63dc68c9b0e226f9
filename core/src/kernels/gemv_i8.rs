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

use crate::quant::multiply_by_quantized_multiplier;
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
        let v = multiply_by_quantized_multiplier(acc, m, s).wrapping_add(self.output_offset);
        v.clamp(self.act_min as i32, self.act_max as i32) as i8
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
    crate::kernels::gemv_f32::check_gemv_shapes(w.len(), x.len(), bias.len(), y.len())?;
    let channels = p.multiplier.len();
    if p.shift.len() != channels || (channels != 1 && channels != y.len()) {
        return Err(Error::ShapeMismatch {
            expected: y.len(),
            found: channels,
        });
    }
    crate::kernels::dispatch::fully_connected_i8(w, x, bias, p, y);
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
            acc = acc.wrapping_add((wi as i32).wrapping_mul((xi as i32).wrapping_add(input_offset)));
        }
        acc.wrapping_add(bias)
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
        for (c, ((row, &b), yc)) in w.chunks_exact(x.len()).zip(bias).zip(y.iter_mut()).enumerate() {
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
