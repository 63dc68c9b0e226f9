//! Adam and AdamW with the exact update of `torch.optim.Adam` / `AdamW`
//! (single parameter group, `amsgrad=False`, `maximize=False`).

use super::Optimizer;

/// `torch.optim.Adam` (`decoupled = false`: weight decay is an L2 term added
/// to the gradient) or `torch.optim.AdamW` (`decoupled = true`: the weights
/// shrink by `lr·λ` before the Adam step).
#[derive(Debug, Clone)]
pub struct Adam {
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε, added after the square root (as PyTorch does).
    pub eps: f32,
    /// λ.
    pub weight_decay: f32,
    /// AdamW's decoupled decay instead of Adam's L2 term.
    pub decoupled: bool,
    step: u32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam (`decoupled = false`) or AdamW (`decoupled = true`).
    pub fn new(
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
    ) -> anyhow::Result<Adam> {
        if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) {
            anyhow::bail!("Adam needs 0 ≤ β₁, β₂ < 1 (got {beta1}, {beta2})");
        }
        if !(eps.is_finite() && eps >= 0.0 && weight_decay.is_finite() && weight_decay >= 0.0) {
            anyhow::bail!("Adam needs ε ≥ 0 and weight decay ≥ 0");
        }
        Ok(Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            step: 0,
            m: Vec::new(),
            v: Vec::new(),
        })
    }

    /// The state a checkpoint keeps: steps taken, and `m`, `v` per tensor
    /// (empty before the first step).
    pub fn state(&self) -> (u32, &[Vec<f32>], &[Vec<f32>]) {
        (self.step, &self.m, &self.v)
    }

    /// Restores a [`state`](Adam::state).
    pub fn restore(&mut self, step: u32, m: Vec<Vec<f32>>, v: Vec<Vec<f32>>) {
        (self.step, self.m, self.v) = (step, m, v);
    }

    /// PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8; weight decay 0 for
    /// Adam and 0.01 for AdamW.
    pub fn pytorch_default(decoupled: bool) -> Adam {
        let wd = if decoupled { 0.01 } else { 0.0 };
        Adam::new(0.9, 0.999, 1e-8, wd, decoupled).expect("defaults are valid")
    }
}

impl Optimizer for Adam {
    /// At step `t` (from 1), for each parameter `p` with gradient `g`:
    /// ```text
    /// AdamW: p ← p·(1 − lr·λ)          Adam: g ← g + λ·p
    /// m ← m + (1 − β₁)·(g − m)          (torch's lerp)
    /// v ← β₂·v + (1 − β₂)·g²
    /// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
    /// ```
    /// The bias corrections are computed in f64, as PyTorch computes them
    /// in Python floats, and rounded to f32 where they meet the tensors.
    fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        if self.m.is_empty() {
            self.m = grads.iter().map(|g| vec![0.0; g.len()]).collect();
            self.v = self.m.clone();
        }
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - f64::from(self.beta1).powi(t);
        let bc2 = 1.0 - f64::from(self.beta2).powi(t);
        let step_size = (f64::from(lr) / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let decay = (1.0 - f64::from(lr) * f64::from(self.weight_decay)) as f32;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            for i in 0..p.len() {
                let mut gi = g[i];
                if self.weight_decay != 0.0 {
                    if self.decoupled {
                        p[i] *= decay;
                    } else {
                        gi += self.weight_decay * p[i];
                    }
                }
                m[i] += (1.0 - self.beta1) * (gi - m[i]);
                v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * gi * gi;
                let denom = v[i].sqrt() / bc2_sqrt + self.eps;
                p[i] += -step_size * (m[i] / denom);
            }
        }
    }
}
