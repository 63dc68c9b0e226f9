//! The batched, multi-core f32 trainer of the language model
//! (`docs/lm.md`, "Training").
//!
//! A step draws `B` windows of `T + 1` tokens at uniform random starts in
//! the training split (SplitMix64), cuts them into fixed chunks of
//! [`Options::chunk`] sequences, runs each chunk's forward and backward on
//! one thread ([`model::forward_backward`]), sums the chunks' gradients in
//! chunk order, clips them by global norm, and takes an AdamW step with
//! two parameter groups (weight decay on the 2-D tensors only) at the
//! warmup-then-cosine learning rate. The chunks do not depend on the
//! thread count, so neither do the weights.

pub mod attention;
pub mod model;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::file::{tensors_json, LmFile, OptimizerJson};
use super::{LmConfig, LmParams, Vocab};
use crate::train::rng::Rng;
use crate::train::{clip_grad_norm, Adam, Optimizer, Schedule, ScheduleKind};
use model::{forward_backward, Workspace};

/// The seed stream of the batch sampler.
const STREAM_BATCHES: u64 = 0x1A4_BA7C;
/// The seed stream of the fixed validation windows.
const STREAM_EVAL: u64 = 0x1A4_E7A1;

/// The hyper-parameters of a run (recorded in the model file and the
/// checkpoint; a resumed run takes them from the checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Optimizer steps.
    pub steps: u64,
    /// Sequences per batch `B`.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f32,
    /// AdamW's decoupled weight decay (2-D tensors only).
    pub weight_decay: f32,
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    /// Linear warmup steps.
    pub warmup: u64,
    /// The cosine's floor.
    pub min_lr: f32,
    /// Clip the global gradient norm to this (0: no clipping).
    pub clip: f32,
    /// Seed of the initialisation and the batches.
    pub seed: u64,
    /// Evaluate every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Validation windows of `T` for the periodic evaluations, at fixed
    /// random starts (0: the whole validation split in non-overlapping
    /// windows, as the final figure).
    pub eval_windows: usize,
    /// Sequences per chunk (the unit of work of one thread).
    pub chunk: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            steps: 2000,
            batch: 32,
            lr: 3e-3,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            warmup: 100,
            min_lr: 3e-4,
            clip: 1.0,
            seed: 1,
            eval_every: 250,
            eval_windows: 0,
            chunk: 4,
        }
    }
}

impl Options {
    /// Checks the values a run can use.
    pub fn validate(&self) -> Result<()> {
        if self.batch == 0 || self.chunk == 0 {
            bail!("--batch and the chunk size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("--lr must be positive (got {})", self.lr);
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0) {
            bail!("--min-lr must be ≥ 0 (got {})", self.min_lr);
        }
        if !(self.clip.is_finite() && self.clip >= 0.0) {
            bail!("--clip must be ≥ 0 (got {})", self.clip);
        }
        Adam::new(self.beta1, self.beta2, self.eps, self.weight_decay, true)?;
        Ok(())
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            kind: ScheduleKind::Cosine,
            lr: self.lr,
            warmup: self.warmup,
            total: self.steps,
            step_size: 1,
            gamma: 1.0,
            min_lr: self.min_lr,
        }
    }
}

/// One point of the loss history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Steps done.
    pub step: u64,
    /// Mean training loss of the steps since the previous point (nats/char).
    pub loss: f64,
    /// Validation loss at this step, when evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Learning rate of the last step.
    pub lr: f32,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Steps done, this one included.
    pub step: u64,
    /// Window starts drawn (indices into the training split).
    pub starts: Vec<usize>,
    /// Mean cross-entropy of the batch (nats/char).
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
    /// Learning rate used.
    pub lr: f32,
}

