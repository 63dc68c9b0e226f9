//! Forward beside backward for the batched products of the trainer.
//!
//! Matrices are row-major slices with their shape in the comment of each
//! function: `x (M, K)` is `M` rows of `K`. A linear layer is PyTorch's
//! `nn.Linear`: `W (N, K)` output-major, `y = x·Wᵀ + b`.

use super::Float;

/// `y (m, n) = [y +] op(a)·op(b)` with `op(a) (m, k)` and `op(b) (k, n)`:
/// `a` is stored `(m, k)`, or `(k, m)` when `ta`; `b` is stored `(k, n)`,
/// or `(n, k)` when `tb`. Single-threaded (`gemm`'s `Parallelism::None`),
/// so the result depends only on the operands.
///
/// # Panics
/// When a slice's length is not its shape's (a caller's bug: every shape
/// comes from the model's configuration).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    y: &mut [T],
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
    accumulate: bool,
) {
    assert_eq!(y.len(), m * n, "gemm: y is not ({m}, {n})");
    assert_eq!(a.len(), m * k, "gemm: a is not ({m}, {k})");
    assert_eq!(b.len(), k * n, "gemm: b is not ({k}, {n})");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            y.fill(T::ZERO);
        }
        return;
    }
    // (row stride, column stride) of each operand as stored.
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    // SAFETY: the three slices hold exactly m·n, m·k and k·n elements
    // (checked above), and every index gemm forms from these strides,
    // (i·rs + j·cs) for i < rows, j < cols, lies inside them; `y` is a
    // unique borrow, so it aliases neither operand. `T` is f32 or f64
    // (the only `Float` types), which gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            y.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Linear forward: `y (M, N) = [y +] x (M, K)·Wᵀ + b`, `w (N, K)`, `b (N)`
/// or none; with `accumulate` the product adds to `y` (a residual
/// connection).
#[allow(clippy::too_many_arguments)]
pub fn linear_forward<T: Float>(
    y: &mut [T],
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
) {
    gemm(y, m, n, k, x, false, w, true, accumulate);
    if let Some(b) = b {
        for row in y.chunks_exact_mut(n) {
            for (v, &bi) in row.iter_mut().zip(b) {
                *v += bi;
            }
        }
    }
}

/// Linear backward: from `dy (M, N)`, adds `dyᵀ·x` into `dw (N, K)`, the
/// column sums of `dy` into `db (N)`, and writes (or adds, with
/// `accumulate`) `dy·W` into `dx (M, K)`.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward<T: Float>(
    dy: &[T],
    x: &[T],
    w: &[T],
    dw: &mut [T],
    db: Option<&mut [T]>,
    dx: Option<&mut [T]>,
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
) {
    gemm(dw, n, k, m, dy, true, x, false, true);
    if let Some(db) = db {
        for row in dy.chunks_exact(n) {
            for (g, &d) in db.iter_mut().zip(row) {
                *g += d;
            }
        }
    }
    if let Some(dx) = dx {
        gemm(dx, m, k, n, dy, false, w, false, accumulate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::gradcheck::check;
    use crate::train::rng::Rng;

    fn rand(n: usize, rng: &mut Rng) -> Vec<f64> {
        (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect()
    }

    #[test]
    fn gemm_equals_the_triple_loop_in_every_transposition() {
        let mut rng = Rng::new(3, 9);
        let (m, n, k) = (5, 7, 3);
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = rand(m * k, &mut rng);
            let b = rand(k * n, &mut rng);
            let at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] };
            let bt = |p: usize, j: usize| if tb { b[j * k + p] } else { b[p * n + j] };
            let mut y = vec![1.0; m * n];
            gemm(&mut y, m, n, k, &a, ta, &b, tb, true);
            for i in 0..m {
                for j in 0..n {
                    let want = 1.0 + (0..k).map(|p| at(i, p) * bt(p, j)).sum::<f64>();
                    assert!((y[i * n + j] - want).abs() < 1e-12, "{ta} {tb} {i} {j}");
                }
            }
        }
    }

    #[test]
    fn linear_backward_matches_central_differences() {
        let mut rng = Rng::new(4, 9);
        let (m, n, k) = (4, 3, 5);
        let x = rand(m * k, &mut rng);
        let w = rand(n * k, &mut rng);
        let b = rand(n, &mut rng);
        let c = rand(m * n, &mut rng); // loss = Σ c ⊙ y
        let loss = |x: &[f64], w: &[f64], b: &[f64]| {
            let mut y = vec![0.0; m * n];
            linear_forward(&mut y, x, w, Some(b), false, m, n, k);
            y.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut dw, mut db, mut dx) = (vec![0.0; n * k], vec![0.0; n], vec![0.0; m * k]);
        linear_backward(
            &c,
            &x,
            &w,
            &mut dw,
            Some(&mut db),
            Some(&mut dx),
            false,
            m,
            n,
            k,
        );
        check("dx", &x, &dx, &|v| loss(v, &w, &b), 1e-6);
        check("dw", &w, &dw, &|v| loss(&x, v, &b), 1e-6);
        check("db", &b, &db, &|v| loss(&x, &w, v), 1e-6);
    }
}
