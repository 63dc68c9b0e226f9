//! SGD with the exact update of `torch.optim.SGD` (single parameter group).

use super::Optimizer;

/// `torch.optim.SGD(params, lr, momentum, dampening, weight_decay, nesterov)`.
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Momentum factor μ (0 disables the buffer).
    pub momentum: f32,
    /// Dampening τ of the momentum buffer.
    pub dampening: f32,
    /// Nesterov momentum (needs μ > 0 and τ = 0, as PyTorch checks).
    pub nesterov: bool,
    /// L2 penalty λ added to the gradient.
    pub weight_decay: f32,
    buffers: Vec<Vec<f32>>,
}

impl Sgd {
    /// A new optimizer; rejects the combinations PyTorch rejects.
    pub fn new(
        momentum: f32,
        dampening: f32,
        nesterov: bool,
        weight_decay: f32,
    ) -> anyhow::Result<Sgd> {
        if !(momentum.is_finite()
            && momentum >= 0.0
            && weight_decay.is_finite()
            && weight_decay >= 0.0)
        {
            anyhow::bail!("SGD needs momentum ≥ 0 and weight decay ≥ 0");
        }
        if nesterov && (momentum <= 0.0 || dampening != 0.0) {
            anyhow::bail!(
                "Nesterov momentum requires a momentum > 0 and zero dampening (as in PyTorch)"
            );
        }
        Ok(Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
            buffers: Vec::new(),
        })
    }
}

impl Optimizer for Sgd {
    /// For each parameter `p` with gradient `g`:
    /// ```text
    /// g ← g + λ·p                                  (if λ ≠ 0)
    /// b ← g  on the first step, else  b ← μ·b + (1 − τ)·g   (if μ ≠ 0)
    /// g ← g + μ·b  (Nesterov)   or   g ← b
    /// p ← p − lr·g
    /// ```
    fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        let first = self.buffers.is_empty();
        if first && self.momentum != 0.0 {
            self.buffers = grads.iter().map(|g| vec![0.0; g.len()]).collect();
        }
        for (t, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            for i in 0..p.len() {
                let mut d = g[i];
                if self.weight_decay != 0.0 {
                    d += self.weight_decay * p[i];
                }
                if self.momentum != 0.0 {
                    let b = &mut self.buffers[t][i];
                    *b = if first {
                        d
                    } else {
                        self.momentum * *b + (1.0 - self.dampening) * d
                    };
                    d = if self.nesterov {
                        d + self.momentum * *b
                    } else {
                        *b
                    };
                }
                p[i] += -lr * d;
            }
        }
    }
}
