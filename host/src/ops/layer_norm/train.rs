//! LayerNorm over rows of `D`: `y = (x − μ)·r·g + b`, `r = 1/√(σ² + ε)`.

use super::super::matmul::Float;

/// `y, x (M, D)`; writes each row's mean and `r` into `mean (M)`, `rstd (M)`
/// for the backward.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn layer_norm_forward<T: Float>(
    y: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
    x: &[T],
    g: &[T],
    b: &[T],
    d: usize,
    eps: T,
) {
    let inv_d = T::ONE / T::from_f64(d as f64);
    for (((yr, xr), mu), rs) in y
        .chunks_exact_mut(d)
        .zip(x.chunks_exact(d))
        .zip(mean.iter_mut())
        .zip(rstd.iter_mut())
    {
        let mut s = T::ZERO;
        for &v in xr {
            s += v;
        }
        let m = s * inv_d;
        let mut q = T::ZERO;
        for &v in xr {
            let c = v - m;
            q = c.mul_add(c, q);
        }
        let r = T::ONE / (q * inv_d + eps).sqrt();
        *mu = m;
        *rs = r;
        for (((o, &v), &gi), &bi) in yr.iter_mut().zip(xr).zip(g).zip(b) {
            *o = ((v - m) * r).mul_add(gi, bi);
        }
    }
}

/// From `dy (M, D)`: adds into `dg`, `db (D)` and writes (or adds, with
/// `accumulate`) `dx (M, D)`:
/// `dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))`, `ĝ = dy·g`, `x̂ = (x − μ)·r`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn layer_norm_backward<T: Float>(
    dx: &mut [T],
    dg: &mut [T],
    db: &mut [T],
    dy: &[T],
    x: &[T],
    mean: &[T],
    rstd: &[T],
    g: &[T],
    d: usize,
    accumulate: bool,
) {
    let inv_d = T::ONE / T::from_f64(d as f64);
    for ((((dxr, dyr), xr), &m), &r) in dx
        .chunks_exact_mut(d)
        .zip(dy.chunks_exact(d))
        .zip(x.chunks_exact(d))
        .zip(mean)
        .zip(rstd)
    {
        let (mut s1, mut s2) = (T::ZERO, T::ZERO);
        for (((&dyi, &xi), &gi), (dgi, dbi)) in dyr
            .iter()
            .zip(xr)
            .zip(g)
            .zip(dg.iter_mut().zip(db.iter_mut()))
        {
            let xh = (xi - m) * r;
            let gh = dyi * gi;
            s1 += gh;
            s2 = gh.mul_add(xh, s2);
            *dgi = dyi.mul_add(xh, *dgi);
            *dbi += dyi;
        }
        let (m1, m2) = (s1 * inv_d, s2 * inv_d);
        for (((o, &dyi), &xi), &gi) in dxr.iter_mut().zip(dyr).zip(xr).zip(g) {
            let xh = (xi - m) * r;
            let v = r * (dyi * gi - m1 - xh * m2);
            if accumulate {
                *o += v;
            } else {
                *o = v;
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
    fn layer_norm_backward_matches_central_differences() {
        let (rows, d) = (3, 5);
        let mut rng = Rng::new(6, 1);
        let mut r = |k: usize| {
            (0..k)
                .map(|_| rng.next_f64() * 2.0 - 1.0)
                .collect::<Vec<f64>>()
        };
        let (x, g, b, c) = (r(rows * d), r(d), r(d), r(rows * d));
        let loss = |x: &[f64], g: &[f64], b: &[f64]| {
            let (mut y, mut m, mut s) = (vec![0.0; rows * d], vec![0.0; rows], vec![0.0; rows]);
            layer_norm_forward(&mut y, &mut m, &mut s, x, g, b, d, 1e-5);
            y.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut y, mut m, mut s) = (vec![0.0; rows * d], vec![0.0; rows], vec![0.0; rows]);
        layer_norm_forward(&mut y, &mut m, &mut s, &x, &g, &b, d, 1e-5);
        // Each output row has mean b̄ and the normalised row unit variance.
        let xh: Vec<f64> = (0..d).map(|j| (x[j] - m[0]) * s[0]).collect();
        assert!((xh.iter().map(|v| v * v).sum::<f64>() / d as f64 - 1.0).abs() < 1e-4);
        let (mut dx, mut dg, mut db) = (vec![0.0; rows * d], vec![0.0; d], vec![0.0; d]);
        layer_norm_backward(&mut dx, &mut dg, &mut db, &c, &x, &m, &s, &g, d, false);
        check("dx", &x, &dx, &|v| loss(v, &g, &b), 1e-5);
        check("dg", &g, &dg, &|v| loss(&x, v, &b), 1e-6);
        check("db", &b, &db, &|v| loss(&x, &g, v), 1e-6);
    }
}
