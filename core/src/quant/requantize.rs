//! Fixed-point requantization exactly as TFLite's reference kernels (gemmlowp
//! `fixedpoint.h`, TFLite `quantization_util.cc`, `common.h`).

/// gemmlowp `SaturatingRoundingDoublingHighMul`: the high 32 bits of `2·a·b`,
/// rounded half away from zero; `i32::MIN·i32::MIN` saturates to `i32::MAX`.
#[inline(always)]
pub const fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    // gemmlowp computes `(ab + nudge) / 2^31` with C's truncating division
    // and `nudge = ab ≥ 0 ? 2^30 : 1 − 2^30`. That equals `⌊(ab + 2^30) /
    // 2^31⌋`, one arithmetic shift, for every `ab`: for `ab ≥ 0` truncation
    // is the floor; for `ab < 0` the numerator is negative, truncation is the
    // ceiling, and `⌈(ab + 1 − 2^30) / 2^31⌉ = ⌊(ab + 1 − 2^30 + 2^31 − 1) /
    // 2^31⌋`. The shift spares a 64-bit division fix-up on every call (the
    // softmax runs a dozen per element); the test below checks it against
    // the division on edge and random products.
    let ab = a as i64 * b as i64;
    ((ab + (1 << 30)) >> 31) as i32
}

/// gemmlowp `RoundingDivideByPOT`: `x / 2^exponent` rounded half away from
/// zero, for `exponent` in `0..=31`. Exponents outside that range are clamped
/// into it (TFLite never produces them).
#[inline(always)]
pub const fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = if exponent < 0 {
        0
    } else if exponent > 31 {
        31
    } else {
        exponent
    };
    let mask: i32 = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + if x < 0 { 1 } else { 0 };
    (x >> e) + if remainder > threshold { 1 } else { 0 }
}

/// TFLite `MultiplyByQuantizedMultiplier` with the default double rounding:
/// `RoundingDivideByPOT(SRDHM(x·2^left, m), right)` where `left = max(shift, 0)`
/// and `right = max(−shift, 0)`.
///
/// The left shift wraps like TFLite's `x * (1 << left_shift)` on two's
/// complement hardware.
#[inline(always)]
pub const fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift } else { 0 };
    let right = if shift > 0 { 0 } else { -shift };
    let left = if left > 31 { 31 } else { left };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1i32 << left), multiplier),
        right,
    )
}

/// TFLite `MultiplyByQuantizedMultiplier` as built with
/// `TFLITE_SINGLE_ROUNDING`: the exact 64-bit product `x·multiplier`
/// rounded once, half toward +∞, to `x·multiplier / 2^(31 − shift)`.
///
/// This, not the double rounding of [`multiply_by_quantized_multiplier`], is
/// what TensorFlow Lite 2.21's own interpreter computes (`tensorflow-cpu`
/// wheel, reference kernels, and LiteRT 2.3): the vectors in
/// `tests/data/tflite/` differ from double rounding in 51 of 24 850 output
/// codes and from this in none. TFLite Micro keeps double rounding.
/// Shifts outside `-31..=30` (which `QuantizeMultiplier` never gives) are
/// clamped into it; a result outside i32 (only possible for large positive
/// shifts) wraps like TFLite's `static_cast<int32_t>`.
#[inline(always)]
pub const fn multiply_by_quantized_multiplier_single_rounding(
    x: i32,
    multiplier: i32,
    shift: i32,
) -> i32 {
    let shift = if shift < -31 {
        -31
    } else if shift > 30 {
        30
    } else {
        shift
    };
    // total in 1..=62; |x·multiplier| ≤ 2^62 and the nudge ≤ 2^61: no i64
    // overflow.
    let total = 31 - shift;
    ((x as i64 * multiplier as i64 + (1i64 << (total - 1))) >> total) as i32
}

