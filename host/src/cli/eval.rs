//! `axon eval`: loss, accuracy and confusion matrix on labelled data.

use std::path::PathBuf;

use crate::data::{Header, Table};
use crate::model::Model;
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

/// Evaluates and prints.
pub fn run(a: Args) -> anyhow::Result<()> {
    let model = Model::load(&a.model)?;
    let table = Table::read(&a.data, a.header)?;
    let (x, y) = model.labelled(&table, a.target.as_deref())?;
    let m = evaluate(&model, &x, &y)?;
    print_metrics(&model, &m);
    Ok(())
}

/// Prints metrics and, for classification, the confusion matrix.
pub fn print_metrics(model: &Model, m: &Metrics) {
    println!("samples: {}", m.samples);
    println!("model: {} ({})", model.summary(), model.kind());
    if let Some(loss) = m.loss {
        println!(
            "loss ({}): {loss:.6}",
            crate::train::metrics::loss_of(model).name()
        );
    }
    if let Some(mae) = m.mae {
        println!("mean absolute error: {mae:.6}");
    }
    if let Some(acc) = m.accuracy {
        println!("accuracy: {:.2}%", acc * 100.0);
        let labels: Vec<String> = if model.meta.labels.is_empty() {
            (0..m.confusion.len()).map(|k| k.to_string()).collect()
        } else {
            model.meta.labels.clone()
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
