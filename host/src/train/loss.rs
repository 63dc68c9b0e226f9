//! Losses, each `*_forward` beside its `*_backward`. Every loss is the mean
//! over the batch (PyTorch's `reduction='mean'`); the functions here work on
//! one sample and take `scale = 1/batch` for the gradient.

use super::real::Real;

/// The training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Loss {
    /// Mean squared error (regression), `nn.MSELoss`.
    Mse,
    /// Softmax cross-entropy on logits, fused and max-subtracted
    /// (`nn.CrossEntropyLoss`); the model file ends in `softmax`.
    Ce,
    /// Binary cross-entropy on a logit, fused with the sigmoid and stable
    /// (`nn.BCEWithLogitsLoss`); the model file ends in `sigmoid`.
    Bce,
}

impl Loss {
    /// The activation the saved model applies after the last dense layer:
    /// the loss is computed fused on the values before it.
    pub fn head(&self) -> Option<axon_core::Activation> {
        match self {
            Loss::Mse => None,
            Loss::Ce => Some(axon_core::Activation::Softmax),
            Loss::Bce => Some(axon_core::Activation::Sigmoid),
        }
    }

    /// Is this a classification loss?
    pub fn is_classification(&self) -> bool {
        !matches!(self, Loss::Mse)
    }

    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Ce => "ce",
            Loss::Bce => "bce",
        }
    }

    /// One sample's loss; `target` is the class index (ce, bce) or the value (mse).
    pub fn forward<T: Real>(&self, z: &[T], target: f32) -> T {
        match self {
            Loss::Mse => mse_forward(z, &[T::from_f64(f64::from(target))]),
            Loss::Ce => ce_forward(z, target as usize),
            Loss::Bce => bce_forward(z[0], T::from_f64(f64::from(target))),
        }
    }

    /// One sample's gradient with respect to `z`, times `scale`.
    pub fn backward<T: Real>(&self, z: &[T], target: f32, scale: T, dz: &mut [T]) {
        match self {
            Loss::Mse => mse_backward(z, &[T::from_f64(f64::from(target))], scale, dz),
            Loss::Ce => ce_backward(z, target as usize, scale, dz),
            Loss::Bce => dz[0] = bce_backward(z[0], T::from_f64(f64::from(target))) * scale,
        }
    }
}

/// `mean_k (y_k − t_k)²` over the outputs of one sample (`t` broadcasts if it has one element).
pub fn mse_forward<T: Real>(y: &[T], t: &[T]) -> T {
    let mut s = T::ZERO;
    for (k, &yk) in y.iter().enumerate() {
        let d = yk - t[k.min(t.len() - 1)];
        s += d * d;
    }
    s / T::from_f64(y.len() as f64)
}

/// `∂/∂y_k = 2(y_k − t_k)/K`, times `scale`.
pub fn mse_backward<T: Real>(y: &[T], t: &[T], scale: T, dy: &mut [T]) {
    let k_inv = T::from_f64(2.0 / y.len() as f64);
    for (k, (d, &yk)) in dy.iter_mut().zip(y).enumerate() {
        *d = (yk - t[k.min(t.len() - 1)]) * k_inv * scale;
    }
}

/// `logsumexp(z) − z_c`, with the maximum subtracted before `exp`, so any
/// finite logits give a finite loss.
pub fn ce_forward<T: Real>(z: &[T], class: usize) -> T {
    let m = z
        .iter()
        .copied()
        .fold(z[0], |m, v| if v > m { v } else { m });
    let mut s = T::ZERO;
    for &v in z {
        s += (v - m).exp();
    }
    m + s.ln() - z[class]
}

/// `softmax(z) − onehot(c)`, times `scale`.
pub fn ce_backward<T: Real>(z: &[T], class: usize, scale: T, dz: &mut [T]) {
    let m = z
        .iter()
        .copied()
        .fold(z[0], |m, v| if v > m { v } else { m });
    let mut s = T::ZERO;
    for (d, &v) in dz.iter_mut().zip(z) {
        *d = (v - m).exp();
        s += *d;
    }
    for (k, d) in dz.iter_mut().enumerate() {
        let onehot = if k == class { T::ONE } else { T::ZERO };
        *d = (*d / s - onehot) * scale;
    }
}

/// `max(z, 0) − z·t + ln(1 + e^−|z|)`: `−t·ln σ(z) − (1−t)·ln(1−σ(z))`
/// without overflow for any finite `z`.
pub fn bce_forward<T: Real>(z: T, t: T) -> T {
    let relu = if z > T::ZERO { z } else { T::ZERO };
    relu - z * t + (-z.abs()).exp().ln_1p()
}

/// `σ(z) − t`, with the sigmoid evaluated on the side where `e^x` cannot overflow.
pub fn bce_backward<T: Real>(z: T, t: T) -> T {
    let s = if z >= T::ZERO {
        T::ONE / (T::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::ONE + e)
    };
    s - t
}
