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
    ///
    /// Computed without `libm::roundf` (a software routine on a
    /// microcontroller): for `|v| < 2^23`, `v ± (0.5 − 2^−25)` rounded to
    /// f32 and truncated is `v` rounded half away from zero (the nudge is
    /// just below one half, so a fraction under 0.5 never reaches the next
    /// integer, and one of 0.5 or more always does: the sum then lies within
    /// 2^−25 of it, less than half an ulp, or exactly halfway to 1.0, which
    /// is even). Larger values are integers already, and the same sum
    /// leaves them unchanged (their ulp is at least 1, so adding less than
    /// one half rounds back to `v`; ±∞ stay ±∞ and NaN stays NaN), where
    /// `as i32` (saturating, NaN to 0) is `roundf(v) as i32`: one formula
    /// for every `v`, without a branch on `|v|`. The tests compare the two
    /// near every rounding boundary and across all exponents.
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        const NUDGE: f32 = 0.5 - 0.25 * f32::EPSILON;
        let v = x / self.scale;
        let r = (v + NUDGE.copysign(v)) as i32;
        r.saturating_add(self.zero_point).clamp(-128, 127) as i8
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

    /// The definition: `clamp(roundf(x / scale) + zero_point)`.
    fn quantize_with_roundf(p: &QuantParams, x: f32) -> i8 {
        let r = libm::roundf(x / p.scale);
        (r as i32).saturating_add(p.zero_point).clamp(-128, 127) as i8
    }

    #[test]
    fn quantize_equals_roundf_everywhere_it_matters() {
        let params = [
            QuantParams::new(1.0, 0),
            QuantParams::new(0.5, -3),
            QuantParams::new(0.041_29, -109),
            QuantParams::new(1.0, 127),
            QuantParams::new(1.0, -128),
            QuantParams::new(3.0e-7, 5),
            QuantParams::new(1.0, i32::MAX),
            QuantParams::new(1.0, i32::MIN),
        ];
        let check = |x: f32| {
            for p in &params {
                assert_eq!(
                    p.quantize(x),
                    quantize_with_roundf(p, x),
                    "{x:e} with {p:?}"
                );
            }
        };
        // Every f32 within 64 ulps of each half-integer and integer in
        // −600..=600 (the rounding and saturation boundaries), both signs,
        // and around ±2^23 (where the exact path ends).
        // Miri is slow: there, every 37th boundary and 4 ulps either side.
        let (k_step, ulps) = if cfg!(miri) { (37, 4) } else { (1, 64) };
        for k in (-1200..=1200).step_by(k_step) {
            let c = k as f32 * 0.5;
            for d in -ulps..=ulps {
                let bits = (c.to_bits() as i32).wrapping_add(d) as u32;
                check(f32::from_bits(bits));
            }
        }
        for c in [
            8_388_608.0f32,
            -8_388_608.0,
            8_388_607.5,
            -8_388_607.5,
            4_194_304.5,
            -4_194_304.5,
            4_194_303.5,
            2_097_152.5,
            -2_097_153.5,
            1_048_576.5,
            -1_048_575.5,
            0.25,
            -0.25,
            0.75,
            1.0e-30,
            -1.0e-30,
            2_147_483_648.0,
            -2_147_483_648.0,
        ] {
            for d in -ulps..=ulps {
                check(f32::from_bits((c.to_bits() as i32).wrapping_add(d) as u32));
            }
        }
        // A sweep over all exponents and signs, NaNs and infinities included.
        let step = if cfg!(miri) { 1 << 22 } else { 4093 };
        let mut b = 0u64;
        while b <= u32::MAX as u64 {
            check(f32::from_bits(b as u32));
            b += step;
        }
        for x in [
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN,
            f32::MAX,
        ] {
            check(x);
        }
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
