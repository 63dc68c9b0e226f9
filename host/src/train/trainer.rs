//! The training loop: data preparation, mini-batches, optimizer steps,
//! validation, and divergence detection.

use std::fmt;
use std::time::Instant;

use anyhow::{bail, Context};
use axon_core::Activation;

use super::adam::Adam;
use super::arch::{self, Arch};
use super::clip::clip_grad_norm;
use super::graph::Trainable;
use super::loss::Loss;
use super::rng::{stream, Rng};
use super::schedule::{Schedule, ScheduleKind};
use super::sgd::Sgd;
use super::Optimizer;
use crate::data::{split_indices, standardisation, Table};
use crate::model::{Meta, Model, Task};

/// The optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    /// `torch.optim.SGD`.
    Sgd,
    /// `torch.optim.Adam`.
    Adam,
    /// `torch.optim.AdamW`.
    Adamw,
}

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// Full passes over the training split.
    Epochs(u64),
    /// Optimizer steps (mini-batches), continuing across epochs.
    Steps(u64),
}

/// Everything that determines a training run (with the data and the seed,
/// it determines the model bit for bit).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Widths of the hidden layers (the input and output widths come from
    /// the data), when no architecture is given.
    pub hidden: Vec<usize>,
    /// The architecture (an `--arch` file); overrides `hidden` and
    /// `activation`.
    pub arch: Option<Arch>,
    /// Activation after every hidden dense layer (an element-wise op;
    /// `None`: none).
    pub activation: Option<crate::ops::Op>,
    /// The loss (and so the output head).
    pub loss: Loss,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Base learning rate.
    pub lr: f32,
    /// SGD momentum.
    pub momentum: f32,
    /// SGD dampening.
    pub dampening: f32,
    /// SGD Nesterov momentum.
    pub nesterov: bool,
    /// Weight decay; `None` is the optimizer's PyTorch default (0, or 0.01 for AdamW).
    pub weight_decay: Option<f32>,
    /// Adam β₁.
    pub beta1: f32,
    /// Adam β₂.
    pub beta2: f32,
    /// Adam ε.
    pub eps: f32,
    /// Schedule after warmup.
    pub schedule: ScheduleKind,
    /// Linear warmup steps.
    pub warmup: u64,
    /// Step decay interval in steps; `None` is a third of the run.
    pub step_size: Option<u64>,
    /// Step decay factor.
    pub gamma: f32,
    /// Cosine floor.
    pub min_lr: f32,
    /// Clip gradients to this global L2 norm.
    pub clip: Option<f32>,
    /// Mini-batch size.
    pub batch: usize,
    /// Epochs or steps.
    pub length: Length,
    /// Reshuffle the training split every epoch.
    pub shuffle: bool,
    /// Standardise each input column (mean 0, standard deviation 1 over the
    /// training split) in the model's preprocessing; `false` keeps the raw
    /// values (identity preprocessing: nothing to store or compute on a
    /// device, for inputs already on a common scale such as pixel levels).
    pub standardize: bool,
    /// Seed for the split, the initialisation and the shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: vec![32],
            arch: None,
            activation: Some(crate::ops::Op::Relu(Default::default())),
            loss: Loss::Ce,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: None,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            schedule: ScheduleKind::Constant,
            warmup: 0,
            step_size: None,
            gamma: 0.1,
            min_lr: 0.0,
            clip: None,
            batch: 32,
            length: Length::Epochs(20),
            shuffle: true,
            standardize: true,
            seed: 7,
        }
    }
}

/// A data set ready for training: raw inputs, targets and the split.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Raw inputs, `(rows, inputs)` row-major.
    pub x: Vec<f32>,
    /// One target per row: class index (as f32, exact) or value.
    pub y: Vec<f32>,
    /// Number of inputs.
    pub inputs: usize,
    /// Rows used for training.
    pub train: Vec<usize>,
    /// Rows used for validation.
    pub val: Vec<usize>,
    /// Classification (with its classes) or regression.
    pub task: Task,
    /// Input column names.
    pub feature_names: Vec<String>,
    /// Target column name.
    pub target_name: String,
    /// Class labels.
    pub class_labels: Vec<String>,
}

