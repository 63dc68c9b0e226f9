//! `axon lm`: the character-level transformer language model (issue 12,
//! `docs/lm.md`): `axon lm train`, `axon lm eval`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::lm::corpus::{read_text, Corpus};
use crate::lm::file::{read_model, LmFile};
use crate::lm::train::{available_threads, Options, Point, Trainer, Training};
use crate::lm::LmConfig;
use crate::train::EpochStats;

/// Arguments of `axon lm`.
#[derive(Debug, clap::Args)]
pub struct LmArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LmCommand,
}

/// The `axon lm` subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum LmCommand {
    /// Train an f32 model on a text (multi-core, deterministic for a seed).
    Train(TrainArgs),
    /// Loss in nats per character of a model over a split of a text.
    Eval(EvalArgs),
}

/// Runs `axon lm …`.
pub fn run(a: LmArgs) -> Result<()> {
    match a.command {
        LmCommand::Train(a) => train(a),
        LmCommand::Eval(a) => eval(a),
    }
}

/// Arguments of `axon lm train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The text: a UTF-8 file, or `bundled:tinyshakespeare`.
    #[arg(long, default_value = "bundled:tinyshakespeare")]
    pub text: String,
    /// Where to write the f32 model (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Optimizer steps (0: write the initial weights and stop).
    #[arg(long, default_value_t = 2000)]
    pub steps: u64,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f32,
    /// AdamW weight decay (matrices and embeddings only).
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f32,
    /// AdamW β₁.
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f32,
    /// AdamW β₂.
    #[arg(long, default_value_t = 0.99)]
    pub beta2: f32,
    /// AdamW ε.
    #[arg(long, default_value_t = 1e-8)]
    pub eps: f32,
    /// Linear warmup steps.
    #[arg(long, default_value_t = 100)]
    pub warmup: u64,
    /// The cosine's floor (default: lr/10).
    #[arg(long)]
    pub min_lr: Option<f32>,
    /// Clip the global gradient norm (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f32,
    /// Seed of the initialisation and the batches.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Threads (default: all cores). The weights do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Sequences per chunk, the unit of work of one thread (the weights
    /// depend on it, not on --threads).
    #[arg(long, default_value_t = 4)]
    pub chunk: usize,
    /// Width of the residual stream.
    #[arg(long, default_value_t = 64)]
    pub d_model: usize,
    /// Transformer blocks.
    #[arg(long, default_value_t = 4)]
    pub n_layer: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    pub n_head: usize,
    /// Context length.
    #[arg(long, default_value_t = 128)]
    pub ctx: usize,
    /// Feed-forward width (default: 4·d_model).
    #[arg(long)]
    pub d_ff: Option<usize>,
    /// Tie the output projection to the token embedding.
    #[arg(long)]
    pub tied: bool,
    /// Evaluate every this many steps (0: only at the end).
    #[arg(long, default_value_t = 250)]
    pub eval_every: u64,
    /// Validation windows per periodic evaluation, at fixed random starts
    /// (0: the whole validation split). The final figure is always the
    /// whole split.
    #[arg(long, default_value_t = 0)]
    pub eval_windows: usize,
    /// Write a checkpoint (model, AdamW state, sampler, step) here.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: u64,
    /// Continue the run of this checkpoint (its model and options; the
    /// model flags above are ignored; --steps, when given, replaces the total).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Draw the loss curves into this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write one JSON line per step: the window starts, the loss, the
    /// gradient norm before clipping and the learning rate.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Stop after this many seconds of training even if the steps are not
    /// done (the schedule still runs over --steps).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Training-loss points per evaluation period.
const POINTS_EVERY: u64 = 25;

