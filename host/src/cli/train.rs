//! `axon train`: trains an f32 model on a CSV file or a bundled set.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};

use super::plot::plot_history;
use super::progress::Progress;
use crate::data::{Header, Table};
use crate::model::{Model, Task};
use crate::train::arch::parse_activation;
use crate::train::{
    prepare, train, Arch, Length, Loss, OptimizerKind, ScheduleKind, TrainConfig, Trained,
};

/// Arguments of `axon train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file (header optional), or `bundled:iris`, `bundled:digits`, `bundled:sine`.
    #[arg(long)]
    pub data: String,
    /// Target column: header name or number from 1 (default: the last column).
    #[arg(long)]
    pub target: Option<String>,
    /// Whether the first row is a header.
    #[arg(long, value_enum, default_value_t = Header::Auto)]
    pub header: Header,
    /// Widths of the network from input to output, e.g. `64,32,10`: the
    /// first must be the number of input columns, the last the number of
    /// outputs (classes for ce, 1 for bce and mse). Default: inputs,32,outputs.
    #[arg(long, value_delimiter = ',', conflicts_with = "arch")]
    pub layers: Vec<usize>,
    /// An architecture file (TOML: dense layers and residual blocks;
    /// docs/architecture.md). The output layer and the loss's head are
    /// added from the data.
    #[arg(long)]
    pub arch: Option<PathBuf>,
    /// Activation after each hidden layer: none, or any activation op
    /// (relu, leaky_relu, sigmoid, tanh, gelu (tanh form), gelu_erf, silu, elu).
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// The activation's alpha: leaky_relu's slope for negative inputs
    /// (default 0.01), elu's scale (default 1).
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Loss: ce (softmax cross-entropy, classes), bce (binary cross-entropy, two classes), mse (regression).
    #[arg(long, value_enum, default_value_t = Loss::Ce)]
    pub loss: Loss,
    /// Optimizer, with torch.optim's exact update.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f32,
    /// SGD dampening.
    #[arg(long, default_value_t = 0.0)]
    pub dampening: f32,
    /// SGD Nesterov momentum.
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay (default: 0, or 0.01 for adamw, as PyTorch).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Adam/AdamW β₁.
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f32,
    /// Adam/AdamW β₂.
    #[arg(long, default_value_t = 0.999)]
    pub beta2: f32,
    /// Adam/AdamW ε (added after the square root).
    #[arg(long, default_value_t = 1e-8)]
    pub eps: f32,
    /// Learning-rate schedule after warmup.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Constant)]
    pub schedule: ScheduleKind,
    /// Linear warmup over this many optimizer steps.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Step schedule: decay every this many steps (default: a third of the run).
    #[arg(long)]
    pub step_size: Option<u64>,
    /// Step schedule: decay factor.
    #[arg(long, default_value_t = 0.1)]
    pub gamma: f32,
    /// Cosine schedule: final learning rate.
    #[arg(long, default_value_t = 0.0)]
    pub min_lr: f32,
    /// Clip gradients to this global L2 norm (as torch.nn.utils.clip_grad_norm_).
    #[arg(long)]
    pub clip: Option<f32>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Passes over the training split (default 20).
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<u64>,
    /// Train for this many optimizer steps instead of whole epochs.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Reshuffle the training split every epoch.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub shuffle: bool,
    /// Standardise each input column over the training split (`false`:
    /// feed raw values, e.g. pixel levels already on one scale; the model
    /// then has no standardisation for a device to compute).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub standardize: bool,
    /// Seed of the split, the initialisation and the shuffling.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f64,
    /// Start from this model's weights and preprocessing instead of a fresh initialisation.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Where to write the model.
    #[arg(long, default_value = "model.json")]
    pub out: PathBuf,
    /// Write the training and validation curves as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress bar and no report.
    #[arg(long)]
    pub quiet: bool,
}

