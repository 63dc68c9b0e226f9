//! `axon eval`: loss, accuracy and confusion matrix on labelled data.

use std::path::PathBuf;

use crate::data::{Header, Table};
use crate::model::{Model, Task};
use crate::train::{evaluate, Metrics};

/// Arguments of `axon eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled CSV file, or `bundled:NAME`.
    #[arg(long)]
    pub data: String,
    /// Target column (default: the model's target name if the file has that header, else the last column).
    #[arg(long)]
    pub target: Option<String>,
    /// Whether the first row is a header.
    #[arg(long, value_enum, default_value_t = Header::Auto)]
    pub header: Header,
}

/// Reads inputs and targets of a labelled table for `model`.
pub fn labelled(
    model: &Model,
    table: &Table,
    target: Option<&str>,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let by_name = table
        .header
        .as_ref()
        .is_some_and(|h| h.contains(&model.target_name));
    let spec = target.or(by_name.then_some(model.target_name.as_str()));
    let tc = table.resolve_column(spec)?;
    let cols = super::predict::feature_columns(model, table, Some(tc))?;
    let x = table.numbers(&cols)?;
    let y = match model.task {
        Task::Classification { classes } => {
            let labels: Vec<String> = if model.class_labels.is_empty() {
                (0..classes).map(|k| k.to_string()).collect()
            } else {
                model.class_labels.clone()
            };
            table
                .classes(tc, Some(&labels))?
                .index
                .iter()
                .map(|&k| k as f32)
                .collect()
        }
        Task::Regression => table.numbers(&[tc])?,
    };
    Ok((x, y))
}

/// Evaluates and prints.
pub fn run(a: Args) -> anyhow::Result<()> {
    if crate::quantize::is_int8_model_file(&a.model)? {
        return super::quantize::eval_int8(a);
    }
    let model = Model::load(&a.model)?;
    let table = Table::read(&a.data, a.header)?;
    let (x, y) = labelled(&model, &table, a.target.as_deref())?;
    let m = evaluate(&model, &x, &y);
    print_metrics(&model, &m);
    Ok(())
}

/// Prints metrics and, for classification, the confusion matrix.
pub fn print_metrics(model: &Model, m: &Metrics) {
    println!("samples: {}", m.samples);
    println!(
        "loss ({}): {:.6}",
        crate::train::metrics::loss_of(model).name(),
        m.loss
    );
    if let Some(acc) = m.accuracy {
        println!("accuracy: {:.2}%", acc * 100.0);
        let labels: Vec<String> = if model.class_labels.is_empty() {
            (0..m.confusion.len()).map(|k| k.to_string()).collect()
        } else {
            model.class_labels.clone()
        };
        let w = labels
            .iter()
            .map(String::len)
            .chain(m.confusion.iter().flatten().map(|c| c.to_string().len()))
            .max()
            .unwrap_or(1)
            .max(4);
        println!("confusion matrix (rows: true class, columns: predicted):");
        print!("{:>w$}", "");
        for l in &labels {
            print!(" {l:>w$}");
        }
        println!();
        for (l, row) in labels.iter().zip(&m.confusion) {
            print!("{l:>w$}");
            for c in row {
                print!(" {c:>w$}");
            }
            println!();
        }
    }
}