fn train(a: TrainArgs) -> Result<()> {
    let threads = a.threads.unwrap_or_else(available_threads).max(1);
    let text = read_text(&a.text)?;
    let steps_given = std::env::args().any(|s| s == "--steps" || s.starts_with("--steps="));
    let (mut t, corpus) = match &a.resume {
        Some(path) => {
            let f = LmFile::read(path)?;
            let (mut t, vocab) = Trainer::resume(&f, threads)
                .with_context(|| format!("resuming from {}", path.display()))?;
            if steps_given {
                t.opts.steps = a.steps;
            }
            let corpus = Corpus::new(&text, Some(vocab))
                .with_context(|| format!("the text {} with the checkpoint's vocabulary", a.text))?;
            (t, corpus)
        }
        None => {
            let corpus = Corpus::new(&text, None)?;
            let cfg = LmConfig {
                vocab: corpus.vocab.len(),
                d_model: a.d_model,
                n_layer: a.n_layer,
                n_head: a.n_head,
                ctx: a.ctx,
                d_ff: a.d_ff.unwrap_or(4 * a.d_model),
                tied: a.tied,
            };
            let opts = Options {
                steps: a.steps,
                batch: a.batch,
                lr: a.lr,
                weight_decay: a.weight_decay,
                beta1: a.beta1,
                beta2: a.beta2,
                eps: a.eps,
                warmup: a.warmup,
                min_lr: a.min_lr.unwrap_or(a.lr / 10.0),
                clip: a.clip,
                seed: a.seed,
                eval_every: a.eval_every,
                eval_windows: a.eval_windows,
                chunk: a.chunk,
            };
            (Trainer::new(cfg, opts, threads)?, corpus)
        }
    };
    let cfg = t.params.cfg;
    if corpus.train.len() < cfg.ctx + 2 || corpus.val.len() < 2 {
        bail!(
            "the text {} is too short: {} training tokens for windows of ctx + 1 = {}",
            a.text,
            corpus.train.len(),
            cfg.ctx + 1
        );
    }
    let mut trace = match &a.trace {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    if !a.quiet {
        eprintln!(
            "model: {} parameters (V {}, D {}, L {}, H {}, T {}, F {}{}); {} training, {} validation tokens; {threads} threads",
            cfg.param_count(),
            cfg.vocab,
            cfg.d_model,
            cfg.n_layer,
            cfg.n_head,
            cfg.ctx,
            cfg.d_ff,
            if cfg.tied { ", tied" } else { "" },
            corpus.train.len(),
            corpus.val.len()
        );
    }
    let total = t.opts.steps;
    let bar = (!a.quiet).then(|| {
        let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(5));
        b.set_style(
            ProgressStyle::with_template("[{bar:30}] step {pos}/{len} {msg} ({elapsed})")
                .expect("static template")
                .progress_chars("=> "),
        );
        b.set_position(t.step);
        b
    });
    let tokens_per_step = (t.opts.batch * cfg.ctx) as f64;
    let (mut train_secs, mut steps_run) = (0.0f64, 0u64);
    let started = Instant::now();
    let mut last_val: Option<f64> = None;
    let mut stopped_early = false;
    let mut lr = 0.0;
    let training_record =
        |t: &Trainer, val: Option<f64>, secs: f64, run: u64, early: bool| Training {
            options: t.opts.clone(),
            steps_done: t.step,
            history: t.history.clone(),
            val_loss: val,
            seconds: secs,
            tokens_per_sec: if secs > 0.0 {
                run as f64 * tokens_per_step / secs
            } else {
                0.0
            },
            threads,
            stopped_early: early,
        };
    while t.step < total {
        if let Some(limit) = a.time_limit {
            if started.elapsed().as_secs_f64() >= limit {
                stopped_early = true;
                break;
            }
        }
        let t0 = Instant::now();
        let r = t.step(&corpus.train)?;
        train_secs += t0.elapsed().as_secs_f64();
        steps_run += 1;
        lr = r.lr;
        if let Some(w) = trace.as_mut() {
            let line = serde_json::json!({
                "step": r.step, "starts": r.starts, "loss": r.loss,
                "grad_norm": r.grad_norm, "lr": r.lr,
            });
            writeln!(w, "{line}").context("writing the trace")?;
        }
        let eval_now = t.opts.eval_every > 0 && r.step % t.opts.eval_every == 0 && r.step < total;
        if eval_now {
            last_val = Some(t.evaluate(&corpus.val));
        }
        if eval_now || r.step % POINTS_EVERY == 0 {
            t.record(if eval_now { last_val } else { None }, r.lr);
        }
        if let Some(b) = &bar {
            b.set_position(r.step);
            let val = last_val.map_or(String::new(), |v| format!(" val {v:.4}"));
            b.set_message(format!(
                "loss {:.4}{val} lr {:.2e} {:.0} tok/s",
                r.loss,
                r.lr,
                steps_run as f64 * tokens_per_step / train_secs
            ));
        }
        if let Some(ck) = &a.checkpoint {
            if a.checkpoint_every > 0 && r.step % a.checkpoint_every == 0 && r.step < total {
                let rec = training_record(&t, None, train_secs, steps_run, false);
                t.checkpoint(&corpus.vocab, &rec).write(ck)?;
            }
        }
    }
    if let Some(mut w) = trace {
        w.flush().context("writing the trace")?;
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let val = if t.step > 0 || total == 0 {
        let v = t.evaluate_split(&corpus.val);
        if t.history.last().map(|p| p.step) != Some(t.step) {
            t.record(Some(v), lr);
        } else if let Some(p) = t.history.last_mut() {
            p.val_loss = Some(v);
        }
        Some(v)
    } else {
        None
    };
    let rec = training_record(&t, val, train_secs, steps_run, stopped_early);
    LmFile::model(
        &t.params,
        &corpus.vocab,
        Some(serde_json::to_value(&rec).context("the training record")?),
    )
    .write(&a.out)?;
    if let Some(ck) = &a.checkpoint {
        t.checkpoint(&corpus.vocab, &rec).write(ck)?;
    }
    if stopped_early {
        println!("stopped by --time-limit after {} of {total} steps", t.step);
    }
    println!(
        "steps {}  train time {:.1} s  {:.0} tokens/s ({threads} threads)",
        t.step, rec.seconds, rec.tokens_per_sec
    );
    if let Some(v) = val {
        println!(
            "validation loss {v:.4} nats/char over the whole split ({} positions)",
            corpus.val.len() - 1
        );
    }
    println!("wrote {}", a.out.display());
    if let Some(p) = &a.plot {
        let axes = super::plot::plot_history(p, &plot_points(&t.history))?;
        println!(
            "wrote {} ({axes}; one x unit is one history point, every {POINTS_EVERY} steps and at each evaluation)",
            p.display()
        );
    }
    Ok(())
}

/// The history as the plot's points (x: the point's index from 1).
fn plot_points(h: &[Point]) -> Vec<EpochStats> {
    h.iter()
        .enumerate()
        .map(|(i, p)| EpochStats {
            epoch: i as u64 + 1,
            step: p.step,
            train_loss: p.loss,
            val_loss: p.val_loss,
            val_accuracy: None,
            samples_per_sec: 0.0,
        })
        .collect()
}

/// Which part of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// The last 10 %.
    Val,
    /// The first 90 %.
    Train,
}