/// A training run's state: weights, AdamW's two groups, the sampler, the
/// step, the history; and the per-thread buffers.
pub struct Trainer {
    /// Hyper-parameters.
    pub opts: Options,
    /// The weights.
    pub params: LmParams,
    /// Steps done.
    pub step: u64,
    /// The loss history.
    pub history: Vec<Point>,
    decay: Adam,
    no_decay: Adam,
    rng: Rng,
    threads: usize,
    /// Per thread: the chunk workspace.
    workspaces: Vec<Option<Workspace<f32>>>,
    /// Per chunk: its gradients.
    chunk_grads: Vec<Vec<Vec<f32>>>,
    grads: Vec<Vec<f32>>,
    is_matrix: Vec<bool>,
    since_point: (f64, u64),
}

/// Why a run stopped: its loss or gradient went NaN or infinite.
#[derive(Debug)]
pub struct Diverged {
    /// The step (from 1).
    pub step: u64,
    /// The loss.
    pub loss: f64,
    /// The gradient norm.
    pub grad_norm: f32,
}

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "training diverged at step {}: loss {}, gradient norm {} — try a lower --lr, a longer --warmup, or a smaller --clip",
            self.step, self.loss, self.grad_norm
        )
    }
}

impl std::error::Error for Diverged {}

