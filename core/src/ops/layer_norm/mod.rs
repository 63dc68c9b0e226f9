//! `layer_norm`: Axon's integer layer normalization, int8 in (any zero
//! point and scale) → int8 out. TFLite has no such op (its converter
//! splits LayerNorm into MEAN, SQUARED_DIFFERENCE, RSQRT, MUL, ADD, each
//! requantized to int8); this is one op, exact up to the documented bound.
//!
//! For a row `x` of `n` codes (the input's scale and zero point cancel:
//! LayerNorm is invariant to both, except through ε):
//!
//! ```text
//! S = Σ x_i,  Q = Σ x_i²                         (i64, exact)
//! V = n·Q − S² + ε'                              (= n²·(Var + ε/s_in²) in codes², u64, exact)
//! m = ⌊(62 − bits(V)) / 2⌋,  R = isqrt(V·4^m)   (R ∈ [2^30, 2^31): √V with 31 bits)
//! r = ⌊2^62 / R⌋                                 (2^m·r / 2^62 ≈ 1/√V)
//! per i:  d_i = n·x_i − S                        (= n·(x_i − mean))
//!         u_i = ⌊(d_i·r + 2^(37−m)) / 2^(38−m)⌋  (≈ (x_i − mean)/√(Var + ε), in Q24)
//!         y_i = clamp(⌊(u_i·G_i + B_i·2^24 + 2^(23+k)) / 2^(24+k)⌋, −128, 127)
//! ```
//!
//! with the gain and bias folded at quantization time ([`fold`]):
//! `G_i = round(γ_i/s_out·2^k)`, `B_i = round((β_i/s_out + zp_out)·2^k)`,
//! `k` the largest shift (≤ 30) that keeps every `G_i`, `B_i` in i32, and
//! `ε' = max(1, round(n²·ε/s_in²))` ([`epsilon_codes`]), so a constant row
//! (variance 0) gives `u = 0` and `y = B/2^k`, never a division by zero.
//! Roundings are half toward +∞ (an arithmetic shift of the nudged value).
//!
//! Bound ([`ERROR_BOUND_Q24`]): with `y* = (G_i·d_i/√V + B_i)/2^k` the
//! exact real value of the folded parameters, `|y_i − y*| ≤ ½ + δ_i` where
//! `δ_i = 3·|G_i|/2^(24+k)` (`R` is `√V·2^m` floored, relative error
//! < 2^−30; `r` floored, < 2^−31; together < 2^−29 on `|u| < 2^30`, i.e.
//! < 2 units of Q24, plus the rounding of `u`, ½ unit): `y` is `y*`
//! correctly rounded except within `δ` of a half, so never more than one
//! code away. For `|γ/s_out| ≤ 2^12`, `δ < 2^−10`. The tests check this
//! against an exact-integer reference on random and extreme rows, and the
//! result against the real-valued LayerNorm.
//!
//! Ranges: `2 ≤ n ≤` [`MAX_WIDTH`] (then `|d| < 2^20`, `|d·r| ≤ 2^52`,
//! `|u_i| ≤ √(n−1)·2^24 < 2^30`, `|u·G| < 2^61`: no i64 overflow) and
//! `ε' <` [`MAX_EPSILON`] (`V < 2^62`).

use crate::quant::QuantParams;
use crate::Error;

/// Widest row.
pub const MAX_WIDTH: usize = 4096;
/// `ε'` must be below this (so `V < 2^62`).
pub const MAX_EPSILON: u64 = 1 << 60;
/// The bound's constant: `|y − y*| ≤ ½ + ERROR_BOUND_Q24·|G|/2^(24+k)`.
pub const ERROR_BOUND_Q24: i64 = 3;

/// The integer layer norm of one row: its folded gain and bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerNormQuant<'a> {
    /// `(n,)` `G_i = round(γ_i/s_out·2^k)`.
    pub gain: &'a [i32],
    /// `(n,)` `B_i = round((β_i/s_out + zp_out)·2^k)`.
    pub bias: &'a [i32],
    /// `k`, in `0..=30`.
    pub shift: u32,
    /// `ε' = max(1, round(n²·ε/s_in²))`, below [`MAX_EPSILON`].
    pub epsilon: u64,
}

