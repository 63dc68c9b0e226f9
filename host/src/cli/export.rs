//! `axon export`: a model as a checksummed binary blob for the MCU and/or
//! as Rust source for `include!`.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::export::{write_blob, write_rust};
use crate::model::{write_atomic, Model, Runner};

/// Arguments of `axon export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file (int8 from `axon quantize`, or f32).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the binary blob (docs/blob-format.md).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write the model as Rust source: the graph as `static`
    /// items (`GRAPH`, for the interpreter) and a generated straight-line
    /// `forward()`/`classify()` prepared for microcontrollers (packed
    /// layers where they fit; same bits).
    #[arg(long)]
    pub rust: Option<PathBuf>,
}

/// The model's name in a blob: the file name without its extensions.
fn model_name(path: &std::path::Path) -> String {
    let f = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    f.split('.').next().unwrap_or("").to_owned()
}

/// Exports and reports sizes.
pub fn run(a: Args) -> anyhow::Result<()> {
    if a.out.is_none() && a.rust.is_none() {
        bail!("nothing to do: give --out FILE (blob), --rust FILE (Rust source), or both");
    }
    let m = Model::load(&a.model)?;
    let run = Runner::new(&m)?;
    println!(
        "model     {} ({}, {} parameters)",
        m.summary(),
        m.kind(),
        m.parameter_count()
    );
    if let Some(path) = &a.out {
        // `write_blob` has parsed what it wrote, from the same tables.
        let blob = write_blob(&m, &model_name(&a.model))?;
        write_atomic(path, &blob)?;
        let crc = u32::from_le_bytes(
            blob[blob.len() - 4..]
                .try_into()
                .context("blob shorter than its CRC")?,
        );
        println!(
            "blob      {} bytes, CRC-32 {crc:#010x}, {} nodes, {} tensors → {}",
            blob.len(),
            run.nodes.len(),
            run.tensors.len(),
            path.display()
        );
    }
    if let Some(path) = &a.rust {
        let r = write_rust(&m, &a.model.display().to_string())?;
        write_atomic(path, r.source.as_bytes())?;
        println!(
            "rust      {} bytes of source → {}",
            r.source.len(),
            path.display()
        );
        println!(
            "          forward(): {} bytes of arena (ARENA_LEN)",
            r.arena_len
        );
        for n in &r.notes {
            println!("          {n}");
        }
    }
    println!(
        "arena     {} bytes of RAM per inference through the interpreter (plus the caller's input and output)",
        run.arena_len
    );
    Ok(())
}
