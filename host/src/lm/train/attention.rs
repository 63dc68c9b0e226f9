//! Causal multi-head self-attention of one sequence, forward beside
//! backward, over the packed `qkv (len, 3D)` rows of the chunk (q, then k,
//! then v; head `h` is dims `h·Dh..(h+1)·Dh` of each).
//!
//! Scores are computed only for `i ≤ p`. The products are laid out so the
//! inner loops run over the key position `i` with unit stride (keys and
//! values transposed to `(Dh, len)` first) or over a head's `Dh` dims, and
//! vectorize.

use crate::ops::causal_softmax::train::{causal_softmax_backward, causal_softmax_forward};
use crate::ops::matmul::Float;

/// Scratch of one sequence's attention: `(Dh, len)` transposes and one
/// `(len, len)` score gradient.
#[derive(Debug, Clone, Default)]
pub struct Scratch<T> {
    kt: Vec<T>,
    vt: Vec<T>,
    ds: Vec<T>,
}

impl<T: Float> Scratch<T> {
    /// For heads of `dh` and sequences up to `len`.
    pub fn new(dh: usize, len: usize) -> Scratch<T> {
        Scratch {
            kt: vec![T::ZERO; dh * len],
            vt: vec![T::ZERO; dh * len],
            ds: vec![T::ZERO; len * len],
        }
    }
}

/// The shape of one sequence's attention.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Positions.
    pub len: usize,
    /// Width `D`.
    pub d: usize,
    /// Heads.
    pub heads: usize,
}

impl Shape {
    fn dh(&self) -> usize {
        self.d / self.heads
    }
}

/// Copies head `h`'s part `which` (1 = k, 2 = v) of `qkv (len, 3D)` into
/// `out (Dh, len)`.
#[inline(always)]
fn transpose_in<T: Float>(out: &mut [T], qkv: &[T], s: Shape, which: usize, h: usize) {
    let (dh, w) = (s.dh(), 3 * s.d);
    for (i, row) in qkv.chunks_exact(w).take(s.len).enumerate() {
        let src = &row[which * s.d + h * dh..][..dh];
        for (dd, &v) in src.iter().enumerate() {
            out[dd * s.len + i] = v;
        }
    }
}

/// `out[i] = Σ_d x[d]·mt[d·stride + i]` for `i < out.len()` (a product
/// with a transposed `(Dh, stride)` matrix), in blocks of 32 and 8 outputs
/// held in registers; each output sums over `d` in order.
#[inline(always)]
fn gemv_t<T: Float>(out: &mut [T], x: &[T], mt: &[T], stride: usize) {
    #[inline(always)]
    fn block<T: Float, const B: usize>(out: &mut [T], x: &[T], mt: &[T], stride: usize, i0: usize) {
        let mut acc = [T::ZERO; B];
        for (dd, &xd) in x.iter().enumerate() {
            let m = &mt[dd * stride + i0..][..B];
            for (a, &v) in acc.iter_mut().zip(m) {
                *a = xd.mul_add(v, *a);
            }
        }
        out[i0..i0 + B].copy_from_slice(&acc);
    }
    let n = out.len();
    let mut i0 = 0;
    while i0 + 32 <= n {
        block::<T, 32>(out, x, mt, stride, i0);
        i0 += 32;
    }
    while i0 + 8 <= n {
        block::<T, 8>(out, x, mt, stride, i0);
        i0 += 8;
    }
    for (i, o) in out.iter_mut().enumerate().skip(i0) {
        let mut a = T::ZERO;
        for (dd, &xd) in x.iter().enumerate() {
            a = xd.mul_add(mt[dd * stride + i], a);
        }
        *o = a;
    }
}

/// `out = Σ_j coef[j·cs]·rows[j·rs..][..out.len()]` for `j < count`, in
/// order, the sum held in registers for the usual head widths.
#[inline(always)]
fn combine<T: Float>(out: &mut [T], coef: &[T], cs: usize, rows: &[T], rs: usize, count: usize) {
    #[inline(always)]
    fn fixed<T: Float, const N: usize>(
        out: &mut [T],
        coef: &[T],
        cs: usize,
        rows: &[T],
        rs: usize,
        count: usize,
    ) {
        let mut acc = [T::ZERO; N];
        for j in 0..count {
            let c = coef[j * cs];
            for (a, &r) in acc.iter_mut().zip(&rows[j * rs..][..N]) {
                *a = c.mul_add(r, *a);
            }
        }
        out.copy_from_slice(&acc);
    }
    match out.len() {
        8 => fixed::<T, 8>(out, coef, cs, rows, rs, count),
        16 => fixed::<T, 16>(out, coef, cs, rows, rs, count),
        32 => fixed::<T, 32>(out, coef, cs, rows, rs, count),
        64 => fixed::<T, 64>(out, coef, cs, rows, rs, count),
        n => {
            out.fill(T::ZERO);
            for j in 0..count {
                let c = coef[j * cs];
                for (a, &r) in out.iter_mut().zip(&rows[j * rs..][..n]) {
                    *a = c.mul_add(r, *a);
                }
            }
        }
    }
}