/// The network's hidden widths from `--layers`, checked against the data.
pub fn hidden_from_layers(
    layers: &[usize],
    inputs: usize,
    outputs: usize,
    loss: Loss,
) -> anyhow::Result<Vec<usize>> {
    if layers.is_empty() {
        return Ok(vec![32]);
    }
    if layers.len() < 2 {
        bail!("--layers lists the widths from input to output, e.g. {inputs},32,{outputs}: give at least two");
    }
    if layers[0] != inputs {
        bail!(
            "--layers starts with {}, but the data has {inputs} input columns (try --layers {inputs},…,{outputs})",
            layers[0]
        );
    }
    let last = layers[layers.len() - 1];
    if last != outputs {
        bail!(
            "--layers ends with {last}, but --loss {} on this data needs {outputs} outputs",
            loss.name()
        );
    }
    Ok(layers[1..layers.len() - 1].to_vec())
}

/// Trains as the arguments say and writes the model (and plot).
pub fn run(a: Args) -> anyhow::Result<()> {
    let table = Table::read(&a.data, a.header)?;
    let data = prepare(&table, a.target.as_deref(), a.loss, a.val_split, a.seed)?;
    let outputs = data.outputs(a.loss);
    let activation = parse_activation(&a.activation, a.alpha).context("--activation")?;
    let init = match &a.init {
        Some(p) => Some(Model::load(p)?),
        None => None,
    };
    let hidden = if init.is_some() {
        if !a.layers.is_empty() || a.arch.is_some() {
            bail!("--layers/--arch and --init both give the network's shape; use one");
        }
        Vec::new()
    } else {
        hidden_from_layers(&a.layers, data.inputs, outputs, a.loss)?
    };
    let arch = match &a.arch {
        Some(p) => Some(Arch::load(p)?),
        None => None,
    };
    let cfg = TrainConfig {
        hidden,
        arch,
        activation,
        loss: a.loss,
        optimizer: a.optimizer,
        lr: a.lr,
        momentum: a.momentum,
        dampening: a.dampening,
        nesterov: a.nesterov,
        weight_decay: a.weight_decay,
        beta1: a.beta1,
        beta2: a.beta2,
        eps: a.eps,
        schedule: a.schedule,
        warmup: a.warmup,
        step_size: a.step_size,
        gamma: a.gamma,
        min_lr: a.min_lr,
        clip: a.clip,
        batch: a.batch,
        length: match a.steps {
            Some(s) => Length::Steps(s),
            None => Length::Epochs(a.epochs.unwrap_or(20)),
        },
        shuffle: a.shuffle,
        standardize: a.standardize,
        seed: a.seed,
    };
    let started = Instant::now();
    let mut progress = Progress::new(a.quiet);
    let result = train(&data, &cfg, init, &mut |e| progress.observe(e));
    progress.finish();
    let trained = result?;
    trained.model.save(&a.out)?;
    if let Some(p) = &a.plot {
        let axes = plot_history(p, &trained.history)?;
        if !a.quiet {
            println!("plot: {} ({axes})", p.display());
        }
    }
    if !a.quiet {
        print_report(&trained, &data.task, started.elapsed().as_secs_f64());
        println!("wrote {}", a.out.display());
    }
    Ok(())
}

/// Prints the short end-of-training report.
pub fn print_report(t: &Trained, task: &Task, secs: f64) {
    let m = &t.model;
    println!(
        "model: {} ({} parameters)",
        m.summary(),
        m.parameter_count()
    );
    let epochs = t.history.len();
    let rate = t.history.iter().map(|h| h.samples_per_sec).sum::<f64>() / epochs.max(1) as f64;
    println!(
        "trained: {epochs} epochs, {} steps in {secs:.2} s ({rate:.0} samples/s)",
        t.steps
    );
    if let Some(last) = t.history.last() {
        print!("final: train loss {:.5}", last.train_loss);
        if let Some(l) = last.val_loss {
            print!(", val loss {l:.5}");
        }
        if let (Some(acc), Task::Classification { .. }) = (last.val_accuracy, task) {
            print!(", val accuracy {:.2}%", acc * 100.0);
        }
        println!();
    }
}