impl Prepared {
    /// Width of the output layer the task needs.
    pub fn outputs(&self, loss: Loss) -> usize {
        match (self.task, loss) {
            (Task::Classification { .. }, Loss::Bce) => 1,
            (Task::Classification { classes }, _) => classes,
            (Task::Regression, _) => 1,
        }
    }

    /// Raw inputs and targets of some rows.
    pub fn rows(&self, idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let d = self.inputs;
        let mut x = Vec::with_capacity(idx.len() * d);
        let mut y = Vec::with_capacity(idx.len());
        for &r in idx {
            x.extend_from_slice(&self.x[r * d..(r + 1) * d]);
            y.push(self.y[r]);
        }
        (x, y)
    }
}

/// Reads the target column (by name or number from 1; default: last) and
/// the inputs (every other column), and splits off `val_split` of the rows
/// with the seed. The loss decides classification or regression.
pub fn prepare(
    table: &Table,
    target: Option<&str>,
    loss: Loss,
    val_split: f64,
    seed: u64,
) -> anyhow::Result<Prepared> {
    if !(0.0..1.0).contains(&val_split) {
        bail!("--val-split must be in [0, 1), got {val_split}");
    }
    let tc = table.resolve_column(target)?;
    let cols: Vec<usize> = (0..table.ncols()).filter(|&c| c != tc).collect();
    if cols.is_empty() {
        bail!(
            "{}: there are no input columns besides the target",
            table.source
        );
    }
    let x = table.numbers(&cols)?;
    let names = table.column_names();
    let (y, task, class_labels) = if loss.is_classification() {
        let ct = table.classes(tc, None)?;
        let classes = ct.labels.len();
        if classes < 2 {
            bail!(
                "{}: the target column {} has only one class",
                table.source,
                table.column_label(tc)
            );
        }
        if loss == Loss::Bce && classes != 2 {
            bail!(
                "--loss bce needs two classes, but column {} has {classes}; use --loss ce",
                table.column_label(tc)
            );
        }
        let y = ct.index.iter().map(|&k| k as f32).collect();
        (y, Task::Classification { classes }, ct.labels)
    } else {
        (table.numbers(&[tc])?, Task::Regression, Vec::new())
    };
    let (train, val) = split_indices(table.rows.len(), val_split, seed);
    Ok(Prepared {
        x,
        y,
        inputs: cols.len(),
        train,
        val,
        task,
        feature_names: cols.iter().map(|&c| names[c].clone()).collect(),
        target_name: names[tc].clone(),
        class_labels,
    })
}

/// Statistics of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: u64,
    /// Optimizer steps so far.
    pub step: u64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Validation loss (if there is a validation split).
    pub val_loss: Option<f64>,
    /// Validation accuracy (classification with a validation split).
    pub val_accuracy: Option<f64>,
    /// Training samples per second in this epoch.
    pub samples_per_sec: f64,
}

/// What the trainer reports as it goes.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// After an optimizer step.
    Step {
        /// Steps done.
        step: u64,
        /// Steps in the run.
        total: u64,
        /// Current epoch, from 1.
        epoch: u64,
        /// This batch's loss.
        loss: f32,
    },
    /// After an epoch and its validation.
    Epoch(&'a EpochStats),
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model.
    pub model: Model,
    /// One entry per epoch (a `--steps` run may end inside an epoch; that
    /// partial epoch gets an entry too).
    pub history: Vec<EpochStats>,
    /// Optimizer steps taken.
    pub steps: u64,
}

/// Training stopped because the loss or the weights stopped being finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Diverged {
    /// The optimizer step (from 1) at which it happened.
    pub step: u64,
    /// The last finite batch loss, if any.
    pub last_finite_loss: Option<f32>,
    /// What became non-finite.
    pub what: &'static str,
}

impl fmt::Display for Diverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "training diverged at step {}: {} became NaN or infinite",
            self.step, self.what
        )?;
        match self.last_finite_loss {
            Some(l) => write!(f, " (last finite loss {l})")?,
            None => write!(f, " (no finite loss was seen)")?,
        }
        write!(
            f,
            "; no model was written. Try a lower --lr (e.g. a tenth), --clip 1.0, \
             a --warmup of a few hundred steps, or check the data for huge values"
        )
    }
}

impl std::error::Error for Diverged {}

