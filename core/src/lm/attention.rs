//! The attention products of one token step, `q·kᵀ` and `p·v`, laid out
//! so that each is one int8 fully connected call on the dispatched kernel
//! (the Cortex-M DSP's `SMLAD` loop, AVX2/AVX-512 on the desktop) with the
//! exact accumulators of TFLite's BATCH_MATMUL:
//!
//! - the KV cache is head-major: head `j`'s keys are `T` contiguous rows
//!   of `Dh` (`[H][T][Dh]`), its values transposed, `Dh` contiguous rows of
//!   `T` (`[H][Dh][T]`);
//! - `Σ (a − z_a)(b − z_b)` with the right operand's zero point 0 (keys and
//!   values are quantized symmetrically) is `Σ (a + input_offset)·b`, the
//!   fully connected accumulator with bias 0, requantized by the same
//!   `MultiplyByQuantizedMultiplier`;
//! - `p·v` runs over all `T` positions with the probabilities past the
//!   prefix set to their zero point, so those terms are exactly 0.
//!
//! Operands with a non-zero right zero point take the strided reference
//! ([`matmul_i8_strided`]), the same bits.

use crate::kernels::gemv_i8::fully_connected_i8;
use crate::kernels::FullyConnectedParams;
use crate::ops::batch_matmul::{matmul_i8_strided, MatmulQuant, Strided};
use crate::Error;

/// Zero biases for the kernel, this many rows per call.
const ZERO_ROWS: usize = 128;
static ZEROS: [i32; ZERO_ROWS] = [0; ZERO_ROWS];

/// `out[i] = requant(Σ_c (q[c] − z_q)(k_i[c] − z_k))` for the `n = out.len()`
/// rows `k_i` of `keys` (`n × q.len()`, contiguous).
pub fn scores(mq: &MatmulQuant, q: &[i8], keys: &[i8], out: &mut [i8]) -> Result<(), Error> {
    let (dh, n) = (q.len(), out.len());
    let keys = keys.get(..n * dh).ok_or(Error::ShapeMismatch {
        expected: n * dh,
        found: keys.len(),
    })?;
    if mq.rhs_zero_point != 0 {
        let lhs = Strided::contiguous(q, dh);
        let rhs = Strided {
            data: keys,
            stride: dh,
        };
        return matmul_i8_strided(mq, lhs, rhs, true, (1, dh, n), out, n);
    }
    let p = params(mq);
    for (rows, o) in keys
        .chunks(ZERO_ROWS * dh.max(1))
        .zip(out.chunks_mut(ZERO_ROWS))
    {
        fully_connected_i8(rows, q, &ZEROS[..o.len()], &p, o)?;
    }
    Ok(())
}

/// `out[c] = requant(Σ_i (p_i − z_p)(v_c[i] − z_v))` over all `T = probs.len()`
/// positions, for the `Dh = out.len()` rows `v_c` of `values_t`
/// (`Dh × T`, contiguous); `probs` past the prefix must hold `z_p`.
pub fn weighted_values(
    mq: &MatmulQuant,
    probs: &[i8],
    values_t: &[i8],
    out: &mut [i8],
) -> Result<(), Error> {
    let (t, dh) = (probs.len(), out.len());
    let v = values_t.get(..dh * t).ok_or(Error::ShapeMismatch {
        expected: dh * t,
        found: values_t.len(),
    })?;
    if mq.rhs_zero_point != 0 {
        let lhs = Strided::contiguous(probs, t);
        let rhs = Strided { data: v, stride: t };
        return matmul_i8_strided(mq, lhs, rhs, true, (1, t, dh), out, dh);
    }
    let p = params(mq);
    for (rows, o) in v
        .chunks(ZERO_ROWS * t.max(1))
        .zip(out.chunks_mut(ZERO_ROWS))
    {
        fully_connected_i8(rows, probs, &ZEROS[..o.len()], &p, o)?;
    }
    Ok(())
}

fn params(mq: &MatmulQuant) -> FullyConnectedParams<'_> {
    FullyConnectedParams {
        input_offset: -mq.lhs_zero_point,
        output_offset: mq.output_zero_point,
        multiplier: core::slice::from_ref(&mq.multiplier),
        shift: core::slice::from_ref(&mq.shift),
        act_min: -128,
        act_max: 127,
        rounding: mq.rounding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::batch_matmul::matmul_i8;
    use crate::quant::{quantize_multiplier, Rounding};
    use crate::test_rng::Rng;
    use std::vec;
    use std::vec::Vec;

    fn codes(r: &mut Rng, n: usize) -> Vec<i8> {
        (0..n).map(|_| r.next() as i8).collect()
    }

    #[test]
    fn both_products_equal_tflite_batch_matmul() {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        // 300 cases (15 under Miri, which interprets every step).
        for case in 0..if cfg!(miri) { 15 } else { 300 } {
            let dh = 1 + ((r.next() as u32) % 40) as usize;
            let t = 1 + ((r.next() as u32) % 300) as usize;
            let n = 1 + ((r.next() as usize) % t);
            let (m, s) = quantize_multiplier(0.0005 + ((r.next() as u32) % 1000) as f64 * 0.0002);
            let rhs_zp = if case % 5 == 0 {
                ((r.next() as u32) % 256) as i32 - 128
            } else {
                0
            };
            let mq = MatmulQuant {
                lhs_zero_point: ((r.next() as u32) % 256) as i32 - 128,
                rhs_zero_point: rhs_zp,
                output_zero_point: ((r.next() as u32) % 256) as i32 - 128,
                multiplier: m,
                shift: s,
                rounding: if case % 2 == 0 {
                    Rounding::Double
                } else {
                    Rounding::Single
                },
            };
            let (q, keys) = (codes(&mut r, dh), codes(&mut r, n * dh));
            let (mut got, mut want) = (vec![0i8; n], vec![0i8; n]);
            scores(&mq, &q, &keys, &mut got).unwrap();
            matmul_i8(&mq, &q, &keys, true, 1, dh, n, &mut want).unwrap();
            assert_eq!(got, want, "scores, case {case}");

            // p·v over the prefix n of t, the rest at the zero point.
            let mut probs = codes(&mut r, t);
            probs[n..]
                .iter_mut()
                .for_each(|p| *p = mq.lhs_zero_point as i8);
            let vt = codes(&mut r, dh * t);
            let (mut got, mut want) = (vec![0i8; dh], vec![0i8; dh]);
            weighted_values(&mq, &probs, &vt, &mut got).unwrap();
            // Reference over the prefix only: rhs [n, dh] with v(i, c) = vt[c·t + i].
            let v: Vec<i8> = (0..n)
                .flat_map(|i| (0..dh).map(move |c| (i, c)))
                .map(|(i, c)| vt[c * t + i])
                .collect();
            matmul_i8(&mq, &probs[..n], &v, false, 1, n, dh, &mut want).unwrap();
            assert_eq!(got, want, "values, case {case}");
        }
    }

    #[test]
    fn short_operands_are_errors() {
        let mq = MatmulQuant {
            lhs_zero_point: 0,
            rhs_zero_point: 0,
            output_zero_point: 0,
            multiplier: 1 << 30,
            shift: 0,
            rounding: Rounding::Double,
        };
        assert!(scores(&mq, &[1; 4], &[1; 7], &mut [0; 2]).is_err());
        assert!(weighted_values(&mq, &[1; 4], &[1; 7], &mut [0; 2]).is_err());
    }
}
