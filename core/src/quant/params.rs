//! Per-tensor affine quantization parameters: `real = scale·(q − zero_point)`.

/// The (scale, zero point) of one int8 activation tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    /// Real value of one code step; finite and positive in a valid model.
    pub scale: f32,
    /// The code that represents real 0, in `-128..=127`.
    pub zero_point: i32,
}

impl QuantParams {
    /// Parameters from a scale and zero point.
    pub const fn new(scale: f32, zero_point: i32) -> Self {
        QuantParams { scale, zero_point }
    }

    /// Whether these parameters can describe an int8 tensor: a finite,
    /// positive scale and a zero point inside the int8 range.
    pub fn is_valid(&self) -> bool {
        self.scale.is_finite() && self.scale > 0.0 && (-128..=127).contains(&self.zero_point)
    }

    /// TFLite's `AffineQuantize`: `clamp(round(x / scale) + zero_point)`,
    /// the division in f32 and `round` half away from zero. NaN maps to the
    /// zero point; ±∞ saturate.
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        let r = libm::roundf(x / self.scale);
        // `as i32` saturates (and sends NaN to 0), so this never overflows.
        let q = (r as i32).saturating_add(self.zero_point);
        q.clamp(-128, 127) as i8
    }

    /// TFLite's `Dequantize`: `scale · (q − zero_point)` in f32.
    #[inline]
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point) as f32
    }

    /// Quantizes a slice; `q` and `x` are zipped (the shorter bounds the work).
    pub fn quantize_slice(&self, x: &[f32], q: &mut [i8]) {
        for (qi, &xi) in q.iter_mut().zip(x) {
            *qi = self.quantize(xi);
        }
    }

    /// Dequantizes a slice; `x` and `q` are zipped.
    pub fn dequantize_slice(&self, q: &[i8], x: &mut [f32]) {
        for (xi, &qi) in x.iter_mut().zip(q) {
            *xi = self.dequantize(qi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_half_away_from_zero_and_saturates() {
        let p = QuantParams::new(0.5, -3);
        assert_eq!(p.quantize(0.25), -2); // 0.5 → 1, −3 + 1
        assert_eq!(p.quantize(-0.25), -4); // −0.5 → −1
        assert_eq!(p.quantize(1e9), 127);
        assert_eq!(p.quantize(-1e9), -128);
        assert_eq!(p.quantize(f32::INFINITY), 127);
        assert_eq!(p.quantize(f32::NEG_INFINITY), -128);
        assert_eq!(p.quantize(f32::NAN), -3);
    }

    #[test]
    fn dequantize_inverts_quantize_on_codes() {
        let p = QuantParams::new(0.037, 11);
        for q in -128..=127i32 {
            let q = q as i8;
            assert_eq!(p.quantize(p.dequantize(q)), q);
        }
    }

    #[test]
    fn validity() {
        assert!(QuantParams::new(1.0, 0).is_valid());
        assert!(!QuantParams::new(0.0, 0).is_valid());
        assert!(!QuantParams::new(f32::NAN, 0).is_valid());
        assert!(!QuantParams::new(1.0, 128).is_valid());
    }
}
