//! `axon quantize`: post-training int8 quantization of an f32 model, with a
//! report of what it cost.

use std::path::PathBuf;

use anyhow::{bail, Context};

use axon_core::quant::Rounding;

use crate::model::Model;
use crate::quantize::{compare, load_rows, quantize, spaced_rows, Calibration, QuantizeOptions};

/// Arguments of `axon quantize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The f32 model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Calibration data: a CSV file (or `bundled:NAME`) with the model's
    /// input columns, and optionally its target column for the accuracy
    /// report.
    #[arg(long)]
    pub calib: String,
    /// Use at most this many calibration rows, evenly spaced over the file.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Calibrate ranges at this percentile (e.g. 99.99) instead of min/max.
    #[arg(long)]
    pub percentile: Option<f64>,
    /// One weight scale per layer instead of one per output channel.
    #[arg(long)]
    pub per_tensor: bool,
    /// Report accuracy on this labelled CSV instead of the calibration data.
    #[arg(long)]
    pub eval: Option<String>,
    /// Requantization rounding: `double` (gemmlowp, as TensorFlow Lite for
    /// Microcontrollers and CMSIS-NN) or `single` (as the TensorFlow Lite
    /// interpreter and LiteRT).
    #[arg(long, default_value = "double", value_parser = crate::ops::parse_rounding)]
    pub rounding: Rounding,
    /// Where to write the int8 model (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// Quantizes, writes, reports.
pub fn run(a: Args) -> anyhow::Result<()> {
    let model = Model::load(&a.model)?;
    let calibration = match a.percentile {
        Some(p) => Calibration::Percentile(p),
        None => Calibration::MinMax,
    };
    let rows = load_rows(
        &a.calib,
        model.inputs(),
        &model.meta.features,
        &model.meta.target,
        &model.meta.labels,
        model.meta.task,
    )?;
    let calib = match a.samples {
        Some(0) => bail!("--samples must be at least 1"),
        Some(k) => spaced_rows(&rows.x, model.inputs(), k),
        None => rows.x.clone(),
    };
    let opts = QuantizeOptions {
        calibration,
        per_channel: !a.per_tensor,
        rounding: a.rounding,
    };
    let q = quantize(&model, &calib, &a.calib, &opts)
        .with_context(|| format!("cannot quantize {}", a.model.display()))?;
    q.save(&a.out)?;
    println!(
        "quantized {} → {} ({} calibration samples, {}{}, {} weights)",
        a.model.display(),
        a.out.display(),
        calib.len() / model.inputs().max(1),
        calibration.name(),
        a.percentile.map(|p| format!(" {p}")).unwrap_or_default(),
        if a.per_tensor {
            "per-tensor"
        } else {
            "per-channel"
        }
    );
    let eval = match &a.eval {
        Some(spec) => load_rows(
            spec,
            model.inputs(),
            &model.meta.features,
            &model.meta.target,
            &model.meta.labels,
            model.meta.task,
        )?,
        None => rows,
    };
    let c = compare(&model, &q, &eval.x, eval.classes.as_deref())?;
    for line in c.report_lines() {
        println!("  {line}");
    }
    Ok(())
}