/// How [`FullyConnectedParams`](crate::kernels::FullyConnectedParams)
/// rounds when it requantizes an accumulator: the two builds of TFLite's
/// `MultiplyByQuantizedMultiplier`. They agree on almost every value and
/// differ by one code where the exact result sits within one part in 2^31
/// of a half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Rounding {
    /// gemmlowp's double rounding ([`multiply_by_quantized_multiplier`]):
    /// `SaturatingRoundingDoublingHighMul`, then `RoundingDivideByPOT`.
    /// What TensorFlow Lite for Microcontrollers and CMSIS-NN compute; the
    /// default.
    #[default]
    Double = 0,
    /// One rounding of the exact 64-bit product
    /// ([`multiply_by_quantized_multiplier_single_rounding`],
    /// `TFLITE_SINGLE_ROUNDING`): what the TensorFlow Lite ≥ 2.x
    /// interpreter and LiteRT compute.
    Single = 1,
}

impl Rounding {
    /// The name used in model files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Rounding::Double => "double",
            Rounding::Single => "single",
        }
    }

    /// The mode named `name` (`"double"` or `"single"`).
    pub fn from_name(name: &str) -> Option<Rounding> {
        match name {
            "double" => Some(Rounding::Double),
            "single" => Some(Rounding::Single),
            _ => None,
        }
    }

    /// `MultiplyByQuantizedMultiplier(x, multiplier, shift)` in this mode.
    #[inline(always)]
    pub const fn multiply(self, x: i32, multiplier: i32, shift: i32) -> i32 {
        match self {
            Rounding::Double => multiply_by_quantized_multiplier(x, multiplier, shift),
            Rounding::Single => {
                multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift)
            }
        }
    }
}

