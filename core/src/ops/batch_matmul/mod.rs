//! `batch_matmul`: TFLite's int8 BATCH_MATMUL (`reference_ops::BatchMatMul`
//! for int8, `micro/kernels/batch_matmul.cc`), one batch:
//!
//! ```text
//! total[i, j] = Σ_t (lhs[i, t] + lhs_offset) · (rhs[t, j] + rhs_offset)   (i32, wrapping)
//! out[i, j]   = clamp(MultiplyByQuantizedMultiplier(total, multiplier, shift)
//!                     + output_zero_point, −128, 127)
//! ```
//!
//! with `lhs_offset = −lhs_zero_point`, `rhs_offset = −rhs_zero_point`:
//! both operands are activations (Q·Kᵀ, P·V), so both zero points count.
//! `rhs_transposed` is TFLite's `adj_y`: the right operand stored `[n, k]`
//! (the key cache, one key per row). The requantization rounds as the
//! [`Rounding`] says (TFLite Micro: double; desktop TFLite built with
//! `TFLITE_SINGLE_ROUNDING`: single).
//!
//! The sum wraps modulo 2^32 as TFLite's C++ does, so its value does not
//! depend on the order of the terms; [`matmul_i8_strided`] (the one
//! definition) walks the non-transposed case row by row of `rhs` for
//! locality, and [`matmul_i8`] is it on contiguous operands.

use crate::quant::Rounding;
use crate::Error;

/// The quantization of one int8 matrix product (TFLite's `OpData` for
/// BATCH_MATMUL): the real multiplier `s_lhs·s_rhs/s_out` as a Q31
/// `multiplier` and a power-of-two `shift` (`quant::quantize_multiplier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulQuant {
    /// The left operand's zero point.
    pub lhs_zero_point: i32,
    /// The right operand's zero point.
    pub rhs_zero_point: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
    /// Q31 multiplier.
    pub multiplier: i32,
    /// Its shift (positive: left).
    pub shift: i32,
    /// How `MultiplyByQuantizedMultiplier` rounds.
    pub rounding: Rounding,
}

impl MatmulQuant {
    /// One output code from its accumulator.
    #[inline(always)]
    pub fn requantize(&self, total: i32) -> i8 {
        let v = self
            .rounding
            .multiply(total, self.multiplier, self.shift)
            .wrapping_add(self.output_zero_point);
        v.clamp(-128, 127) as i8
    }
}

/// A strided int8 matrix: `rows × cols` codes, row `r` at `data[r·stride..]`.
#[derive(Debug, Clone, Copy)]
pub struct Strided<'a> {
    /// The codes.
    pub data: &'a [i8],
    /// Distance between row starts (≥ the row length).
    pub stride: usize,
}

impl<'a> Strided<'a> {
    /// A contiguous matrix of rows `cols` long.
    pub fn contiguous(data: &'a [i8], cols: usize) -> Self {
        Strided { data, stride: cols }
    }

    /// Row `r`, `len` codes; `None` outside the data.
    #[inline(always)]
    fn row(&self, r: usize, len: usize) -> Option<&'a [i8]> {
        let start = r.checked_mul(self.stride)?;
        self.data.get(start..start.checked_add(len)?)
    }

    /// Checks that `rows` rows of `len` fit.
    fn check(&self, rows: usize, len: usize) -> Result<(), Error> {
        let needed = match rows {
            0 => 0,
            r => (r - 1)
                .checked_mul(self.stride)
                .and_then(|v| v.checked_add(len))
                .unwrap_or(usize::MAX),
        };
        if self.stride < len || self.data.len() < needed {
            return Err(Error::ShapeMismatch {
                expected: needed,
                found: self.data.len(),
            });
        }
        Ok(())
    }
}

/// Columns of the non-transposed product accumulated at once.
const BLOCK: usize = 32;

/// `out = lhs · rhs` (or `lhs · rhsᵀ` when `rhs_transposed`), int8, with
/// `lhs [m, k]`, `rhs [k, n]` (transposed: `[n, k]`), `out [m, n]`, all
/// row-major and contiguous.
///
/// Errors: a slice shorter or longer than its shape ([`Error::ShapeMismatch`]).
#[allow(clippy::too_many_arguments)]
pub fn matmul_i8(
    q: &MatmulQuant,
    lhs: &[i8],
    rhs: &[i8],
    rhs_transposed: bool,
    m: usize,
    k: usize,
    n: usize,
    out: &mut [i8],
) -> Result<(), Error> {
    let exact = |len: usize, a: usize, b: usize| {
        let want = a.saturating_mul(b);
        if len == want {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                expected: want,
                found: len,
            })
        }
    };
    exact(lhs.len(), m, k)?;
    exact(rhs.len(), k, n)?;
    exact(out.len(), m, n)?;
    let rhs_cols = if rhs_transposed { k } else { n };
    matmul_i8_strided(
        q,
        Strided::contiguous(lhs, k),
        Strided::contiguous(rhs, rhs_cols),
        rhs_transposed,
        (m, k, n),
        out,
        n,
    )
}

