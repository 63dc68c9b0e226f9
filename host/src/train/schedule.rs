//! Learning-rate schedules, each with optional linear warmup, as the
//! closed forms of PyTorch's schedulers.

/// The schedule after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ScheduleKind {
    /// `lr` throughout (`ConstantLR` with factor 1).
    #[default]
    Constant,
    /// `lr·γ^⌊t/s⌋` (`StepLR(step_size=s, gamma=γ)`).
    Step,
    /// `η_min + (lr − η_min)·(1 + cos(π·t/T))/2` (`CosineAnnealingLR(T_max=T)`, closed form).
    Cosine,
}

/// A learning-rate schedule over optimizer steps `t = 0, 1, …`.
///
/// With `warmup = W > 0`, steps `t < W` use `lr·(t + 1)/W` — PyTorch's
/// `LinearLR(start_factor=1/W, end_factor=1, total_iters=W−1)` — and the
/// main schedule then runs on `t − W` with `T = total − W`, as
/// `SequentialLR(schedulers=[warmup, main], milestones=[W])` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// After warmup.
    pub kind: ScheduleKind,
    /// Base learning rate.
    pub lr: f32,
    /// Warmup steps `W`.
    pub warmup: u64,
    /// Total optimizer steps (the cosine horizon is `total − W`).
    pub total: u64,
    /// `StepLR`'s step size `s` (in steps, ≥ 1).
    pub step_size: u64,
    /// `StepLR`'s factor `γ`.
    pub gamma: f32,
    /// Cosine's floor `η_min`.
    pub min_lr: f32,
}

impl Schedule {
    /// The learning rate of optimizer step `t` (from 0), computed in f64
    /// and rounded once to f32.
    pub fn lr_at(&self, t: u64) -> f32 {
        let base = f64::from(self.lr);
        if t < self.warmup {
            return (base * (t + 1) as f64 / self.warmup as f64) as f32;
        }
        let t = t - self.warmup;
        let lr = match self.kind {
            ScheduleKind::Constant => base,
            ScheduleKind::Step => {
                base * f64::from(self.gamma)
                    .powi((t / self.step_size.max(1)).min(i32::MAX as u64) as i32)
            }
            ScheduleKind::Cosine => {
                let horizon = self.total.saturating_sub(self.warmup).max(1) as f64;
                let t = (t as f64).min(horizon);
                let min = f64::from(self.min_lr);
                min + (base - min) * (1.0 + (std::f64::consts::PI * t / horizon).cos()) / 2.0
            }
        };
        lr as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: ScheduleKind, warmup: u64) -> Schedule {
        Schedule {
            kind,
            lr: 0.1,
            warmup,
            total: 10,
            step_size: 3,
            gamma: 0.5,
            min_lr: 0.0,
        }
    }

    #[test]
    fn step_decay_matches_steplr() {
        let lrs: Vec<f32> = (0..8).map(|t| s(ScheduleKind::Step, 0).lr_at(t)).collect();
        assert_eq!(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
    }

    #[test]
    fn cosine_matches_the_closed_form() {
        let c = s(ScheduleKind::Cosine, 0);
        assert_eq!(c.lr_at(0), 0.1);
        assert_eq!(c.lr_at(5), 0.05);
        // t = 2 of T = 10: 0.1·(1 + cos(π/5))/2 = 0.0904508497...
        assert_eq!(c.lr_at(2), 0.090_450_85);
        assert_eq!(c.lr_at(10), 0.0);
    }

    #[test]
    fn warmup_is_linear_then_hands_over() {
        let c = s(ScheduleKind::Cosine, 4);
        assert_eq!(c.lr_at(0), 0.025);
        assert_eq!(c.lr_at(1), 0.05);
        assert_eq!(c.lr_at(3), 0.1);
        // Cosine restarts at t − W = 0 with horizon 6: t − W = 3 is the midpoint.
        assert_eq!(c.lr_at(4), 0.1);
        assert_eq!(c.lr_at(7), 0.05);
        assert_eq!(s(ScheduleKind::Constant, 2).lr_at(0), 0.05);
        assert_eq!(s(ScheduleKind::Constant, 2).lr_at(100), 0.1);
    }
}
