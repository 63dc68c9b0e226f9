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
    dkt: Vec<T>,
    dvt: Vec<T>,
    ds: Vec<T>,
    acc: Vec<T>,
}

impl<T: Float> Scratch<T> {
    /// For heads of `dh` and sequences up to `len`.
    pub fn new(dh: usize, len: usize) -> Scratch<T> {
        let z = vec![T::ZERO; dh * len];
        Scratch {
            kt: z.clone(),
            vt: z.clone(),
            dkt: z.clone(),
            dvt: z,
            ds: vec![T::ZERO; len * len],
            acc: vec![T::ZERO; dh],
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
            let row = &mut a[p * len..][..=p];
            row.fill(T::ZERO);
            let q = &qkv[p * w + h * dh..][..dh];
            for (dd, &qd) in q.iter().enumerate() {
                let kt = &sc.kt[dd * len..][..=p];
                for (r, &k) in row.iter_mut().zip(kt) {
                    *r = qd.mul_add(k, *r);
                }
            }
        }
        causal_softmax_forward(a, len, len, scale);
        for p in 0..len {
            let acc = &mut sc.acc[..dh];
            acc.fill(T::ZERO);
            for (i, &ai) in a[p * len..][..=p].iter().enumerate() {
                let v = &qkv[i * w + 2 * s.d + h * dh..][..dh];
                for (o, &vd) in acc.iter_mut().zip(v) {
                    *o = ai.mul_add(vd, *o);
                }
            }
            y[p * s.d + h * dh..][..dh].copy_from_slice(acc);
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
        transpose_in(&mut sc.kt, qkv, s, 1, h);
        transpose_in(&mut sc.vt, qkv, s, 2, h);
        let a = &att[h * len * len..][..len * len];
        let ds = &mut sc.ds[..len * len];
        sc.dvt[..dh * len].fill(T::ZERO);
        sc.dkt[..dh * len].fill(T::ZERO);
        for p in 0..len {
            // dA[p] = dY[p]·Vᵀ over i ≤ p; dV[i] += A[p][i]·dY[p].
            let g = &dy[p * d + h * dh..][..dh];
            let row = &mut ds[p * len..][..=p];
            row.fill(T::ZERO);
            let ap = &a[p * len..][..=p];
            for (dd, &gd) in g.iter().enumerate() {
                let vt = &sc.vt[dd * len..][..=p];
                for (r, &v) in row.iter_mut().zip(vt) {
                    *r = gd.mul_add(v, *r);
                }
                let dvt = &mut sc.dvt[dd * len..][..=p];
                for (o, &ai) in dvt.iter_mut().zip(ap) {
                    *o = gd.mul_add(ai, *o);
                }
            }
        }
        causal_softmax_backward(ds, a, len, len, scale);
        for p in 0..len {
            // dQ[p] = Σ_i dS[p][i]·K[i]; dK[i] += dS[p][i]·Q[p].
            let dsp = &ds[p * len..][..=p];
            let acc = &mut sc.acc[..dh];
            acc.fill(T::ZERO);
            for (i, &g) in dsp.iter().enumerate() {
                let k = &qkv[i * w + d + h * dh..][..dh];
                for (o, &kd) in acc.iter_mut().zip(k) {
                    *o = g.mul_add(kd, *o);
                }
            }
            dqkv[p * w + h * dh..][..dh].copy_from_slice(acc);
            let q = &qkv[p * w + h * dh..][..dh];
            for (dd, &qd) in q.iter().enumerate() {
                let dkt = &mut sc.dkt[dd * len..][..=p];
                for (o, &g) in dkt.iter_mut().zip(dsp) {
                    *o = qd.mul_add(g, *o);
                }
            }
        }
        for i in 0..len {
            let row = &mut dqkv[i * w..][..w];
            for dd in 0..dh {
                row[d + h * dh + dd] = sc.dkt[dd * len + i];
                row[2 * d + h * dh + dd] = sc.dvt[dd * len + i];
            }
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
