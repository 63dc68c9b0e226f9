//! `axon demo`: the main job on the bundled digits set.
//!
//! The demo is a sequence of steps over one shared [`Demo`] state ([`STEPS`]:
//! train, evaluate, quantize, export); each step adds lines to the report
//! and reads what earlier steps left in [`Demo`] (the f32 model, its file,
//! the validation rows). The last step of the main job, running the blob
//! on the Cortex-M4F in QEMU, is `cargo xtask verify` (`scripts/demo.sh`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};

use super::progress::Progress;
use crate::data::{Header, Table};
use crate::export::{write_blob, write_rust, AlignedBytes};
use crate::model::{write_atomic, Model, Runner};
use crate::quantize::{compare, quantize, QuantizeOptions};
use crate::train::{
    evaluate, prepare, train, Length, Loss, OptimizerKind, ScheduleKind, TrainConfig,
};

/// Arguments of `axon demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Directory for everything the demo writes.
    #[arg(long, default_value = "out/demo")]
    pub out_dir: PathBuf,
    /// Seed of the split, the initialisation and the shuffling.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What the steps share.
#[derive(Debug)]
pub struct Demo {
    /// The arguments.
    pub args: Args,
    /// The trained f32 model (after `train`).
    pub model: Option<Model>,
    /// Where the f32 model was written (after `train`).
    pub model_path: PathBuf,
    /// Validation inputs, raw, `(rows, 64)` row-major (after `train`).
    pub val_x: Vec<f32>,
    /// Validation targets (class indices).
    pub val_y: Vec<f32>,
    /// Training inputs, raw (for calibration), `(rows, 64)` row-major.
    pub train_x: Vec<f32>,
    /// f32 validation accuracy (after `evaluate`).
    pub f32_accuracy: Option<f64>,
    /// Report lines, printed at the end.
    pub report: Vec<String>,
}

/// One demo step.
pub type Step = fn(&mut Demo) -> anyhow::Result<()>;

/// The steps, in order, with their names.
pub const STEPS: &[(&str, Step)] = &[
    ("train", train_step),
    ("evaluate", evaluate_step),
    ("quantize", quantize_step),
    ("export", export_step),
];

/// The demo's training recipe: 64 → 128 → 10, ReLU, softmax cross-entropy,
/// AdamW with warmup and cosine decay.
pub fn recipe(seed: u64) -> TrainConfig {
    TrainConfig {
        hidden: vec![128],
        loss: Loss::Ce,
        optimizer: OptimizerKind::Adamw,
        lr: 3e-3,
        weight_decay: Some(1e-4),
        schedule: ScheduleKind::Cosine,
        warmup: 100,
        batch: 32,
        length: Length::Epochs(60),
        seed,
        ..TrainConfig::default()
    }
}

/// Fraction of digits held out for validation.
pub const VAL_SPLIT: f64 = 0.2;

fn train_step(d: &mut Demo) -> anyhow::Result<()> {
    let table = Table::read("bundled:digits", Header::Auto)?;
    let data = prepare(&table, None, Loss::Ce, VAL_SPLIT, d.args.seed)?;
    let cfg = recipe(d.args.seed);
    let started = Instant::now();
    let mut progress = Progress::new(d.args.quiet);
    let result = train(&data, &cfg, None, &mut |e| progress.observe(e));
    progress.finish();
    let trained = result?;
    let secs = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&d.args.out_dir)
        .with_context(|| format!("cannot create {}", d.args.out_dir.display()))?;
    d.model_path = d.args.out_dir.join("model.json");
    trained.model.save(&d.model_path)?;
    let (vx, vy) = data.rows(&data.val);
    let (tx, _) = data.rows(&data.train);
    d.val_x = vx;
    d.val_y = vy;
    d.train_x = tx;
    d.report.push(format!(
        "train     digits: {} training / {} validation rows; {} ({} parameters)",
        data.train.len(),
        data.val.len(),
        trained.model.summary(),
        trained.model.parameter_count()
    ));
    d.report.push(format!(
        "          {} epochs, {} steps of AdamW (lr 3e-3, warmup 100, cosine) in {secs:.1} s → {}",
        trained.history.len(),
        trained.steps,
        d.model_path.display()
    ));
    d.model = Some(trained.model);
    Ok(())
}

