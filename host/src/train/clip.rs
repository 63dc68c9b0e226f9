//! Gradient clipping by global L2 norm, as `torch.nn.utils.clip_grad_norm_`.

/// Scales `grads` so their global L2 norm is at most `max_norm` and returns
/// the norm before clipping. As PyTorch: the norm of each tensor, then the
/// norm of those norms; `coef = max_norm / (total + 1e-6)`, clamped to 1,
/// and every gradient is multiplied by it (a no-op multiply by 1 when the
/// norm is small). Norms are accumulated in f64 and rounded to f32 (PyTorch
/// accumulates in f32 with its own blocking, so the last bit may differ).
/// A NaN or infinite norm propagates into the gradients, as PyTorch's
/// default `error_if_nonfinite=False` does; the trainer's divergence check
/// stops the run.
pub fn clip_grad_norm(grads: &mut [Vec<f32>], max_norm: f32) -> f32 {
    let norms: Vec<f32> = grads
        .iter()
        .map(|g| {
            g.iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt() as f32
        })
        .collect();
    let total = norms
        .iter()
        .map(|&n| f64::from(n) * f64::from(n))
        .sum::<f64>()
        .sqrt() as f32;
    let coef = max_norm / (total + 1e-6);
    // Not `f32::min`, which would turn a NaN coefficient into 1.
    let coef = if coef > 1.0 { 1.0 } else { coef };
    for g in grads.iter_mut() {
        g.iter_mut().for_each(|v| *v *= coef);
    }
    total
}
