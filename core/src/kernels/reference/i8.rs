//! TFLite's int8 fully connected arithmetic, defined by its scalar
//! reference (the formula is documented on [`crate::kernels::gemv_i8`]).

use crate::quant::Rounding;

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

    /// The whole layer. Total: with inconsistent lengths it computes the rows
    /// that fit and never panics (the checked entry point is
    /// [`fully_connected_i8`](crate::kernels::fully_connected_i8)).
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
}
