//! int8 softmax exactly as TFLite's reference kernel
//! (`reference_ops::Softmax` for int8, gemmlowp fixed point).
//!
//! The differences `x[i] − max x` are scaled by `beta·input_scale` into a
//! Q5.26 fixed-point number, exponentiated by gemmlowp's
//! `exp_on_negative_values` (a Taylor polynomial on [−1/4, 0) and a barrel
//! of `exp(−2^k)` constants), summed in Q12.19, inverted by Newton–Raphson
//! (`one_over_one_plus_x_for_x_in_0_1`), and the quotients rounded into
//! codes with TFLite's fixed output parameters: scale 1/256, zero point −128.
//! No floating point runs on the device; the parameters come from the host
//! ([`SoftmaxParams::from_input_scale`]).

use super::requantize::{
    quantize_multiplier, rounding_divide_by_pot as rdbpot,
    saturating_rounding_doubling_high_mul as srdhm,
};
use super::QuantParams;

/// TFLite's fixed output parameters for int8 softmax: range [0, 1).
pub const SOFTMAX_OUTPUT: QuantParams = QuantParams::new(1.0 / 256.0, -128);

/// Integer bits of the scaled difference (`kScaledDiffIntegerBits`).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (`kAccumulationIntegerBits`).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// The parameters of one int8 softmax, derived on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// Q31 multiplier of `beta·input_scale·2^26`.
    pub input_multiplier: i32,
    /// Left shift paired with `input_multiplier`, in `0..=30`.
    pub input_left_shift: i32,
    /// Differences below this (in input codes) contribute exactly 0.
    pub diff_min: i32,
}