fn evaluate_step(d: &mut Demo) -> anyhow::Result<()> {
    let model = d.model.as_ref().context("the train step did not run")?;
    let m = evaluate(model, &d.val_x, &d.val_y)?;
    let acc = m.accuracy.unwrap_or(0.0);
    d.f32_accuracy = Some(acc);
    d.report.push(format!(
        "evaluate  f32 validation accuracy {:.2}% ({} of {}), loss {:.4}",
        acc * 100.0,
        (acc * m.samples as f64).round() as usize,
        m.samples,
        m.loss.unwrap_or(f64::NAN)
    ));
    Ok(())
}

/// Runs every step, then prints the report.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut d = Demo {
        args,
        model: None,
        model_path: PathBuf::new(),
        val_x: Vec::new(),
        val_y: Vec::new(),
        train_x: Vec::new(),
        f32_accuracy: None,
        report: Vec::new(),
    };
    for (name, step) in STEPS {
        step(&mut d).with_context(|| format!("demo step '{name}'"))?;
    }
    println!(
        "axon demo: handwritten digits (8×8), {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for line in &d.report {
        println!("  {line}");
    }
    Ok(())
}

/// `axon demo`'s quantize step: calibrate on the training rows, write
/// `model.int8.json`, and report int8 validation accuracy and agreement.
fn quantize_step(d: &mut Demo) -> anyhow::Result<()> {
    let model = d.model.as_ref().context("the train step did not run")?;
    let q = quantize(
        model,
        &d.train_x,
        "bundled:digits (training split)",
        &QuantizeOptions::default(),
    )?;
    let path = d.args.out_dir.join("model.int8.json");
    q.save(&path)?;
    let classes: Vec<usize> = d.val_y.iter().map(|&c| c as usize).collect();
    let c = compare(model, &q, &d.val_x, Some(&classes))?;
    d.report.push(format!(
        "quantize  int8 (per-channel weights, min/max over {} training rows) → {}",
        d.train_x.len() / model.inputs().max(1),
        path.display()
    ));
    for line in c.report_lines() {
        d.report.push(format!("          {line}"));
    }
    Ok(())
}

/// `axon demo`'s export step: the quantize step's model as `model.axon`
/// and `model.rs`, checked to run bit-identically to the int8 JSON on the
/// validation rows.
fn export_step(d: &mut Demo) -> anyhow::Result<()> {
    let json = d.args.out_dir.join("model.int8.json");
    let m = Model::load(&json).context("the quantize step did not run")?;
    let blob = write_blob(&m, "model")?;
    let blob_path = d.args.out_dir.join("model.axon");
    write_atomic(&blob_path, &blob)?;
    let rust_path = d.args.out_dir.join("model.rs");
    let r = write_rust(&m, &json.display().to_string())?;
    write_atomic(&rust_path, r.source.as_bytes())?;
    let aligned = AlignedBytes::new(&blob);
    let from_blob = axon_core::blob::parse(aligned.as_bytes())
        .map_err(|e| anyhow::anyhow!("internal error: the written blob does not parse: {e}"))?;
    let run = Runner::new(&m)?;
    let from_json = run.interpreter()?;
    let k = m.outputs();
    let (mut ya, mut yb) = (vec![0f32; k], vec![0f32; k]);
    let mut arena = run.arena();
    let rows = d.val_x.len() / m.inputs().max(1);
    for row in d.val_x.chunks_exact(m.inputs().max(1)) {
        from_json
            .run_f32(row, &mut ya, arena.bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        from_blob
            .run_f32(row, &mut yb, arena.bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if ya.iter().zip(&yb).any(|(p, q)| p.to_bits() != q.to_bits()) {
            bail!("internal error: the blob and the int8 JSON disagree");
        }
    }
    d.report.push(format!(
        "export    blob {} bytes → {}; Rust source → {}",
        blob.len(),
        blob_path.display(),
        rust_path.display()
    ));
    d.report.push(format!(
        "          blob = int8 JSON bit for bit on {rows} validation rows; {} bytes of arena per inference ({} for forward())",
        run.arena_len, r.arena_len
    ));
    Ok(())
}