/// TFLite `QuantizeMultiplier`: splits a real multiplier `m` into a Q31
/// fixed-point `multiplier` in `[2^30, 2^31)` and a power-of-two `shift`, so
/// that `m ≈ multiplier · 2^(shift − 31)`.
///
/// `frexp`, round half away from zero, the `2^31` carry and the
/// `shift < −31` flush to zero, as TFLite does. A zero, negative or
/// non-finite `m` gives `(0, 0)`.
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m.is_nan() || m <= 0.0 || m.is_infinite() {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(m);
    let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    // TFLite caps the left shift at 30 (a multiplier ≥ 2^30 is meaningless).
    if shift > 30 {
        shift = 30;
        q_fixed = (1i64 << 31) - 1;
    }
    (q_fixed as i32, shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srdhm_saturates_only_at_min_min() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX),
            -i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MAX, i32::MAX),
            i32::MAX - 1
        );
    }

    #[test]
    fn srdhm_rounds_ties_toward_positive_infinity() {
        // The result is a·b / 2^31. A positive tie (+0.5) rounds up to 1; a
        // negative tie (−0.5) rounds to 0, because gemmlowp's negative nudge
        // is 1 − 2^30 and the division truncates.
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(1, (1 << 30) - 1), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, (1 << 30) + 1), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2); // 1.5 → 2
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1); // −1.5 → −1
    }

    #[test]
    fn srdhm_shift_form_equals_gemmlowps_division() {
        let gemmlowp = |a: i32, b: i32| {
            if a == i32::MIN && b == i32::MIN {
                return i32::MAX;
            }
            let ab = a as i64 * b as i64;
            let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
            ((ab + nudge) / (1i64 << 31)) as i32
        };
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30) - 1,
            -(1 << 30),
            -3,
            -2,
            -1,
            0,
            1,
            2,
            3,
            1 << 30,
            (1 << 30) + 1,
            i32::MAX - 1,
            i32::MAX,
        ];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(
                    saturating_rounding_doubling_high_mul(a, b),
                    gemmlowp(a, b),
                    "{a}·{b}"
                );
            }
        }
        let mut rng = crate::test_rng::Rng(0x9E37_79B9_7F4A_7C15);
        let n = if cfg!(miri) { 1_000 } else { 1_000_000 };
        for _ in 0..n {
            let s = rng.next();
            // Small magnitudes too, where the nudge decides the result.
            let a = (s as i32) >> (s >> 59);
            let b = ((s >> 32) as i32) >> ((s >> 54) & 31);
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b),
                gemmlowp(a, b),
                "{a}·{b}"
            );
        }
    }

    #[test]
    fn rdbpot_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-3, 1), -2);
        assert_eq!(rounding_divide_by_pot(-2, 2), -1); // -0.5 → -1
        assert_eq!(rounding_divide_by_pot(2, 2), 1); // 0.5 → 1
        assert_eq!(rounding_divide_by_pot(1, 2), 0);
        assert_eq!(rounding_divide_by_pot(-1, 2), 0);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    #[test]
    fn quantize_multiplier_matches_tflite_shapes() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        // Rounds up to 2^31: carry into the shift.
        let just_below_one = 1.0 - 1e-12;
        assert_eq!(quantize_multiplier(just_below_one), (1 << 30, 1));
        // Below 2^-32: flushed to zero.
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
    }

    #[test]
    fn multiplier_round_trip_is_close() {
        for &m in &[0.000_123, 0.003_9, 0.071, 0.5, 0.999, 1.7, 12.5] {
            let (q, s) = quantize_multiplier(m);
            let back = q as f64 * libm::pow(2.0, (s - 31) as f64);
            assert!((back - m).abs() <= m * 1e-9, "{m} -> {q},{s} -> {back}");
            let x = 1_000_000;
            let got = multiply_by_quantized_multiplier(x, q, s);
            assert!((got as f64 - x as f64 * m).abs() <= 1.0, "{m}: {got}");
        }
    }

    #[test]
    fn shifts_span_minus31_to_30() {
        // multiplier 2^30 is 0.5 in Q31: the result is round(x · 0.5 · 2^shift).
        for shift in -31..=10 {
            let got = multiply_by_quantized_multiplier(1 << 20, 1 << 30, shift);
            let exact = libm::round(libm::pow(2.0, (19 + shift) as f64)) as i32;
            assert_eq!(got, exact, "shift {shift}");
        }
        for shift in 11..=30 {
            let got = multiply_by_quantized_multiplier(1, 1 << 30, shift);
            assert_eq!(got, 1 << (shift - 1), "shift {shift}");
        }
    }

    #[test]
    fn single_rounding_matches_tflite_where_double_rounding_does_not() {
        // From tests/data/tflite/fc_per_channel_relu6_1x16.json, channel 14,
        // input −128: acc 14817, multiplier 1706676251, shift −10. Exactly
        // 11.49957…; TFLite 2.21 returns 11. Double rounding first rounds
        // 11775.56 to 11776, then 11776 / 2^10 = 11.5 to 12.
        let single = multiply_by_quantized_multiplier_single_rounding;
        assert_eq!(single(14817, 1706676251, -10), 11);
        assert_eq!(multiply_by_quantized_multiplier(14817, 1706676251, -10), 12);
    }

    #[test]
    fn single_rounding_rounds_the_exact_product_half_up() {
        // floor(x·m / 2^(31 − shift) + 1/2), computed independently in i128.
        let exact = |x: i32, m: i32, s: i32| {
            let den = 1i128 << (32 - s);
            (2 * x as i128 * m as i128 + (den >> 1)).div_euclid(den) as i32
        };
        let single = multiply_by_quantized_multiplier_single_rounding;
        let xs = [0, 1, -1, 3, -3, 14817, -14817, 1 << 20, i32::MAX, i32::MIN];
        let ms = [1 << 30, (1 << 30) + 1, 1706676251, i32::MAX];
        for &x in &xs {
            for &m in &ms {
                for s in -31..=0 {
                    assert_eq!(single(x, m, s), exact(x, m, s), "x {x}, m {m}, shift {s}");
                }
            }
        }
        // Ties go toward +∞: 0.5 → 1, −0.5 → 0, −1.5 → −1.
        assert_eq!(single(1, 1 << 30, 0), 1);
        assert_eq!(single(-1, 1 << 30, 0), 0);
        assert_eq!(single(-3, 1 << 30, 0), -1);
    }
}
