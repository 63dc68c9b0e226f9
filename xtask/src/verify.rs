//! `cargo xtask verify`: a freshly exported blob on the microcontroller.
//!
//! The `run_blob` firmware reads the blob and the input rows from the host
//! through semihosting, so any blob `axon export` wrote (f32 or int8) runs
//! in QEMU through `axon_core::blob::parse` and the interpreter without
//! rebuilding the firmware; every output must equal `axon predict` on the
//! model it was exported from, bit for bit.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use axon_host::model::Model;

use crate::firmware::{build, compare_rows, firmware_outputs, fw_dir, host_outputs, qemu_in};
use crate::models;

/// A blob and the model file `axon predict` runs as its reference.
pub struct Exported {
    /// The blob the firmware runs.
    pub blob: PathBuf,
    /// The model the host runs (the JSON the blob was exported from, or
    /// the blob itself).
    pub model: PathBuf,
}

impl Exported {
    /// `blob`, against `model` when given, else the JSON model beside it
    /// that `axon demo` writes (`model.axon` ← `model.int8.json`), else
    /// `NAME.int8.json` or `NAME.json` beside `NAME.axon` (or
    /// `NAME_int8.axon`, as in `firmware/models/`), else the blob
    /// itself (then the host reads the same bytes the firmware does).
    pub fn new(blob: &Path, model: Option<&Path>) -> Self {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let blob = abs(blob);
        let model = match model {
            Some(m) => abs(m),
            None => {
                let stem = blob.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
                let stem = stem.strip_suffix(".int8").unwrap_or(stem);
                let stem = stem.strip_suffix("_int8").unwrap_or(stem);
                [format!("{stem}.int8.json"), format!("{stem}.json")]
                    .iter()
                    .map(|f| blob.with_file_name(f))
                    .find(|p| p.is_file())
                    .unwrap_or_else(|| blob.clone())
            }
        };
        Exported { blob, model }
    }
}

/// Runs the blob on every row of `data` in QEMU on `machine` and compares
/// with the host; returns the number of rows compared.
pub fn verify(exported: &Exported, data: &Path, machine: &str) -> anyhow::Result<usize> {
    for p in [&exported.blob, &exported.model] {
        if !p.is_file() {
            bail!(
                "{} not found (run `axon demo` or `axon export` first)",
                p.display()
            );
        }
    }
    let data = &std::path::absolute(data).context("resolving the data path")?;
    let model = Model::load(&exported.model)?;
    let work = fw_dir().join("target").join("verify");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    std::fs::copy(&exported.blob, work.join("model.axon"))
        .with_context(|| format!("copying {}", exported.blob.display()))?;
    std::fs::write(work.join("inputs.bin"), models::inputs(&model, data)?)
        .context("writing the input rows")?;

    let elf = build("run_blob", "release", &[], "target", &[])?;
    let text = qemu_in(&elf, machine, Some(&work))?;
    if let Some(line) = text.lines().find(|l| l.contains("run_blob:")) {
        println!("{machine}: {}", line.trim());
    }
    let fw = firmware_outputs(&text, "B", "verify")?;
    let host = host_outputs(&exported.model, data)?;
    let (rows, values) = compare_rows("verify", "blob", &fw, &host)?;
    println!(
        "verify: {rows} rows of {}, {values} values: {} in QEMU ({machine}) == axon predict on {}, bit for bit",
        data.display(),
        exported.blob.display(),
        exported.model.display()
    );
    Ok(rows)
}
