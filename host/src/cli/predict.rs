//! `axon predict`: every model output for every row, f32 printed so it
//! reads back bit-identical.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::data::{Header, Table};
use crate::model::{write_atomic, Model, Runner, Task};

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

/// The output column names: `p_LABEL` per class, the target's name for a
/// single output, else `y0`, `y1`, ….
pub fn output_names(model: &Model) -> Vec<String> {
    let k = model.outputs();
    match model.meta.task {
        Task::Classification { .. } if model.meta.labels.len() == k => {
            model.meta.labels.iter().map(|l| format!("p_{l}")).collect()
        }
        _ if k == 1 && !model.meta.target.is_empty() => vec![model.meta.target.clone()],
        _ => (0..k).map(|i| format!("y{i}")).collect(),
    }
}

/// Predicts and writes: each output as its f32 value (printed so it reads
/// back bit-identical), and for an int8 model first its int8 code
/// (`q_NAME`), all through the core's interpreter.
pub fn run(a: Args) -> anyhow::Result<()> {
    let model = Model::load(&a.model)?;
    let table = Table::read(&a.data, a.header)?;
    let target = match &a.target {
        Some(t) => Some(table.resolve_column(Some(t))?),
        None => None,
    };
    let cols = model.input_columns(&table, target)?;
    let x = table.numbers(&cols)?;
    let names = output_names(&model);
    let run = Runner::new(&model)?;
    let int8 = model.is_int8();
    let mut header: Vec<String> = if int8 {
        names.iter().map(|n| format!("q_{n}")).collect()
    } else {
        Vec::new()
    };
    header.extend(names.iter().cloned());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    let mut record = Vec::with_capacity(header.len());
    run.for_each_row(&x, |_, y, codes| {
        record.clear();
        if let (true, Some(c)) = (int8, codes) {
            record.extend(c.iter().map(|c| c.to_string()));
        }
        for v in y {
            let mut cell = String::new();
            let _ = write!(cell, "{v:?}");
            record.push(cell);
        }
        w.write_record(&record)?;
        Ok(())
    })?;
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
