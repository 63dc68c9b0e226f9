//! `axon quantize`: post-training int8 quantization of an f32 model, with a
//! report of what it cost.

use std::path::PathBuf;

use anyhow::{bail, Context};

use axon_core::quant::Rounding;

use crate::model::Model;
use crate::quantize::{compare, load_rows, quantize, Calibration, Comparison, QuantizeOptions};

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
    #[arg(long, default_value = "double", value_parser = parse_rounding)]
    pub rounding: Rounding,
    /// Where to write the int8 model (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `--rounding`.
fn parse_rounding(s: &str) -> Result<Rounding, String> {
    Rounding::from_name(s)
        .ok_or_else(|| format!("unknown rounding \"{s}\" (expected double or single)"))
}

/// Evenly spaced rows `0, n/k, 2n/k, …` of a row-major matrix: every part of
/// a sorted file is represented, and the choice is deterministic.
pub fn spaced_rows(x: &[f32], d: usize, k: usize) -> Vec<f32> {
    let n = x.len() / d.max(1);
    if k >= n {
        return x.to_vec();
    }
    let mut out = Vec::with_capacity(k * d);
    for i in 0..k {
        let r = i * n / k;
        out.extend_from_slice(&x[r * d..(r + 1) * d]);
    }
    out
}

/// The report lines for a comparison.
pub fn report_lines(c: &Comparison) -> Vec<String> {
    let mut lines = Vec::new();
    if let (Some(f), Some(q)) = (c.f32_accuracy, c.int8_accuracy) {
        lines.push(format!(
            "accuracy  f32 {:.2}%  int8 {:.2}%  (Δ {:+.2} points, {} samples)",
            f * 100.0,
            q * 100.0,
            (q - f) * 100.0,
            c.samples
        ));
    }
    if let Some(a) = c.agreement {
        lines.push(format!(
            "agreement int8 and f32 pick the same class on {:.2}% of samples",
            a * 100.0
        ));
    }
    lines.push(format!(
        "outputs   |f32 − int8| max {:.5}, mean {:.5}",
        c.max_abs_error, c.mean_abs_error
    ));
    lines
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
        model.inputs,
        &model.feature_names,
        &model.target_name,
        &model.class_labels,
        model.task,
    )?;
    let calib = match a.samples {
        Some(0) => bail!("--samples must be at least 1"),
        Some(k) => spaced_rows(&rows.x, model.inputs, k),
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
        calib.len() / model.inputs.max(1),
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
            model.inputs,
            &model.feature_names,
            &model.target_name,
            &model.class_labels,
            model.task,
        )?,
        None => rows,
    };
    let c = compare(&model, &q, &eval.x, eval.classes.as_deref())?;
    for line in report_lines(&c) {
        println!("  {line}");
    }
    Ok(())
}

/// `axon demo`'s quantize step: calibrate on the training rows, write
/// `model.int8.json`, and report int8 validation accuracy and agreement.
pub fn demo_step(d: &mut super::demo::Demo) -> anyhow::Result<()> {
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
        d.train_x.len() / model.inputs.max(1),
        path.display()
    ));
    for line in report_lines(&c) {
        d.report.push(format!("          {line}"));
    }
    Ok(())
}

/// `axon predict` on an int8 model: each float input row is standardised
/// and quantized with the model's input parameters and run through the
/// core; each output is written as its int8 code (`q_NAME`) and its
/// dequantized value (`NAME`, printed so it reads back bit-identical).
pub fn predict_int8(a: super::predict::Args) -> anyhow::Result<()> {
    use std::fmt::Write as _;

    let m = crate::quantize::Int8Model::load(&a.model)?;
    let table = crate::data::Table::read(&a.data, a.header)?;
    let rows = crate::quantize::rows_from_table(
        &table,
        m.inputs,
        &m.feature_names,
        &m.target_name,
        &m.class_labels,
        // Targets are not needed to predict: read the inputs only.
        crate::model::Task::Regression,
    )?;
    let layers = m.core_layers();
    let mut runner = crate::quantize::Int8Runner::new(m.core_model(&layers))?;
    let k = m.outputs();
    let names: Vec<String> = match m.task {
        crate::model::Task::Classification { .. } if m.class_labels.len() == k => {
            m.class_labels.iter().map(|l| format!("p_{l}")).collect()
        }
        _ if k == 1 && !m.target_name.is_empty() => vec![m.target_name.clone()],
        _ => (0..k).map(|i| format!("y{i}")).collect(),
    };
    let mut header: Vec<String> = names.iter().map(|n| format!("q_{n}")).collect();
    header.extend(names.iter().cloned());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    let mut record = Vec::with_capacity(2 * k);
    for raw in rows.x.chunks_exact(m.inputs.max(1)) {
        let (codes, values) = runner.run(raw)?;
        record.clear();
        record.extend(codes.iter().map(|c| c.to_string()));
        for v in values {
            let mut cell = String::new();
            let _ = write!(cell, "{v:?}");
            record.push(cell);
        }
        w.write_record(&record)?;
    }
    let bytes = w.into_inner()?;
    match a.out {
        Some(p) => crate::model::write_atomic(&p, &bytes),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
            Ok(())
        }
    }
}