/// The product on strided operands (head `j`'s columns of a KV cache):
/// `lhs` `m × k`, `rhs` `k × n` (transposed: `n × k`), `out` rows `n` long
/// at `out_stride`. The one definition of the arithmetic.
///
/// Errors: an operand or `out` too short for its rows and stride
/// ([`Error::ShapeMismatch`]).
pub fn matmul_i8_strided(
    q: &MatmulQuant,
    lhs: Strided<'_>,
    rhs: Strided<'_>,
    rhs_transposed: bool,
    (m, k, n): (usize, usize, usize),
    out: &mut [i8],
    out_stride: usize,
) -> Result<(), Error> {
    lhs.check(m, k)?;
    if rhs_transposed {
        rhs.check(n, k)?;
    } else {
        rhs.check(k, n)?;
    }
    let out_needed = match m {
        0 => 0,
        r => (r - 1).saturating_mul(out_stride).saturating_add(n),
    };
    if out_stride < n || out.len() < out_needed {
        return Err(Error::ShapeMismatch {
            expected: out_needed,
            found: out.len(),
        });
    }
    let lo = -q.lhs_zero_point;
    let ro = -q.rhs_zero_point;
    let bad = Error::ShapeMismatch {
        expected: out_needed,
        found: out.len(),
    };
    for i in 0..m {
        let a = lhs.row(i, k).ok_or(bad)?;
        let start = i * out_stride;
        let o = out.get_mut(start..start + n).ok_or(bad)?;
        if rhs_transposed {
            for (j, oj) in o.iter_mut().enumerate() {
                let b = rhs.row(j, k).ok_or(bad)?;
                let total = a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
                    s.wrapping_add((x as i32 + lo).wrapping_mul(y as i32 + ro))
                });
                *oj = q.requantize(total);
            }
        } else {
            for (jb, ob) in o.chunks_mut(BLOCK).enumerate() {
                let j0 = jb * BLOCK;
                let mut acc = [0i32; BLOCK];
                for (t, &x) in a.iter().enumerate() {
                    let xv = x as i32 + lo;
                    let row = rhs.row(t, j0 + ob.len()).ok_or(bad)?;
                    let cols = row.get(j0..).ok_or(bad)?;
                    for (s, &y) in acc.iter_mut().zip(cols) {
                        *s = s.wrapping_add(xv.wrapping_mul(y as i32 + ro));
                    }
                }
                for (oj, &s) in ob.iter_mut().zip(&acc) {
                    *oj = q.requantize(s);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{multiply_by_quantized_multiplier, quantize_multiplier};
    use crate::test_rng::Rng;

    fn quant(rng: &mut Rng, rounding: Rounding) -> MatmulQuant {
        let real = 1e-4 * (1 + rng.range(0, 300)) as f64;
        let (multiplier, shift) = quantize_multiplier(real);
        MatmulQuant {
            lhs_zero_point: rng.range(-128, 127) as i32,
            rhs_zero_point: rng.range(-128, 127) as i32,
            output_zero_point: rng.range(-128, 127) as i32,
            multiplier,
            shift,
            rounding,
        }
    }

    /// TFLite's reference loop, written out: `adj_y` reads `rhs[j, t]`.
    fn reference(
        q: &MatmulQuant,
        lhs: &[i8],
        rhs: &[i8],
        adj_y: bool,
        m: usize,
        k: usize,
        n: usize,
    ) -> std::vec::Vec<i8> {
        let mut out = std::vec![0i8; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut total = 0i64;
                for t in 0..k {
                    let r = if adj_y {
                        rhs[j * k + t]
                    } else {
                        rhs[t * n + j]
                    };
                    total += (lhs[i * k + t] as i64 - q.lhs_zero_point as i64)
                        * (r as i64 - q.rhs_zero_point as i64);
                }
                let total = total as i32;
                let v = match q.rounding {
                    Rounding::Double => {
                        multiply_by_quantized_multiplier(total, q.multiplier, q.shift)
                    }
                    Rounding::Single => {
                        crate::quant::multiply_by_quantized_multiplier_single_rounding(
                            total,
                            q.multiplier,
                            q.shift,
                        )
                    }
                };
                out[i * n + j] = (v + q.output_zero_point).clamp(-128, 127) as i8;
            }
        }
        out
    }

    #[test]
    fn matmul_i8_equals_the_reference_loop_for_odd_shapes_both_layouts_and_roundings() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for case in 0..if cfg!(miri) { 20 } else { 300 } {
            let (m, k, n) = (
                rng.range(1, 5) as usize,
                rng.range(1, 70) as usize,
                rng.range(1, 70) as usize,
            );
            let rounding = if case % 2 == 0 {
                Rounding::Double
            } else {
                Rounding::Single
            };
            let q = quant(&mut rng, rounding);
            let lhs: std::vec::Vec<i8> = (0..m * k).map(|_| rng.range(-128, 127) as i8).collect();
            let rhs: std::vec::Vec<i8> = (0..k * n).map(|_| rng.range(-128, 127) as i8).collect();
            for adj_y in [false, true] {
                let mut out = std::vec![0i8; m * n];
                matmul_i8(&q, &lhs, &rhs, adj_y, m, k, n, &mut out).unwrap();
                assert_eq!(
                    out,
                    reference(&q, &lhs, &rhs, adj_y, m, k, n),
                    "case {case} {m}x{k}x{n} adj_y {adj_y}"
                );
            }
        }
    }

    #[test]
    fn matmul_i8_strided_equals_matmul_i8_on_the_gathered_columns() {
        // A `[rows, D]` cache, head columns c0..c0+dh: the strided product
        // equals the contiguous one on a copy of those columns.
        let mut rng = Rng(0x77);
        let (rows, d, c0, dh) = (37usize, 24usize, 8usize, 7usize);
        let cache: std::vec::Vec<i8> = (0..rows * d).map(|_| rng.range(-128, 127) as i8).collect();
        let head: std::vec::Vec<i8> = (0..rows)
            .flat_map(|r| cache[r * d + c0..r * d + c0 + dh].to_vec())
            .collect();
        let q = quant(&mut rng, Rounding::Double);
        let x: std::vec::Vec<i8> = (0..dh).map(|_| rng.range(-128, 127) as i8).collect();
        let (mut a, mut b) = (std::vec![0i8; rows], std::vec![0i8; rows]);
        matmul_i8(&q, &x, &head, true, 1, dh, rows, &mut a).unwrap();
        let rhs = Strided {
            data: &cache[c0..],
            stride: d,
        };
        matmul_i8_strided(
            &q,
            Strided::contiguous(&x, dh),
            rhs,
            true,
            (1, dh, rows),
            &mut b,
            rows,
        )
        .unwrap();
        assert_eq!(a, b);
        let p: std::vec::Vec<i8> = (0..rows).map(|_| rng.range(-128, 127) as i8).collect();
        let (mut a, mut b) = (std::vec![0i8; dh], std::vec![0i8; dh]);
        matmul_i8(&q, &p, &head, false, 1, rows, dh, &mut a).unwrap();
        matmul_i8_strided(
            &q,
            Strided::contiguous(&p, rows),
            rhs,
            false,
            (1, rows, dh),
            &mut b,
            dh,
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn matmul_i8_rejects_wrong_lengths() {
        let q = MatmulQuant {
            lhs_zero_point: 0,
            rhs_zero_point: 0,
            output_zero_point: 0,
            multiplier: 1 << 30,
            shift: 0,
            rounding: Rounding::Double,
        };
        let mut out = [0i8; 4];
        assert_eq!(
            matmul_i8(&q, &[0; 5], &[0; 6], false, 2, 3, 2, &mut out),
            Err(Error::ShapeMismatch {
                expected: 6,
                found: 5
            })
        );
        assert!(matmul_i8(&q, &[0; 6], &[0; 5], true, 2, 3, 2, &mut out).is_err());
        assert!(matmul_i8(&q, &[0; 6], &[0; 6], true, 2, 3, 2, &mut out[..3]).is_err());
        let short = Strided {
            data: &[0; 10],
            stride: 4,
        };
        assert!(matmul_i8_strided(&q, short, short, true, (3, 3, 1), &mut out, 1).is_err());
    }

    #[test]
    fn matmul_i8_small_example_by_hand() {
        // lhs [[1, 2]], rhs [[3], [4]] with zero points 0 and multiplier ½:
        // total 11, ½·11 = 5.5 → 6 (half away from zero), + zp 1 = 7.
        let q = MatmulQuant {
            lhs_zero_point: 0,
            rhs_zero_point: 0,
            output_zero_point: 1,
            multiplier: 1 << 30,
            shift: 0,
            rounding: Rounding::Double,
        };
        let mut out = [0i8; 1];
        matmul_i8(&q, &[1, 2], &[3, 4], false, 1, 2, 1, &mut out).unwrap();
        assert_eq!(out, [7]);
        // With zero points: (1 − (−1))·(3 − 1) + (2 + 1)·(4 − 1) = 4 + 9 = 13 → 6.5 → 7, + 1.
        let q = MatmulQuant {
            lhs_zero_point: -1,
            rhs_zero_point: 1,
            ..q
        };
        matmul_i8(&q, &[1, 2], &[3, 4], false, 1, 2, 1, &mut out).unwrap();
        assert_eq!(out, [8]);
    }
}
