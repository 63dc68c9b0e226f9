//! Token plus learned position embedding over a chunk of sequences.

use super::super::matmul::Float;

/// `x (n·len, D)`: row `s·len + p` is `tok[tokens[s·len + p]] + pos[p]`,
/// `tok (V, D)`, `pos (≥ len, D)`. Tokens are checked against `V` by the
/// caller (the corpus is encoded with the model's vocabulary).
pub fn embedding_forward<T: Float>(
    x: &mut [T],
    tokens: &[u8],
    len: usize,
    tok: &[T],
    pos: &[T],
    d: usize,
) {
    for (r, (row, &t)) in x.chunks_exact_mut(d).zip(tokens).enumerate() {
        let p = r % len;
        let te = &tok[t as usize * d..][..d];
        let pe = &pos[p * d..][..d];
        for ((v, &a), &b) in row.iter_mut().zip(te).zip(pe) {
            *v = a + b;
        }
    }
}

/// Adds `dx`'s rows into the rows of `dtok` and `dpos` they came from.
pub fn embedding_backward<T: Float>(
    dx: &[T],
    tokens: &[u8],
    len: usize,
    dtok: &mut [T],
    dpos: &mut [T],
    d: usize,
) {
    for (r, (row, &t)) in dx.chunks_exact(d).zip(tokens).enumerate() {
        let p = r % len;
        for (g, &v) in dtok[t as usize * d..][..d].iter_mut().zip(row) {
            *g += v;
        }
        for (g, &v) in dpos[p * d..][..d].iter_mut().zip(row) {
            *g += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::gradcheck::check;
    use crate::train::rng::Rng;

    #[test]
    fn embedding_backward_matches_central_differences() {
        let (v, d, len, n) = (4, 3, 3, 2);
        let mut rng = Rng::new(5, 1);
        let mut r = |k: usize| (0..k).map(|_| rng.next_f64() - 0.5).collect::<Vec<f64>>();
        let (tok, pos, c) = (r(v * d), r(len * d), r(n * len * d));
        let tokens = [1u8, 3, 1, 0, 2, 1];
        let loss = |tok: &[f64], pos: &[f64]| {
            let mut x = vec![0.0; n * len * d];
            embedding_forward(&mut x, &tokens, len, tok, pos, d);
            x.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut dtok, mut dpos) = (vec![0.0; v * d], vec![0.0; len * d]);
        embedding_backward(&c, &tokens, len, &mut dtok, &mut dpos, d);
        check("dtok", &tok, &dtok, &|t| loss(t, &pos), 1e-6);
        check("dpos", &pos, &dpos, &|p| loss(&tok, p), 1e-6);
        // Token 3 appears once, at row 1: its gradient is that row.
        assert_eq!(&dtok[9..12], &c[3..6]);
    }
}