impl LayerNormQuant<'_> {
    /// Checks the ranges the arithmetic relies on (once, at load).
    pub fn check(&self) -> Result<(), &'static str> {
        let n = self.gain.len();
        if !(2..=MAX_WIDTH).contains(&n) {
            return Err("its width is not in 2..=4096");
        }
        if self.bias.len() != n {
            return Err("its bias and gain differ in length");
        }
        if self.shift > 30 {
            return Err("its shift is above 30");
        }
        if self.epsilon == 0 || self.epsilon >= MAX_EPSILON {
            return Err("its epsilon is 0 or not below 2^60");
        }
        Ok(())
    }
}

/// `⌊√x⌋`, exact for every `u64` (the digit-by-digit method, one result
/// bit per step: after the step for bit `b`, `r` is `⌊√x⌋` truncated to
/// the bits above `b`, and `x` holds the remainder `x₀ − r²`).
pub const fn isqrt(x: u64) -> u64 {
    let mut x = x;
    let mut r: u64 = 0;
    let mut bit: u64 = 1 << 62;
    while bit > x && bit != 0 {
        bit >>= 2;
    }
    while bit != 0 {
        if x >= r + bit {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    r
}

/// `⌊(v + 2^(s−1)) / 2^s⌋` for `s` in `1..=62`.
#[inline(always)]
const fn shift_round(v: i64, s: u32) -> i64 {
    (v + (1i64 << (s - 1))) >> s
}

/// The layer norm of `x` into `y` (both `n` long, `n = gain.len()`).
///
/// Errors: lengths that differ ([`Error::ShapeMismatch`]); the parameters
/// must have passed [`LayerNormQuant::check`] (out-of-range ones give
/// codes, never a panic).
pub fn layer_norm_i8(p: &LayerNormQuant<'_>, x: &[i8], y: &mut [i8]) -> Result<(), Error> {
    layer_norm(p, x, y)
}

/// [`layer_norm_i8`] of an int16 row (a widened residual stream): the
/// same arithmetic; for `|x| ≤ 2^15` the sums stay below 2^55, `|d| ≤ 2^28`
/// and `|d·r| ≤ 2^60`, so the ranges and the bound hold unchanged.
pub fn layer_norm_i16(p: &LayerNormQuant<'_>, x: &[i16], y: &mut [i8]) -> Result<(), Error> {
    layer_norm(p, x, y)
}

fn layer_norm<T: Copy + Into<i64>>(
    p: &LayerNormQuant<'_>,
    x: &[T],
    y: &mut [i8],
) -> Result<(), Error> {
    let n = p.gain.len();
    if x.len() != n || y.len() != n || p.bias.len() != n {
        return Err(Error::ShapeMismatch {
            expected: n,
            found: if x.len() != n {
                x.len()
            } else if y.len() != n {
                y.len()
            } else {
                p.bias.len()
            },
        });
    }
    let (s, q) = x.iter().fold((0i64, 0i64), |(s, q), &v| {
        let v: i64 = v.into();
        (s + v, q + v * v)
    });
    let nn = n as i64;
    // n·Q − S² ≥ 0 (Cauchy–Schwarz), < 2^38 for n ≤ 4096 (int16: < 2^54).
    let v = ((nn * q - s * s) as u64)
        .saturating_add(p.epsilon)
        .min((1 << 62) - 1);
    let bits = 64 - v.leading_zeros();
    let m = (62 - bits) / 2;
    let root = isqrt(v << (2 * m)).max(1);
    let r = ((1u64 << 62) / root) as i64;
    let k = p.shift.min(30);
    for ((yi, &xi), (&g, &b)) in y.iter_mut().zip(x).zip(p.gain.iter().zip(p.bias)) {
        let d = nn * xi.into() - s;
        let u = shift_round(d * r, 38 - m);
        let acc = u.wrapping_mul(g as i64).wrapping_add((b as i64) << 24);
        *yi = shift_round(acc, 24 + k).clamp(-128, 127) as i8;
    }
    Ok(())
}

/// `ε'` for a row of `n` codes of scale `s_in` and the real ε: at least 1,
/// below [`MAX_EPSILON`].
pub fn epsilon_codes(n: usize, eps: f64, s_in: f32) -> u64 {
    let e = libm::round((n * n) as f64 * eps / (s_in as f64 * s_in as f64));
    if e.is_nan() || e < 1.0 {
        1
    } else if e >= MAX_EPSILON as f64 {
        MAX_EPSILON - 1
    } else {
        e as u64
    }
}

/// Folds a LayerNorm's gain `γ` and bias `β` and the output's parameters
/// into `gain`, `bias` (each `n`) and returns `k`: the largest shift in
/// `0..=30` for which every folded value fits in i32. `None` when the
/// lengths differ or a value is not finite.
pub fn fold(
    gamma: &[f32],
    beta: &[f32],
    out: QuantParams,
    gain: &mut [i32],
    bias: &mut [i32],
) -> Option<u32> {
    let n = gamma.len();
    if beta.len() != n || gain.len() != n || bias.len() != n {
        return None;
    }
    let s = out.scale as f64;
    let g = |i: usize| gamma[i] as f64 / s;
    let b = |i: usize| beta[i] as f64 / s + out.zero_point as f64;
    let big = (0..n)
        .map(|i| g(i).abs().max(b(i).abs()))
        .fold(0.0f64, f64::max);
    if !big.is_finite() {
        return None;
    }
    let limit = (i32::MAX - 1) as f64;
    let mut k = 30u32;
    while k > 0 && libm::round(big * (1u64 << k) as f64) > limit {
        k -= 1;
    }
    let scale = (1u64 << k) as f64;
    if libm::round(big * scale) > limit {
        return None;
    }
    for i in 0..n {
        gain[i] = libm::round(g(i) * scale) as i32;
        bias[i] = libm::round(b(i) * scale) as i32;
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::vec::Vec;

    #[test]
    fn isqrt_is_the_floor_of_the_square_root_exhaustively_and_at_edges() {
        let ok = |x: u64| {
            let r = isqrt(x) as u128;
            r * r <= x as u128 && (r + 1) * (r + 1) > x as u128
        };
        // Exhaustive below 2^20 (2^10 under Miri, which interprets every step).
        let below: u64 = if cfg!(miri) { 1 << 10 } else { 1 << 20 };
        for x in 0..below {
            assert!(ok(x), "isqrt({x}) = {}", isqrt(x));
        }
        for k in [
            1u64 << 15,
            (1 << 30) - 1,
            1 << 30,
            (1 << 31) - 1,
            1 << 31,
            (1 << 32) - 1,
        ] {
            for x in [k * k - 1, k * k, k * k + 1, k * k + 2 * k] {
                assert!(ok(x), "isqrt({x})");
            }
        }
        assert!(ok(u64::MAX) && ok((1 << 62) - 1) && ok(1 << 62));
        let mut rng = Rng(0xdead_beef);
        for _ in 0..100_000 {
            let x = rng.next() >> (rng.next() % 64);
            assert!(ok(x), "isqrt({x})");
        }
    }

    /// The exact reference: S, Q, V and d_i in i128; then
    /// `y* = (G·d/√V + B)/2^k`, whose only inexact steps are one f64 square
    /// root and one division (each within 2^−53 relative, G·d and V exact
    /// in f64 below 2^53 or rounded once): `|y*_f64 − y*| < |y*|·2^−50`.
    fn check_row(p: &LayerNormQuant<'_>, x: &[i8]) {
        let mut y = std::vec![0i8; x.len()];
        layer_norm_i8(p, x, &mut y).unwrap();
        let wide: Vec<i64> = x.iter().map(|&v| v as i64).collect();
        check_output(p, &wide, &y);
    }

    fn check_output(p: &LayerNormQuant<'_>, x: &[i64], y: &[i8]) {
        let n = x.len();
        let s: i128 = x.iter().map(|&v| v as i128).sum();
        let q: i128 = x.iter().map(|&v| (v as i128) * (v as i128)).sum();
        let v = n as i128 * q - s * s + p.epsilon as i128;
        let root = (v as f64).sqrt();
        let two_k = (1u64 << p.shift) as f64;
        for i in 0..n {
            let d = n as i128 * x[i] as i128 - s;
            let g = p.gain[i] as f64;
            let exact = ((g * d as f64) / root + p.bias[i] as f64) / two_k;
            let delta = ERROR_BOUND_Q24 as f64 * g.abs() / (two_k * (1u64 << 24) as f64);
            let slack = 0.5 + delta + exact.abs() * 2f64.powi(-50);
            let got = y[i] as f64;
            let fine = (got - exact).abs() <= slack
                || (got == 127.0 && exact >= 127.0 - slack)
                || (got == -128.0 && exact <= -128.0 + slack);
            assert!(
                fine,
                "n {n} element {i}: got {got}, exact {exact} (row {x:?})"
            );
        }
    }

    struct Params {
        gain: Vec<i32>,
        bias: Vec<i32>,
        shift: u32,
        epsilon: u64,
    }

    impl Params {
        fn view(&self) -> LayerNormQuant<'_> {
            LayerNormQuant {
                gain: &self.gain,
                bias: &self.bias,
                shift: self.shift,
                epsilon: self.epsilon,
            }
        }
    }

    fn params(
        rng: &mut Rng,
        n: usize,
        s_in: f32,
        out: QuantParams,
    ) -> (Params, Vec<f32>, Vec<f32>) {
        let gamma: Vec<f32> = (0..n)
            .map(|_| 0.2 + rng.range(0, 1000) as f32 / 500.0)
            .collect();
        let beta: Vec<f32> = (0..n)
            .map(|_| (rng.range(-500, 500) as f32) / 1000.0)
            .collect();
        let (mut gain, mut bias) = (std::vec![0; n], std::vec![0; n]);
        let shift = fold(&gamma, &beta, out, &mut gain, &mut bias).unwrap();
        let epsilon = epsilon_codes(n, 1e-5, s_in);
        (
            Params {
                gain,
                bias,
                shift,
                epsilon,
            },
            gamma,
            beta,
        )
    }

    const WIDTHS: [usize; 10] = [2, 3, 7, 16, 31, 64, 100, 256, 1000, 4096];

    /// Every width; under Miri (which interprets every step) the first six.
    fn widths() -> &'static [usize] {
        if cfg!(miri) {
            &WIDTHS[..6]
        } else {
            &WIDTHS
        }
    }

    #[test]
    fn layer_norm_i8_is_within_its_bound_of_the_exact_value_on_random_and_extreme_rows() {
        let mut rng = Rng(0x0001_a7e4_0001);
        let out = QuantParams::new(0.03, -5);
        for &n in widths() {
            let (p, _, _) = params(&mut rng, n, 0.05, out);
            p.view().check().unwrap();
            let mut rows: Vec<Vec<i8>> = Vec::new();
            for _ in 0..20 {
                let (lo, hi) = (rng.range(-128, 0), rng.range(0, 127));
                rows.push((0..n).map(|_| rng.range(lo, hi) as i8).collect());
            }
            rows.push(std::vec![37; n]); // variance 0
            rows.push(std::vec![-128; n]);
            rows.push(
                (0..n)
                    .map(|i| if i % 2 == 0 { 127 } else { -128 })
                    .collect(),
            );
            let mut outlier = std::vec![3i8; n];
            outlier[n / 2] = -128;
            rows.push(outlier);
            let mut near = std::vec![0i8; n];
            near[0] = 1; // smallest non-zero variance
            rows.push(near);
            for row in &rows {
                check_row(&p.view(), row);
            }
        }
    }

    #[test]
    fn layer_norm_i16_is_within_its_bound_on_random_and_extreme_rows() {
        let mut rng = Rng(0x1616);
        let out = QuantParams::new(0.03, 2);
        for &n in widths() {
            let (p, _, _) = params(&mut rng, n, 0.001, out);
            let mut rows: Vec<Vec<i16>> = Vec::new();
            for _ in 0..10 {
                let (lo, hi) = (rng.range(-32768, 0), rng.range(0, 32767));
                rows.push((0..n).map(|_| rng.range(lo, hi) as i16).collect());
            }
            rows.push(
                (0..n)
                    .map(|i| if i % 2 == 0 { 32767 } else { -32768 })
                    .collect(),
            );
            rows.push(std::vec![-32768; n]);
            let mut outlier = std::vec![5i16; n];
            outlier[0] = 32767;
            rows.push(outlier);
            for row in &rows {
                let mut y = std::vec![0i8; n];
                layer_norm_i16(&p.view(), row, &mut y).unwrap();
                let wide: Vec<i64> = row.iter().map(|&v| v as i64).collect();
                check_output(&p.view(), &wide, &y);
            }
        }
    }

    #[test]
    fn layer_norm_i8_of_a_constant_row_is_the_bias() {
        let mut rng = Rng(99);
        let out = QuantParams::new(0.02, 3);
        let (p, _, beta) = params(&mut rng, 64, 0.05, out);
        let mut y = [0i8; 64];
        layer_norm_i8(&p.view(), &[-77; 64], &mut y).unwrap();
        for (i, &yi) in y.iter().enumerate() {
            assert_eq!(yi, out.quantize(beta[i]), "element {i}");
        }
    }

    #[test]
    fn layer_norm_i8_is_within_one_code_of_the_real_layer_norm() {
        // The real LayerNorm of the dequantized row with the real γ, β, ε,
        // quantized to the output: at most one code apart (the folding of
        // γ, β and ε adds < 2^−20 of a code to the bound above).
        let mut rng = Rng(0x0ff1ce);
        let (s_in, out) = (0.07f32, QuantParams::new(0.025, 4));
        for &n in widths() {
            let (p, gamma, beta) = params(&mut rng, n, s_in, out);
            for _ in 0..10 {
                let zp = rng.range(-20, 20);
                let x: Vec<i8> = (0..n).map(|_| rng.range(-128, 127) as i8).collect();
                let real: Vec<f64> = x
                    .iter()
                    .map(|&v| s_in as f64 * (v as i64 - zp) as f64)
                    .collect();
                let mean = real.iter().sum::<f64>() / n as f64;
                let var = real.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n as f64;
                let mut y = std::vec![0i8; n];
                layer_norm_i8(&p.view(), &x, &mut y).unwrap();
                for i in 0..n {
                    let v =
                        (real[i] - mean) / (var + 1e-5).sqrt() * gamma[i] as f64 + beta[i] as f64;
                    let want = (v / out.scale as f64 + out.zero_point as f64).clamp(-128.0, 127.0);
                    assert!(
                        (y[i] as f64 - want).abs() <= 1.0,
                        "n {n} element {i}: {} vs {want}",
                        y[i]
                    );
                }
            }
        }
    }

    #[test]
    fn layer_norm_rejects_bad_shapes_and_parameters() {
        let (g, b) = ([1 << 20; 4], [0; 4]);
        let p = LayerNormQuant {
            gain: &g,
            bias: &b,
            shift: 20,
            epsilon: 1,
        };
        let mut y = [0i8; 3];
        assert_eq!(
            layer_norm_i8(&p, &[0; 4], &mut y),
            Err(Error::ShapeMismatch {
                expected: 4,
                found: 3
            })
        );
        assert!(LayerNormQuant { epsilon: 0, ..p }.check().is_err());
        assert!(LayerNormQuant { shift: 31, ..p }.check().is_err());
        assert!(LayerNormQuant { bias: &b[..3], ..p }.check().is_err());
        assert!(LayerNormQuant {
            gain: &g[..1],
            bias: &b[..1],
            ..p
        }
        .check()
        .is_err());
        assert!(p.check().is_ok());
    }
}