/// Builds the initial model: `init` if given (checked against the data and
/// the loss), else the architecture with fresh seeded weights and the
/// training split's standardisation.
fn initial_model(data: &Prepared, cfg: &TrainConfig, init: Option<Model>) -> anyhow::Result<Model> {
    let outputs = data.outputs(cfg.loss);
    let meta = Meta {
        task: data.task,
        features: data.feature_names.clone(),
        target: data.target_name.clone(),
        labels: data.class_labels.clone(),
        quantization: None,
    };
    if let Some(m) = init {
        if m.is_int8() {
            bail!("the --init model is int8; training starts from an f32 model");
        }
        if m.inputs() != data.inputs {
            bail!(
                "the --init model takes {} inputs, but the data has {}",
                m.inputs(),
                data.inputs
            );
        }
        if m.outputs() != outputs {
            bail!(
                "the --init model has {} outputs, but --loss {} on this data needs {outputs}",
                m.outputs(),
                cfg.loss.name()
            );
        }
        let last = m.graph.nodes.last().map(|n| n.op.name());
        match (cfg.loss.head(), last) {
            (Some(Activation::Softmax), Some("softmax"))
            | (Some(Activation::Sigmoid), Some("sigmoid"))
            | (None, _) => {}
            (Some(h), _) => bail!(
                "the --init model must end in {} to train with --loss {}",
                h.name(),
                cfg.loss.name()
            ),
        }
        if cfg.loss.head().is_none() && matches!(last, Some("softmax" | "sigmoid")) {
            bail!("the --init model ends in a classification head; train it with --loss ce or bce");
        }
        return Ok(Model {
            meta,
            graph: m.graph,
        });
    }
    let arch = match &cfg.arch {
        Some(a) => a.clone(),
        None => {
            if cfg.hidden.contains(&0) {
                bail!("--layers widths must be at least 1");
            }
            Arch::chain(&cfg.hidden, cfg.activation.clone())
        }
    };
    let standardize = cfg.standardize.then(|| {
        let p = standardisation(&data.x, data.inputs, &data.train);
        (p.mean, p.std)
    });
    let graph = arch::build(
        &arch,
        data.inputs,
        outputs,
        standardize,
        cfg.loss.head(),
        cfg.seed,
    )?;
    Ok(Model { meta, graph })
}

fn make_optimizer(cfg: &TrainConfig) -> anyhow::Result<Box<dyn Optimizer>> {
    Ok(match cfg.optimizer {
        OptimizerKind::Sgd => Box::new(Sgd::new(
            cfg.momentum,
            cfg.dampening,
            cfg.nesterov,
            cfg.weight_decay.unwrap_or(0.0),
        )?),
        OptimizerKind::Adam => Box::new(Adam::new(
            cfg.beta1,
            cfg.beta2,
            cfg.eps,
            cfg.weight_decay.unwrap_or(0.0),
            false,
        )?),
        OptimizerKind::Adamw => Box::new(Adam::new(
            cfg.beta1,
            cfg.beta2,
            cfg.eps,
            cfg.weight_decay.unwrap_or(0.01),
            true,
        )?),
    })
}

