//! `axon convert`: any model file Axon reads (a version-1 JSON model or
//! blob, or a version-2 blob) written as a version-2 JSON model.

use std::path::PathBuf;

use crate::model::Model;

/// Arguments of `axon convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file to read.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the version-2 JSON model.
    #[arg(long)]
    pub out: PathBuf,
}

/// Reads, validates, writes.
pub fn run(a: Args) -> anyhow::Result<()> {
    let m = Model::load(&a.model)?;
    m.save(&a.out)?;
    println!(
        "converted {} → {} ({}, {})",
        a.model.display(),
        a.out.display(),
        m.kind(),
        m.summary()
    );
    Ok(())
}
