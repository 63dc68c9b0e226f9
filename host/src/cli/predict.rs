//! `axon predict`: every model output for every row, f32 printed so it
//! reads back bit-identical.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::bail;

use crate::data::{Header, Table};
use crate::model::{write_atomic, Model, Task};

/// Arguments of `axon predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV file as for training (the target column, if present, is ignored) or features only.
    #[arg(long)]
    pub data: String,
    /// The target column to ignore, by header name or number from 1 (default:
    /// found by the model's column names, else the last of one extra column).
    #[arg(long)]
    pub target: Option<String>,
    /// Whether the first row is a header.
    #[arg(long, value_enum, default_value_t = Header::Auto)]
    pub header: Header,
    /// Output CSV (default: standard output). Written atomically.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The model's input columns in `table`: by header name when the header
/// has every feature name, else all columns except `target` (given, or the
/// model's target name, or the last column when there is one extra).
pub fn feature_columns(
    model: &Model,
    table: &Table,
    target: Option<usize>,
) -> anyhow::Result<Vec<usize>> {
    if let Some(h) = &table.header {
        if !model.feature_names.is_empty() {
            let pos: Option<Vec<usize>> = model
                .feature_names
                .iter()
                .map(|f| h.iter().position(|c| c == f))
                .collect();
            if let Some(p) = pos {
                return Ok(p);
            }
        }
    }
    let n = table.ncols();
    if n == model.inputs && target.is_none() {
        return Ok((0..n).collect());
    }
    if n == model.inputs + 1 {
        let tc = match target {
            Some(t) => t,
            None => table
                .header
                .as_ref()
                .and_then(|h| h.iter().position(|c| *c == model.target_name))
                .unwrap_or(n - 1),
        };
        return Ok((0..n).filter(|&c| c != tc).collect());
    }
    bail!(
        "{}: has {n} columns, but the model takes {} inputs (give the {} features, optionally with the target column)",
        table.source,
        model.inputs,
        model.inputs
    )
}

/// Predicts and writes.
pub fn run(a: Args) -> anyhow::Result<()> {
    if crate::quantize::is_int8_model_file(&a.model)? {
        return super::quantize::predict_int8(a);
    }
    let model = Model::load(&a.model)?;
    let table = Table::read(&a.data, a.header)?;
    let target = match &a.target {
        Some(t) => Some(table.resolve_column(Some(t))?),
        None => None,
    };
    let cols = feature_columns(&model, &table, target)?;
    let x = table.numbers(&cols)?;
    let k = model.outputs();
    let names: Vec<String> = match model.task {
        Task::Classification { .. } if model.class_labels.len() == k => model
            .class_labels
            .iter()
            .map(|l| format!("p_{l}"))
            .collect(),
        _ if k == 1 && !model.target_name.is_empty() => vec![model.target_name.clone()],
        _ => (0..k).map(|i| format!("y{i}")).collect(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&names)?;
    let mut cell = String::new();
    let mut row = Vec::with_capacity(k);
    for raw in x.chunks_exact(model.inputs) {
        row.clear();
        for v in model.forward(raw) {
            cell.clear();
            let _ = write!(cell, "{v:?}");
            row.push(cell.clone());
        }
        w.write_record(&row)?;
    }
    let bytes = w.into_inner()?;
    match a.out {
        Some(p) => write_atomic(&p, &bytes),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
            Ok(())
        }
    }
}
