//! The trainer: backprop over the model graph (fully connected layers,
//! the core's activations, residual adds), PyTorch-equal optimizers and schedules, clipping, seeded
//! initialisation and shuffling, and divergence detection.
//!
//! The forward pass runs in f32 through `axon_core`'s kernels, so the
//! trained model computes on the host what the microcontroller computes.
//! The backward math is generic over [`Real`] so the gradient check can run
//! the very same code in f64.
//!
//! # Differences from PyTorch
//!
//! The optimizers, schedules and clipping follow `torch.optim` and
//! `torch.nn.utils.clip_grad_norm_` formula for formula (see each file and
//! `tests/train_optim.rs`). Where the bits can differ, and why:
//!
//! - One parameter group: weight decay applies to every weight and bias, as
//!   `torch.optim.X(model.parameters(), weight_decay=λ)` does.
//! - The learning rate is an f32 (as given on the command line); schedules
//!   compute in f64 from it and round once to f32. PyTorch keeps Python
//!   floats (f64) until the tensor op.
//! - Adam's bias corrections are f64 (as PyTorch's Python floats) rounded to
//!   f32 where they meet the tensors; PyTorch's fused/foreach kernels may
//!   order the f32 operations differently, so the last bit can differ.
//! - `clip_grad_norm_` norms are accumulated in f64 and rounded to f32.
//! - The schedule advances once per optimizer step (call `scheduler.step()`
//!   after every `optimizer.step()` to get the same in PyTorch); warmup is
//!   `LinearLR(start_factor=1/W, total_iters=W−1)` chained by `SequentialLR`.
//! - Initialisation is He-uniform (ReLU family, GELU, SiLU) or
//!   Xavier-uniform (others) with zero biases, drawn from Axon's own
//!   SplitMix64, not `nn.Linear`'s default `kaiming_uniform_(a=√5)`; a
//!   PyTorch model can be carried over exactly with `axon train --init`.
//! - Losses are means over the batch (`reduction='mean'`); MSE averages over
//!   the outputs too, as `nn.MSELoss` does.

pub mod activation;
pub mod adam;
pub mod arch;
pub mod clip;
pub mod graph;
pub mod init;
pub mod loss;
pub mod metrics;
pub mod real;
pub mod rng;
pub mod schedule;
pub mod sgd;
mod trainer;

pub use adam::Adam;
pub use arch::{Arch, Layer};
pub use clip::clip_grad_norm;
pub use graph::{Cache, Trainable};
pub use loss::Loss;
pub use metrics::{evaluate, Metrics};
pub use real::Real;
pub use schedule::{Schedule, ScheduleKind};
pub use sgd::Sgd;
pub use trainer::{
    prepare, train, Diverged, EpochStats, Event, Length, OptimizerKind, Prepared, TrainConfig,
    Trained,
};

/// One optimizer update over all parameter tensors with the learning rate
/// of this step (set by the schedule, as a PyTorch scheduler sets
/// `param_group["lr"]`).
pub trait Optimizer {
    /// Updates `params` in place from `grads` (same shapes).
    fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32);
}