/// `axon eval` on an int8 model: accuracy and confusion matrix of the int8
/// decisions (classification), or the error of the dequantized outputs
/// (regression), computed by the same core code the MCU runs.
pub fn eval_int8(a: super::eval::Args) -> anyhow::Result<()> {
    let m = crate::quantize::Int8Model::load(&a.model)?;
    let table = crate::data::Table::read(&a.data, a.header)?;
    let mut rows = crate::quantize::rows_from_table(
        &table,
        m.inputs,
        &m.feature_names,
        a.target.as_deref().unwrap_or(&m.target_name),
        &m.class_labels,
        m.task,
    )?;
    let layers = m.core_layers();
    let mut runner = crate::quantize::Int8Runner::new(m.core_model(&layers))?;
    let d = m.inputs.max(1);
    println!("samples: {}", rows.n);
    match m.task {
        crate::model::Task::Classification { classes } => {
            let truth = rows
                .classes
                .take()
                .context("the data has no target column: `axon eval` needs labelled rows")?;
            let mut confusion = vec![vec![0usize; classes]; classes];
            let mut correct = 0usize;
            for (raw, &t) in rows.x.chunks_exact(d).zip(&truth) {
                let p = runner.classify(raw)?;
                correct += usize::from(p == t);
                if let Some(cell) = confusion.get_mut(t).and_then(|r| r.get_mut(p)) {
                    *cell += 1;
                }
            }
            println!(
                "accuracy (int8): {:.2}%",
                100.0 * correct as f64 / rows.n.max(1) as f64
            );
            let labels: Vec<String> = if m.class_labels.len() == classes {
                m.class_labels.clone()
            } else {
                (0..classes).map(|k| k.to_string()).collect()
            };
            let w = labels
                .iter()
                .map(String::len)
                .chain([4, rows.n.to_string().len()])
                .max()
                .unwrap_or(4);
            println!("confusion matrix (rows: true class, columns: predicted):");
            print!("{:>w$}", "");
            for l in &labels {
                print!(" {l:>w$}");
            }
            println!();
            for (l, row) in labels.iter().zip(&confusion) {
                print!("{l:>w$}");
                for c in row {
                    print!(" {c:>w$}");
                }
                println!();
            }
        }
        crate::model::Task::Regression => {
            let truth = rows
                .values
                .take()
                .context("the data has no target column: `axon eval` needs labelled rows")?;
            let k = m.outputs().max(1);
            let (mut se, mut ae, mut count) = (0.0f64, 0.0f64, 0usize);
            for (raw, t) in rows.x.chunks_exact(d).zip(truth.chunks(k)) {
                let (_, y) = runner.run(raw)?;
                for (p, q) in y.iter().zip(t) {
                    let e = (*p as f64) - (*q as f64);
                    se += e * e;
                    ae += e.abs();
                    count += 1;
                }
            }
            let n = count.max(1) as f64;
            println!("mse (int8, dequantized): {:.6}", se / n);
            println!("mae (int8, dequantized): {:.6}", ae / n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser as _;

    fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
        let base = ["axon", "quantize", "--model", "m.json", "--calib", "c.csv"];
        let cli = Cli::try_parse_from(base.iter().chain(extra).chain(&["--out", "o.json"]))?;
        match cli.command {
            Command::Quantize(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn rounding_defaults_to_double_and_parses_single() {
        assert_eq!(parse(&[]).unwrap().rounding, Rounding::Double);
        assert_eq!(
            parse(&["--rounding", "single"]).unwrap().rounding,
            Rounding::Single
        );
        assert_eq!(
            parse(&["--rounding", "double"]).unwrap().rounding,
            Rounding::Double
        );
        let e = parse(&["--rounding", "half"]).unwrap_err().to_string();
        assert!(e.contains("unknown rounding \"half\""), "{e}");
    }
}