impl SoftmaxParams {
    /// TFLite's `PreprocessSoftmaxScaling` and `CalculateInputRadius`, in
    /// f64. `None` when `beta·input_scale` is not a positive finite number
    /// or so small that the multiplier would need a right shift (TFLite
    /// rejects such models too).
    pub fn from_input_scale(input_scale: f32, beta: f64) -> Option<Self> {
        let real = beta * input_scale as f64 * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64;
        let real = if real > (1i64 << 31) as f64 - 1.0 {
            (1i64 << 31) as f64 - 1.0
        } else {
            real
        };
        if real.is_nan() || real <= 0.0 || real.is_infinite() {
            return None;
        }
        let (m, shift) = quantize_multiplier(real);
        if shift < 0 || m == 0 {
            return None;
        }
        let radius = ((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) as f64
            * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64
            / (1i64 << shift) as f64;
        Some(SoftmaxParams {
            input_multiplier: m,
            input_left_shift: shift,
            diff_min: -(libm::floor(radius) as i32),
        })
    }

    /// Whether the fields are in the ranges [`from_input_scale`] produces.
    ///
    /// [`from_input_scale`]: Self::from_input_scale
    pub fn is_valid(&self) -> bool {
        self.input_multiplier > 0 && (0..=30).contains(&self.input_left_shift) && self.diff_min <= 0
    }
}

/// gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>` for `exponent > 0`:
/// a left shift that saturates instead of overflowing.
#[inline(always)]
pub(crate) fn saturating_shl(x: i32, exponent: u32) -> i32 {
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// gemmlowp `RoundingHalfSum` for int32.
#[inline(always)]
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl`, Q0.31
/// in and out: Taylor expansion of `exp` around −1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(−1/8) in Q0.31
    const ONE_THIRD: i32 = 715_827_883; // 1/3 in Q0.31
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rdbpot(x4, 2);
    let poly = rdbpot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// gemmlowp `exp_on_negative_values`: Q5.26 in (≤ 0), Q0.31 out.
fn exp_on_negative_values(a: i32) -> i32 {
    const FRACTIONAL_BITS: i32 = 31 - SCALED_DIFF_INTEGER_BITS;
    const ONE_QUARTER: i32 = 1 << (FRACTIONAL_BITS - 2);
    // exp(−2^k) in Q0.31 for k = −2..=4.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    let a_mod_quarter_minus_one_quarter = (a & (ONE_QUARTER - 1)).wrapping_sub(ONE_QUARTER);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_shl(
        a_mod_quarter_minus_one_quarter,
        SCALED_DIFF_INTEGER_BITS as u32,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    for (exponent, multiplier) in BARREL {
        if remainder & (1 << (FRACTIONAL_BITS + exponent)) != 0 {
            result = srdhm(result, multiplier);
        }
    }
    if a == 0 {
        i32::MAX // exactly 1
    } else {
        result
    }
}

/// gemmlowp `one_over_one_plus_x_for_x_in_0_1`: Q0.31 in and out, three
/// Newton–Raphson steps from the 48/17 − 32/17·d start.
fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const C48_OVER_17: i32 = 1_515_870_810; // Q2.29
    const CNEG32_OVER_17: i32 = -1_010_580_540; // Q2.29
    const ONE_Q2: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = C48_OVER_17.wrapping_add(srdhm(half_denominator, CNEG32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x);
        let one_minus = ONE_Q2.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(saturating_shl(srdhm(x, one_minus), 2));
    }
    saturating_shl(x, 1)
}

/// TFLite `GetReciprocal`: `(1/x` scaled into Q0.31, number of bits of `x`
/// over one). `x` must be positive; 0 gives `(0, 0)`.
pub(crate) fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    if x <= 0 {
        return (0, 0);
    }
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    let shifted_sum_minus_one = ((x as u32) << headroom_plus_one).wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

/// `exp(diff)` in Q0.31 for a difference `diff = x[i] − max x` (≤ 0) in
/// input codes: the Q5.26 scaled difference exponentiated, or 0 when `diff`
/// is below `diff_min` (the element then adds nothing to the sum and gets
/// the code −128).
#[inline(always)]
pub(crate) fn exp_of_diff(p: &SoftmaxParams, diff: i32) -> i32 {
    if diff >= p.diff_min {
        // MultiplyByQuantizedMultiplierGreaterThanOne.
        let shift = p.input_left_shift.clamp(0, 30);
        exp_on_negative_values(srdhm(diff.wrapping_mul(1 << shift), p.input_multiplier))
    } else {
        0
    }
}

/// Rows up to this long keep their exponentials on the stack between the
/// two passes (64 bytes) instead of computing each one twice; longer rows
/// recompute them. Same bits either way.
const CACHED_EXPS: usize = 16;

/// The exponentials of one softmax for every difference an int8 row can
/// have: entry `k` (0..=255) is what [`softmax_i8`] computes for an element
/// `k` codes below the row maximum (`exp(−k·beta·input_scale)` in Q0.31
/// by gemmlowp's fixed point, 0 below `diff_min`). Built once per model (at
/// export or load); [`softmax_i8_with_table`] then looks each element up
/// instead of exponentiating it, with the same bits. The exponentials
/// reach 0 well before 255 for most scales; a model stores only the first
/// [`exp_table_len`] entries (the rest are zeros).
pub fn softmax_exp_table(p: &SoftmaxParams) -> [i32; 256] {
    core::array::from_fn(|k| exp_of_diff(p, -(k as i32)))
}

/// The length of `table` without its trailing zeros: the part a model
/// stores ([`softmax_i8_with_table`] takes every entry past the end as 0).
pub fn exp_table_len(table: &[i32; 256]) -> usize {
    table.iter().rposition(|&e| e != 0).map_or(0, |k| k + 1)
}

/// Whether `stored` is the exponential table of `p` as a model stores it:
/// at most 256 entries, each equal to [`softmax_exp_table`]'s, and every
/// entry past its end 0. 256 exponentials: a load-time check.
pub fn exp_table_matches(p: &SoftmaxParams, stored: &[i32]) -> bool {
    // Entry by entry: a 1 KiB table on the stack would be the largest
    // frame of a firmware's load-time validation.
    stored.len() <= 256
        && (0..256i32).all(|k| stored.get(k as usize).copied().unwrap_or(0) == exp_of_diff(p, -k))
}

/// Where [`softmax_rows`] takes each element's exponential from.
#[derive(Clone, Copy)]
enum Exps<'t> {
    /// Computed from the parameters.
    Computed(&'t SoftmaxParams),
    /// Looked up (entry `max − x[i]`, 0 past the end).
    Table(&'t [i32]),
}

/// The int8 softmax of `x` into `y`, with each element's exponential from
/// `exps`: one body for both sources (one copy of the code in a firmware
/// image), the source chosen per element by a predictable branch.
fn softmax_rows(exps: Exps<'_>, x: &[i8], y: &mut [i8]) {
    let Some(max) = x.iter().copied().max() else {
        return;
    };
    let max = max as i32;
    // exp(x[i] − max) in Q0.31, 0 for differences below diff_min (which
    // then add nothing to the sum and give the code −128).
    let exp = |xi: i8| {
        // max ≥ xi, both i8: the difference is in 0..=255.
        let below = max - xi as i32;
        match exps {
            Exps::Computed(p) => exp_of_diff(p, -below),
            Exps::Table(t) => t.get(below as usize).copied().unwrap_or(0),
        }
    };
    let mut cache = [0i32; CACHED_EXPS];
    let cached = x.len() <= CACHED_EXPS;
    let mut sum_of_exps: i32 = 0; // Q12.19
    for (i, &xi) in x.iter().enumerate() {
        let e = exp(xi);
        if let Some(c) = cache.get_mut(i).filter(|_| cached) {
            *c = e;
        }
        sum_of_exps = sum_of_exps.wrapping_add(rdbpot(e, ACCUMULATION_INTEGER_BITS));
    }
    let (shifted_scale, num_bits_over_unit) =
        get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
    let exponent = num_bits_over_unit + 31 - 8;
    for (i, (yi, &xi)) in y.iter_mut().zip(x).enumerate() {
        let e = match cache.get(i) {
            Some(&e) if cached => e,
            _ => exp(xi),
        };
        // A skipped element (e = 0) gives 0 here too: −128.
        let unsat = rdbpot(srdhm(shifted_scale, e), exponent);
        *yi = unsat.wrapping_add(-128).clamp(-128, 127) as i8;
    }
}

/// int8 softmax of `x` into `y` (zipped; the shorter bounds the output).
/// Output codes have [`SOFTMAX_OUTPUT`] parameters. An empty `x` leaves `y`
/// untouched.
pub fn softmax_i8(p: &SoftmaxParams, x: &[i8], y: &mut [i8]) {
    softmax_rows(Exps::Computed(p), x, y);
}

/// [`softmax_i8`] with the exponentials looked up in `table`: entry `k`
/// for an element `k` codes below the row maximum, 0 past its end. It must
/// be [`softmax_exp_table`] of the same parameters, possibly without
/// trailing zeros ([`exp_table_matches`]; a model validator checks it once,
/// the softmax op checks it when a model loads); then the output is the same, bit for bit.
pub fn softmax_i8_with_table(table: &[i32], x: &[i8], y: &mut [i8]) {
    softmax_rows(Exps::Table(table), x, y);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q31(v: f64) -> i32 {
        libm::round(v * 2147483648.0) as i32
    }

    #[test]
    fn exp_matches_f64_on_negative_values() {
        // Q5.26 inputs from 0 down to −31.
        let mut a: i64 = 0;
        while a >= -(31i64 << 26) {
            let got = exp_on_negative_values(a as i32) as f64 / 2147483648.0;
            let want = libm::exp(a as f64 / (1u64 << 26) as f64);
            assert!(
                (got - want).abs() < 2e-8 + want * 1e-6,
                "a {a}: {got} vs {want}"
            );
            a -= 9_876_543;
        }
        assert_eq!(exp_on_negative_values(0), i32::MAX);
    }

    #[test]
    fn reciprocal_matches_f64() {
        for &x in &[0.0f64, 0.1, 0.25, 0.5, 0.75, 0.999] {
            let got = one_over_one_plus_x_for_x_in_0_1(q31(x)) as f64 / 2147483648.0;
            assert!((got - 1.0 / (1.0 + x)).abs() < 1e-8, "x {x}: {got}");
        }
    }

    #[test]
    fn params_follow_tflite_scaling() {
        // input_scale 1/16: real = 2^−4·2^26 = 2^22 → multiplier 2^30, shift 23.
        let p = SoftmaxParams::from_input_scale(1.0 / 16.0, 1.0).unwrap();
        assert_eq!((p.input_multiplier, p.input_left_shift), (1 << 30, 23));
        // radius = 31·2^26 / 2^23 = 248.
        assert_eq!(p.diff_min, -248);
        assert!(p.is_valid());
        assert!(SoftmaxParams::from_input_scale(0.0, 1.0).is_none());
        assert!(SoftmaxParams::from_input_scale(f32::NAN, 1.0).is_none());
    }

    #[test]
    fn softmax_tracks_the_f64_softmax() {
        let scale = 0.11f32;
        let p = SoftmaxParams::from_input_scale(scale, 1.0).unwrap();
        let rows: [[i8; 6]; 4] = [
            [0, 0, 0, 0, 0, 0],
            [-128, 127, 0, 5, -7, 30],
            [10, 11, 12, 13, 14, 15],
            [-128, -128, -128, -128, -128, 127],
        ];
        for x in rows {
            let mut y = [0i8; 6];
            softmax_i8(&p, &x, &mut y);
            let m = x
                .iter()
                .map(|&v| v as f64 * scale as f64)
                .fold(f64::MIN, f64::max);
            let e: [f64; 6] = core::array::from_fn(|i| libm::exp(x[i] as f64 * scale as f64 - m));
            let s: f64 = e.iter().sum();
            for i in 0..6 {
                let got = SOFTMAX_OUTPUT.dequantize(y[i]) as f64;
                let want = e[i] / s;
                assert!(
                    (got - want).abs() <= 1.0 / 256.0 + 1e-9,
                    "{x:?}[{i}]: {got} vs {want}"
                );
            }
        }
    }

    /// TFLite's scaled difference, as written there.
    fn scaled_diff(p: &SoftmaxParams, xi: i8, max: i32) -> Option<i32> {
        let diff = xi as i32 - max;
        (diff >= p.diff_min).then(|| {
            let shift = p.input_left_shift.clamp(0, 30);
            srdhm(diff.wrapping_mul(1 << shift), p.input_multiplier)
        })
    }

    /// TFLite's loop as written: every exponential computed in both passes.
    fn softmax_reference(p: &SoftmaxParams, x: &[i8], y: &mut [i8]) {
        let Some(max) = x.iter().copied().max() else {
            return;
        };
        let max = max as i32;
        let mut sum_of_exps: i32 = 0;
        for &xi in x {
            if let Some(d) = scaled_diff(p, xi, max) {
                let e = exp_on_negative_values(d);
                sum_of_exps = sum_of_exps.wrapping_add(rdbpot(e, ACCUMULATION_INTEGER_BITS));
            }
        }
        let (shifted_scale, num_bits_over_unit) =
            get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = match scaled_diff(p, xi, max) {
                Some(d) => {
                    let e = exp_on_negative_values(d);
                    let unsat = rdbpot(srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
                    unsat.wrapping_add(-128).clamp(-128, 127) as i8
                }
                None => -128,
            };
        }
    }

    #[test]
    fn cached_exponentials_give_the_reference_bits() {
        let mut rng = crate::test_rng::Rng(0x2545_F491_4F6C_DD1Du64);
        let mut next = || rng.next();
        let rounds = if cfg!(miri) { 20 } else { 3_000 };
        for r in 0..rounds {
            // Both sides of CACHED_EXPS, scales from tiny to large.
            let len = 1 + r % (2 * CACHED_EXPS + 3);
            let scale = [0.002f32, 0.03, 0.11, 0.5, 2.0, 9.0][r % 6];
            let p = SoftmaxParams::from_input_scale(scale, 1.0).unwrap();
            let spread = 1 + (next() % 256) as i32;
            let x: [i8; 2 * CACHED_EXPS + 3] =
                core::array::from_fn(|_| ((next() % spread as u64) as i32 - 128) as i8);
            let x = &x[..len];
            let (mut want, mut got) = ([0x55i8; 40], [0x55i8; 40]);
            softmax_reference(&p, x, &mut want[..len]);
            softmax_i8(&p, x, &mut got[..len]);
            assert_eq!(want, got, "{x:?} scale {scale}");
            let table = softmax_exp_table(&p);
            let stored = &table[..exp_table_len(&table)];
            for t in [&table[..], stored] {
                let mut looked_up = [0x55i8; 40];
                softmax_i8_with_table(t, x, &mut looked_up[..len]);
                assert_eq!(want, looked_up, "table: {x:?} scale {scale}");
            }
        }
    }

    #[test]
    fn exp_table_holds_each_difference_and_extreme_rows_agree() {
        for scale in [0.001f32, 0.004, 0.03, 0.1, 0.5, 3.0, 100.0] {
            let p = SoftmaxParams::from_input_scale(scale, 1.0).unwrap();
            let table = softmax_exp_table(&p);
            for (k, &e) in table.iter().enumerate() {
                // An element k codes below the maximum, as TFLite computes it.
                let (x, max) = (-128i8, -128 + k as i32);
                let want = scaled_diff(&p, x, max).map_or(0, exp_on_negative_values);
                assert_eq!(e, want, "scale {scale}, k {k}");
            }
            assert_eq!(table[0], i32::MAX);
            let n = exp_table_len(&table);
            assert!(table[n..].iter().all(|&e| e == 0) && (n == 256 || n > 0));
            assert!(exp_table_matches(&p, &table[..n]) && exp_table_matches(&p, &table));
            if n > 0 {
                assert!(!exp_table_matches(&p, &table[..n - 1]));
            }
            let mut off = table;
            off[n / 2] ^= 1;
            assert!(!exp_table_matches(&p, &off));
            // Rows spanning the whole code range, both ends.
            let rows: [&[i8]; 4] = [&[-128, 127], &[127, -128, 0, 5], &[-128; 7], &[127; 3]];
            for x in rows {
                let (mut want, mut got) = ([0i8; 7], [0i8; 7]);
                softmax_reference(&p, x, &mut want[..x.len()]);
                softmax_i8_with_table(&table[..n], x, &mut got[..x.len()]);
                assert_eq!(want, got, "{x:?} scale {scale}");
            }
        }
    }

    #[test]
    fn equal_inputs_share_the_mass_exactly() {
        let p = SoftmaxParams::from_input_scale(0.05, 1.0).unwrap();
        let mut y = [0i8; 4];
        softmax_i8(&p, &[7, 7, 7, 7], &mut y);
        // 1/4 = 64/256 → code 64 − 128 = −64.
        assert_eq!(y, [-64; 4]);
        let mut one = [0i8; 1];
        softmax_i8(&p, &[-3], &mut one);
        assert_eq!(one, [127]); // 1.0 → 256 − 128 = 128, clamped.
    }
}