/// The number of cores (at least 1).
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Trainer {
    /// A fresh run: nanoGPT's initialisation from `opts.seed`.
    pub fn new(cfg: LmConfig, opts: Options, threads: usize) -> Result<Trainer> {
        opts.validate()?;
        let params = LmParams::init(cfg, opts.seed)?;
        let rng = Rng::new(opts.seed, STREAM_BATCHES);
        Trainer::assemble(params, opts, threads, rng)
    }

    /// A run over given weights (`axon lm eval` evaluates through it).
    pub fn with_params(params: LmParams, opts: Options, threads: usize) -> Result<Trainer> {
        opts.validate()?;
        let rng = Rng::new(opts.seed, STREAM_BATCHES);
        Trainer::assemble(params, opts, threads, rng)
    }

    fn assemble(params: LmParams, opts: Options, threads: usize, rng: Rng) -> Result<Trainer> {
        let decay = Adam::new(opts.beta1, opts.beta2, opts.eps, opts.weight_decay, true)?;
        let no_decay = Adam::new(opts.beta1, opts.beta2, opts.eps, 0.0, true)?;
        let threads = threads.max(1);
        let n_chunks = opts.batch.div_ceil(opts.chunk);
        let zeros: Vec<Vec<f32>> = params.data.iter().map(|t| vec![0.0; t.len()]).collect();
        let is_matrix = params.shapes.iter().map(|s| s.len() == 2).collect();
        Ok(Trainer {
            decay,
            no_decay,
            rng,
            step: 0,
            history: Vec::new(),
            workspaces: (0..threads).map(|_| None).collect(),
            chunk_grads: vec![zeros.clone(); n_chunks],
            grads: zeros,
            is_matrix,
            threads,
            since_point: (0.0, 0),
            params,
            opts,
        })
    }

    /// Continues the run saved in checkpoint `f` (its options, weights,
    /// AdamW state, sampler and step).
    pub fn resume(f: &LmFile, threads: usize) -> Result<(Trainer, Vocab)> {
        let (params, vocab) = f.params()?;
        let (Some(opt), Some(rng), Some(step)) = (&f.optimizer, f.rng, f.step) else {
            bail!("the file is a model, not a checkpoint (it has no optimizer, rng and step)");
        };
        let training: Training = match &f.training {
            Some(t) => serde_json::from_value(t.clone())
                .map_err(|e| anyhow::anyhow!("the checkpoint's training record: {e}"))?,
            None => bail!("the checkpoint has no training record"),
        };
        let mut t = Trainer::assemble(params, training.options, threads, Rng::from_state(rng))?;
        t.step = step;
        t.history = training.history;
        let by_name = |list: &[super::file::TensorJson], what: &str| -> Result<Vec<Vec<f32>>> {
            let mut out = Vec::with_capacity(t.params.names.len());
            for (name, data) in t.params.names.iter().zip(&t.params.data) {
                let Some(m) = list.iter().find(|m| &m.name == name) else {
                    bail!("the checkpoint's optimizer lacks {what} of tensor {name}");
                };
                if m.data.len() != data.len() {
                    bail!(
                        "the checkpoint's optimizer has {} values of {what} for tensor {name} ({} wanted)",
                        m.data.len(),
                        data.len()
                    );
                }
                out.push(m.data.clone());
            }
            Ok(out)
        };
        let (m, v) = (by_name(&opt.m, "m")?, by_name(&opt.v, "v")?);
        if opt.step > 0 {
            let (md, mn) = t.split_groups(m);
            let (vd, vn) = t.split_groups(v);
            t.decay.restore(opt.step, md, vd);
            t.no_decay.restore(opt.step, mn, vn);
        }
        Ok((t, vocab))
    }

    /// The checkpoint of the run so far.
    pub fn checkpoint(&self, vocab: &Vocab, training: &Training) -> LmFile {
        let mut f = LmFile::model(
            &self.params,
            vocab,
            Some(serde_json::to_value(training).expect("a training record serializes")),
        );
        let (step, md, vd) = self.decay.state();
        let (_, mn, vn) = self.no_decay.state();
        let (m, v) = if md.is_empty() {
            let z: Vec<Vec<f32>> = self
                .params
                .data
                .iter()
                .map(|t| vec![0.0; t.len()])
                .collect();
            (z.clone(), z)
        } else {
            (self.join_groups(md, mn), self.join_groups(vd, vn))
        };
        f.optimizer = Some(OptimizerJson {
            step,
            m: tensors_json(&self.params, &m),
            v: tensors_json(&self.params, &v),
        });
        f.rng = Some(self.rng.state());
        f.step = Some(self.step);
        f
    }

    fn split_groups(&self, all: Vec<Vec<f32>>) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let (mut d, mut n) = (Vec::new(), Vec::new());
        for (t, &mat) in all.into_iter().zip(&self.is_matrix) {
            if mat {
                d.push(t);
            } else {
                n.push(t);
            }
        }
        (d, n)
    }

    fn join_groups(&self, d: &[Vec<f32>], n: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let (mut d, mut n) = (d.iter(), n.iter());
        self.is_matrix
            .iter()
            .map(|&mat| {
                if mat { d.next() } else { n.next() }
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// One optimizer step on windows of `train` (the training split).
    pub fn step(&mut self, train: &[u8]) -> Result<StepReport> {
        let cfg = self.params.cfg;
        let t = cfg.ctx;
        if train.len() < t + 2 {
            bail!(
                "the training split has {} tokens; a window needs ctx + 1 = {}",
                train.len(),
                t + 1
            );
        }
        let b = self.opts.batch;
        let starts: Vec<usize> = (0..b).map(|_| self.rng.below(train.len() - t)).collect();
        let mut inputs = Vec::with_capacity(b * t);
        let mut targets = Vec::with_capacity(b * t);
        for &s in &starts {
            inputs.extend_from_slice(&train[s..s + t]);
            targets.extend_from_slice(&train[s + 1..s + t + 1]);
        }
        let scale = 1.0 / (b * t) as f32;
        let loss_sum = self.run_chunks(&inputs, &targets, t, Some(scale));
        let loss = loss_sum / (b * t) as f64;

        // Chunk gradients summed in chunk order.
        for (k, g) in self.grads.iter_mut().enumerate() {
            g.copy_from_slice(&self.chunk_grads[0][k]);
            for c in &self.chunk_grads[1..] {
                for (a, &x) in g.iter_mut().zip(&c[k]) {
                    *a += x;
                }
            }
        }
        let max_norm = if self.opts.clip > 0.0 {
            self.opts.clip
        } else {
            f32::INFINITY
        };
        let grad_norm = clip_grad_norm(&mut self.grads, max_norm);
        let step = self.step + 1;
        if !loss.is_finite() || !grad_norm.is_finite() {
            return Err(Diverged {
                step,
                loss,
                grad_norm,
            }
            .into());
        }
        let lr = self.opts.schedule().lr_at(self.step);
        self.adam_step(lr);
        self.step = step;
        self.since_point.0 += loss;
        self.since_point.1 += 1;
        Ok(StepReport {
            step,
            starts,
            loss,
            grad_norm,
            lr,
        })
    }

    fn adam_step(&mut self, lr: f32) {
        let params = std::mem::take(&mut self.params.data);
        let grads = std::mem::take(&mut self.grads);
        let (mut pd, mut pn) = self.split_groups(params);
        let (gd, gn) = self.split_groups(grads);
        self.decay.step(&mut pd, &gd, lr);
        self.no_decay.step(&mut pn, &gn, lr);
        self.params.data = self.join_owned(pd, pn);
        self.grads = self.join_owned(gd, gn);
    }

    fn join_owned(&self, d: Vec<Vec<f32>>, n: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
        let (mut d, mut n) = (d.into_iter(), n.into_iter());
        self.is_matrix
            .iter()
            .map(|&mat| if mat { d.next() } else { n.next() }.unwrap_or_default())
            .collect()
    }

    /// Runs the chunks of `inputs`/`targets` (sequences of `len`) on the
    /// threads; with `scale`, each chunk's gradients of `scale ×` its loss
    /// sum land in `chunk_grads` (as many chunks as the batch has). Returns
    /// the loss sum, added in chunk order.
    fn run_chunks(&mut self, inputs: &[u8], targets: &[u8], len: usize, scale: Option<f32>) -> f64 {
        let cfg = self.params.cfg;
        let per = self.opts.chunk * len;
        let n_chunks = inputs.len().div_ceil(per);
        let mut losses = vec![0.0f64; n_chunks];
        let params = &self.params.data;
        let threads = self.threads.min(n_chunks).max(1);
        // Round-robin: chunk c on thread c mod threads.
        let mut work: Vec<Vec<Job<'_>>> = (0..threads).map(|_| Vec::new()).collect();
        let mut grads_iter = self.chunk_grads.iter_mut();
        for (c, l) in losses.iter_mut().enumerate() {
            let g = if scale.is_some() {
                grads_iter.next()
            } else {
                None
            };
            work[c % threads].push((c, l, g));
        }
        let job = |ws: &mut Option<Workspace<f32>>, jobs: Vec<Job<'_>>| {
            for (c, loss, g) in jobs {
                let lo = c * per;
                let hi = (lo + per).min(inputs.len());
                let n = (hi - lo) / len;
                if ws.as_ref().map(Workspace::shape) != Some((n, len)) {
                    *ws = Some(Workspace::new(&cfg, n, len));
                }
                let w = ws.as_mut().expect("set above");
                let grads = match (g, scale) {
                    (Some(g), Some(s)) => {
                        g.iter_mut().for_each(|t| t.fill(0.0));
                        Some((g.as_mut_slice(), s))
                    }
                    _ => None,
                };
                *loss = run_chunk(&cfg, params, &inputs[lo..hi], &targets[lo..hi], w, grads);
            }
        };
        if threads == 1 {
            let jobs = work.pop().unwrap_or_default();
            job(&mut self.workspaces[0], jobs);
        } else {
            std::thread::scope(|s| {
                for (ws, jobs) in self.workspaces.iter_mut().zip(work) {
                    s.spawn(|| job(ws, jobs));
                }
            });
        }
        losses.iter().sum()
    }

    /// Mean cross-entropy (nats per character) of `tokens` in
    /// non-overlapping windows of `T` from position 0, every position
    /// counted (the last window shorter when the split does not divide).
    pub fn evaluate_split(&mut self, tokens: &[u8]) -> f64 {
        let t = self.params.cfg.ctx;
        let predicted = tokens.len().saturating_sub(1);
        let full = predicted / t;
        let mut sum = 0.0;
        if full > 0 {
            let n = full * t;
            sum += self.run_chunks(&tokens[..n], &tokens[1..n + 1], t, None);
        }
        let rest = predicted - full * t;
        if rest > 0 {
            let lo = full * t;
            sum += self.run_chunks(&tokens[lo..lo + rest], &tokens[lo + 1..], rest, None);
        }
        sum / predicted.max(1) as f64
    }

    /// Mean cross-entropy over `count` windows of `T` at starts drawn from
    /// the seed (the same windows at every evaluation).
    pub fn evaluate_windows(&mut self, tokens: &[u8], count: usize) -> f64 {
        let t = self.params.cfg.ctx;
        if tokens.len() < t + 2 || count == 0 {
            return self.evaluate_split(tokens);
        }
        let mut rng = Rng::new(self.opts.seed, STREAM_EVAL);
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        for _ in 0..count {
            let s = rng.below(tokens.len() - t);
            inputs.extend_from_slice(&tokens[s..s + t]);
            targets.extend_from_slice(&tokens[s + 1..s + t + 1]);
        }
        self.run_chunks(&inputs, &targets, t, None) / (count * t) as f64
    }

    /// The periodic evaluation of `opts` (fixed windows, or the whole split).
    pub fn evaluate(&mut self, val: &[u8]) -> f64 {
        if self.opts.eval_windows > 0 {
            self.evaluate_windows(val, self.opts.eval_windows)
        } else {
            self.evaluate_split(val)
        }
    }

    /// Closes a history point at the current step.
    pub fn record(&mut self, val_loss: Option<f64>, lr: f32) -> &Point {
        let (sum, n) = std::mem::take(&mut self.since_point);
        self.history.push(Point {
            step: self.step,
            loss: if n > 0 { sum / n as f64 } else { f64::NAN },
            val_loss,
            lr,
        });
        self.history.last().expect("just pushed")
    }
}

/// One chunk's work: its index, where its loss sum goes, and its gradient
/// buffers (training only).
type Job<'a> = (usize, &'a mut f64, Option<&'a mut Vec<Vec<f32>>>);

/// The chunk's forward and backward, with AVX2 and FMA when the CPU has
/// them (the same code compiled for them: the bits do not change, every
/// multiply-add is an explicit `mul_add`).
fn run_chunk(
    cfg: &LmConfig,
    params: &[Vec<f32>],
    tokens: &[u8],
    targets: &[u8],
    ws: &mut Workspace<f32>,
    grads: Option<(&mut [Vec<f32>], f32)>,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (detected just above).
        return unsafe { run_chunk_avx2(cfg, params, tokens, targets, ws, grads) };
    }
    forward_backward(cfg, params, tokens, targets, ws, grads)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_chunk_avx2(
    cfg: &LmConfig,
    params: &[Vec<f32>],
    tokens: &[u8],
    targets: &[u8],
    ws: &mut Workspace<f32>,
    grads: Option<(&mut [Vec<f32>], f32)>,
) -> f64 {
    forward_backward(cfg, params, tokens, targets, ws, grads)
}

/// The model file's `training` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// The hyper-parameters.
    pub options: Options,
    /// Steps done.
    pub steps_done: u64,
    /// Loss history.
    pub history: Vec<Point>,
    /// Final loss over the whole validation split (nats/char), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Wall-clock seconds of training (this invocation).
    #[serde(default)]
    pub seconds: f64,
    /// Training tokens per second (this invocation).
    #[serde(default)]
    pub tokens_per_sec: f64,
    /// Threads used.
    #[serde(default)]
    pub threads: usize,
    /// Stopped by `--time-limit` before `steps`.
    #[serde(default)]
    pub stopped_early: bool,
}

#[cfg(test)]
mod tests;