/// Row `p`'s entries `0..=p` and those up to the next multiple of 8
/// (computed alongside, never read as part of the op).
#[inline(always)]
fn padded(p: usize, len: usize) -> usize {
    ((p + 1).div_ceil(8) * 8).min(len)
}

/// `att (H, len, len)`: row `p` of head `h` holds the probabilities over
/// `i ≤ p`; `y (len, D)`: the heads' outputs side by side.
#[inline(always)]
pub fn attention_forward<T: Float>(
    y: &mut [T],
    att: &mut [T],
    qkv: &[T],
    s: Shape,
    sc: &mut Scratch<T>,
) {
    let (dh, len, w) = (s.dh(), s.len, 3 * s.d);
    let scale = T::ONE / T::from_f64(dh as f64).sqrt();
    for h in 0..s.heads {
        transpose_in(&mut sc.kt, qkv, s, 1, h);
        let a = &mut att[h * len * len..][..len * len];
        for p in 0..len {
            let q = &qkv[p * w + h * dh..][..dh];
            gemv_t(&mut a[p * len..][..padded(p, len)], q, &sc.kt, len);
        }
        causal_softmax_forward(a, len, len, scale);
        for p in 0..len {
            combine(
                &mut y[p * s.d + h * dh..][..dh],
                &a[p * len..],
                1,
                &qkv[2 * s.d + h * dh..],
                w,
                p + 1,
            );
        }
    }
}

/// From `dy (len, D)`, writes `dqkv (len, 3D)`.
#[inline(always)]
pub fn attention_backward<T: Float>(
    dqkv: &mut [T],
    dy: &[T],
    att: &[T],
    qkv: &[T],
    s: Shape,
    sc: &mut Scratch<T>,
) {
    let (dh, len, w, d) = (s.dh(), s.len, 3 * s.d, s.d);
    let scale = T::ONE / T::from_f64(dh as f64).sqrt();
    for h in 0..s.heads {
        transpose_in(&mut sc.vt, qkv, s, 2, h);
        let a = &att[h * len * len..][..len * len];
        let ds = &mut sc.ds[..len * len];
        // dA[p] = dY[p]·Vᵀ over i ≤ p.
        for p in 0..len {
            let g = &dy[p * d + h * dh..][..dh];
            gemv_t(&mut ds[p * len..][..padded(p, len)], g, &sc.vt, len);
        }
        // dV[i] = Σ_{p ≥ i} A[p][i]·dY[p].
        for i in 0..len {
            combine(
                &mut dqkv[i * w + 2 * d + h * dh..][..dh],
                &a[i * len + i..],
                len,
                &dy[i * d + h * dh..],
                d,
                len - i,
            );
        }
        causal_softmax_backward(ds, a, len, len, scale);
        for p in 0..len {
            // dQ[p] = Σ_{i ≤ p} dS[p][i]·K[i].
            combine(
                &mut dqkv[p * w + h * dh..][..dh],
                &ds[p * len..],
                1,
                &qkv[d + h * dh..],
                w,
                p + 1,
            );
        }
        for i in 0..len {
            // dK[i] = Σ_{p ≥ i} dS[p][i]·Q[p].
            combine(
                &mut dqkv[i * w + d + h * dh..][..dh],
                &ds[i * len + i..],
                len,
                &qkv[i * w + h * dh..],
                w,
                len - i,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::gradcheck::check;
    use crate::train::rng::Rng;

    #[test]
    fn attention_backward_matches_central_differences() {
        let s = Shape {
            len: 5,
            d: 6,
            heads: 2,
        };
        let mut rng = Rng::new(8, 1);
        let mut r = |k: usize| {
            (0..k)
                .map(|_| rng.next_f64() * 2.0 - 1.0)
                .collect::<Vec<f64>>()
        };
        let (qkv, c) = (r(s.len * 3 * s.d), r(s.len * s.d));
        let run = |qkv: &[f64]| {
            let mut sc = Scratch::new(3, s.len);
            let (mut y, mut att) = (vec![0.0; s.len * s.d], vec![0.0; 2 * s.len * s.len]);
            attention_forward(&mut y, &mut att, qkv, s, &mut sc);
            (y, att)
        };
        let loss = |qkv: &[f64]| run(qkv).0.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
        let (y, att) = run(&qkv);
        // Position 0 attends only to itself: its output is its value.
        assert!((y[0] - qkv[2 * s.d]).abs() < 1e-12);
        let mut dqkv = vec![0.0; qkv.len()];
        let mut sc = Scratch::new(3, s.len);
        attention_backward(&mut dqkv, &c, &att, &qkv, s, &mut sc);
        check("dqkv", &qkv, &dqkv, &loss, 1e-6);
    }
}
