//! LayerNorm over rows of `D`: `y = (x − μ)·r·g + b`, `r = 1/√(σ² + ε)`.

use super::super::matmul::{dot_lanes, sum_lanes, Float, LANES};

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
        let m = sum_lanes(xr) * inv_d;
        let r = T::ONE / (centred_dot(xr, m, xr, m) * inv_d + eps).sqrt();
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
        for (((&dyi, &xi), dgi), dbi) in dyr.iter().zip(xr).zip(dg.iter_mut()).zip(db.iter_mut()) {
            *dgi = dyi.mul_add((xi - m) * r, *dgi);
            *dbi += dyi;
        }
        // Σ ĝ and Σ ĝ·x̂ = r·Σ ĝ·(x − μ), ĝ = dy·g.
        let s1 = dot_lanes(dyr, g);
        let s2 = r * scaled_centred_dot(dyr, g, xr, m);
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

/// `Σ (a − ma)·(b − mb)` in lanes (fixed order).
#[inline(always)]
fn centred_dot<T: Float>(a: &[T], ma: T, b: &[T], mb: T) -> T {
    let mut acc = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &p), &q) in acc.iter_mut().zip(x).zip(y) {
            *s = (p - ma).mul_add(q - mb, *s);
        }
    }
    let mut s = sum_lanes(&acc);
    for (&p, &q) in ra.iter().zip(rb) {
        s = (p - ma).mul_add(q - mb, s);
    }
    s
}

/// `Σ a·g·(x − m)` in lanes (fixed order).
#[inline(always)]
fn scaled_centred_dot<T: Float>(a: &[T], g: &[T], x: &[T], m: T) -> T {
    let mut acc = [T::ZERO; LANES];
    let n = a.len() - a.len() % LANES;
    for ((ca, cg), cx) in a[..n]
        .chunks_exact(LANES)
        .zip(g[..n].chunks_exact(LANES))
        .zip(x[..n].chunks_exact(LANES))
    {
        for (((s, &p), &q), &v) in acc.iter_mut().zip(ca).zip(cg).zip(cx) {
            *s = (p * q).mul_add(v - m, *s);
        }
    }
    let mut s = sum_lanes(&acc);
    for ((&p, &q), &v) in a[n..].iter().zip(&g[n..]).zip(&x[n..]) {
        s = (p * q).mul_add(v - m, s);
    }
    s
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
