//! Splits and standardisation.

use crate::train::rng::{stream, Rng};

/// Per-input standardisation: `x' = (x − mean) / std`, in f32, input by
/// input (the model's `standardize` node).
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Per-input mean.
    pub mean: Vec<f32>,
    /// Per-input standard deviation, every entry finite and > 0.
    pub std: Vec<f32>,
}

/// Class targets: one index per row, and the label of each index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassTargets {
    /// Class index of each row.
    pub index: Vec<usize>,
    /// Label text of each class.
    pub labels: Vec<String>,
}

/// A seeded train/validation split of `0..n`: the indices are shuffled and
/// the first `round(n·val_fraction)` become the validation set (at least one
/// row stays in training). Each side keeps the shuffled order sorted, so the
/// split depends only on the seed.
pub fn split_indices(n: usize, val_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    if val_fraction <= 0.0 || n < 2 {
        return (idx, Vec::new());
    }
    Rng::new(seed, stream::SPLIT).shuffle(&mut idx);
    let n_val = ((n as f64 * val_fraction).round() as usize).min(n - 1);
    let mut val = idx[..n_val].to_vec();
    let mut train = idx[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Per-column mean and population standard deviation (as scikit-learn's
/// `StandardScaler`) of the rows `rows` of a row-major `(n, d)` matrix,
/// computed in f64 and rounded to f32. A constant column gets `std = 1`, so
/// it maps to 0 instead of dividing by zero.
pub fn standardisation(x: &[f32], d: usize, rows: &[usize]) -> Preprocess {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0f64; d];
    for &r in rows {
        for (m, &v) in mean.iter_mut().zip(&x[r * d..(r + 1) * d]) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0f64; d];
    for &r in rows {
        for ((s, &v), &m) in var.iter_mut().zip(&x[r * d..(r + 1) * d]).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    let std = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt() as f32;
            if sd.is_finite() && sd > 1e-12 {
                sd
            } else {
                1.0
            }
        })
        .collect();
    Preprocess {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let (t, v) = split_indices(10, 0.2, 7);
        assert_eq!(v.len(), 2);
        assert_eq!(t.len(), 8);
        let mut all: Vec<usize> = t.iter().chain(&v).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(split_indices(10, 0.2, 7), (t, v));
        assert_ne!(split_indices(10, 0.2, 8).1, split_indices(10, 0.2, 7).1);
    }

    #[test]
    fn standardisation_uses_training_rows_only() {
        // Column 0: rows 0,1 are 1 and 3 -> mean 2, std 1. Column 1 constant -> std 1.
        let x = [1.0, 5.0, 3.0, 5.0, 100.0, 7.0];
        let p = standardisation(&x, 2, &[0, 1]);
        assert_eq!(p.mean, vec![2.0, 5.0]);
        assert_eq!(p.std, vec![1.0, 1.0]);
    }
}