/// Trains a model. `observe` sees every step and epoch (for progress
/// display); it does not influence the result.
pub fn train(
    data: &Prepared,
    cfg: &TrainConfig,
    init: Option<Model>,
    observe: &mut dyn FnMut(Event<'_>),
) -> anyhow::Result<Trained> {
    if data.train.is_empty() {
        bail!("the training split is empty");
    }
    if cfg.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        bail!("--lr must be a positive number, got {}", cfg.lr);
    }
    if let Some(c) = cfg.clip {
        if !(c.is_finite() && c > 0.0) {
            bail!("--clip must be a positive number, got {c}");
        }
    }
    let mut model = initial_model(data, cfg, init)?;
    model.validate().context("the initial model is invalid")?;
    let head = usize::from(cfg.loss.head().is_some());
    // A standardisation on the input is fixed: computed once per row.
    let first_is_standardize = model.graph.nodes.first().is_some_and(|n| {
        matches!(n.op, crate::ops::Op::Standardize(_)) && n.inputs == model.graph.inputs
    });
    let mut net: Trainable<f32> = Trainable::new(&model, head, first_is_standardize)?;
    let mut opt = make_optimizer(cfg)?;

    // The rows as the trained part of the graph sees them: standardised
    // once, with the model's own node (the bits inference computes).
    let d = data.inputs;
    let xs: Vec<f32> = if first_is_standardize {
        let n = &model.graph.nodes[0];
        let (mean, std) = (
            model
                .graph
                .param(n, "mean")?
                .f32_data()
                .unwrap_or(&[])
                .to_vec(),
            model
                .graph
                .param(n, "std")?
                .f32_data()
                .unwrap_or(&[])
                .to_vec(),
        );
        let mut out = vec![0.0f32; data.x.len()];
        let s = axon_core::ops::standardize::Standardize {
            mean: &mean,
            std: &std,
        };
        axon_core::ops::standardize::standardize(&s, &data.x, &mut out);
        out
    } else {
        data.x.clone()
    };

    let per_epoch = data.train.len().div_ceil(cfg.batch) as u64;
    let total = match cfg.length {
        Length::Epochs(e) => e * per_epoch,
        Length::Steps(s) => s,
    };
    if total == 0 {
        bail!("nothing to train: zero epochs or steps");
    }
    let schedule = Schedule {
        kind: cfg.schedule,
        lr: cfg.lr,
        warmup: cfg.warmup,
        total,
        step_size: cfg
            .step_size
            .unwrap_or((total.saturating_sub(cfg.warmup) / 3).max(1)),
        gamma: cfg.gamma,
        min_lr: cfg.min_lr,
    };

    let mut shuffle_rng = Rng::new(cfg.seed, stream::SHUFFLE);
    let mut order = data.train.clone();
    let mut cache = net.cache();
    let mut grads = net.zero_grads();
    let mut dz = vec![0.0f32; net.outputs()];
    let mut step = 0u64;
    let mut last_finite: Option<f32> = None;
    let mut history = Vec::new();
    let (val_x, val_y) = data.rows(&data.val);
    let mut epoch = 0u64;
    while step < total {
        epoch += 1;
        if cfg.shuffle {
            shuffle_rng.shuffle(&mut order);
        }
        let started = Instant::now();
        let (mut loss_sum, mut batches, mut samples) = (0.0f64, 0u64, 0usize);
        for chunk in order.chunks(cfg.batch) {
            grads
                .iter_mut()
                .for_each(|g| g.iter_mut().for_each(|v| *v = 0.0));
            let scale = 1.0 / chunk.len() as f32;
            let mut batch_loss = 0.0f32;
            for &r in chunk {
                let out = net.forward(&xs[r * d..(r + 1) * d], &mut cache)?;
                batch_loss += cfg.loss.forward(out, data.y[r]);
                cfg.loss.backward(out, data.y[r], scale, &mut dz);
                net.backward(&mut cache, &dz, &mut grads);
            }
            let batch_loss = batch_loss * scale;
            if !batch_loss.is_finite() {
                return Err(Diverged {
                    step: step + 1,
                    last_finite_loss: last_finite,
                    what: "the loss",
                }
                .into());
            }
            last_finite = Some(batch_loss);
            if let Some(c) = cfg.clip {
                clip_grad_norm(&mut grads, c);
            }
            opt.step(&mut net.params, &grads, schedule.lr_at(step));
            step += 1;
            if !net.all_finite() {
                return Err(Diverged {
                    step,
                    last_finite_loss: last_finite,
                    what: "the weights",
                }
                .into());
            }
            loss_sum += f64::from(batch_loss);
            batches += 1;
            samples += chunk.len();
            observe(Event::Step {
                step,
                total,
                epoch,
                loss: batch_loss,
            });
            if step == total {
                break;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        net.write_back(&mut model);
        let (val_loss, val_accuracy) = if data.val.is_empty() {
            (None, None)
        } else {
            let m = super::metrics::evaluate(&model, &val_x, &val_y)?;
            (m.loss, m.accuracy)
        };
        let stats = EpochStats {
            epoch,
            step,
            train_loss: loss_sum / batches.max(1) as f64,
            val_loss,
            val_accuracy,
            samples_per_sec: samples as f64 / secs.max(1e-9),
        };
        observe(Event::Epoch(&stats));
        history.push(stats);
    }
    net.write_back(&mut model);
    model.validate().context("the trained model is invalid")?;
    Ok(Trained {
        model,
        history,
        steps: step,
    })
}
