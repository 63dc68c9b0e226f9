//! `axon dataset`: writes the generated sine set or a bundled set as CSV.
//!
//! `data/sine.csv` is made by `axon dataset sine --rows 1000 --seed 1 --out data/sine.csv`.

use std::path::PathBuf;

use crate::data::{bundled, sine};
use crate::model::write_atomic;

/// Arguments of `axon dataset`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `sine` (generated: y = sin x, x uniform on [0, 2π)), `iris` or `digits` (bundled).
    pub name: String,
    /// Rows to generate (sine only).
    #[arg(long, default_value_t = 1000)]
    pub rows: usize,
    /// Seed of the generator (sine only).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Writes the set.
pub fn run(a: Args) -> anyhow::Result<()> {
    let text = match a.name.as_str() {
        "sine" => sine(a.rows, a.seed).to_csv_string()?,
        name => bundled(name)
            .ok_or_else(|| {
                anyhow::anyhow!("unknown data set '{name}' (expected sine, iris or digits)")
            })?
            .to_owned(),
    };
    match a.out {
        Some(p) => write_atomic(&p, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