/// Arguments of `axon lm eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The f32 model (from `axon lm train`).
    #[arg(long)]
    pub model: PathBuf,
    /// The text: a UTF-8 file, or `bundled:tinyshakespeare`.
    #[arg(long, default_value = "bundled:tinyshakespeare")]
    pub text: String,
    /// Which split.
    #[arg(long, value_enum, default_value_t = Split::Val)]
    pub split: Split,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn eval(a: EvalArgs) -> Result<()> {
    let (params, vocab, _) = read_model(&a.model)?;
    let text = read_text(&a.text)?;
    let corpus = Corpus::new(&text, Some(vocab))
        .with_context(|| format!("the text {} with the model's vocabulary", a.text))?;
    let tokens = match a.split {
        Split::Val => &corpus.val,
        Split::Train => &corpus.train,
    };
    if tokens.len() < 2 {
        bail!(
            "the {:?} split of {} has fewer than 2 tokens",
            a.split,
            a.text
        );
    }
    let ctx = params.cfg.ctx;
    let threads = a.threads.unwrap_or_else(available_threads);
    let mut t = Trainer::with_params(params, Options::default(), threads)?;
    let t0 = Instant::now();
    let loss = t.evaluate_split(tokens);
    println!(
        "{} loss {loss:.4} nats/char over {} positions (non-overlapping windows of {ctx}; {:.1} s)",
        match a.split {
            Split::Val => "validation",
            Split::Train => "training",
        },
        tokens.len() - 1,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
