//! `cargo xtask verify`: a freshly exported model on the microcontroller.
//!
//! The `run_blob` firmware reads the blob and the input rows from the host
//! through semihosting, so any model `axon export` wrote runs in QEMU
//! without rebuilding the firmware; every output (int8 codes and their
//! dequantized f32 bits) must equal `axon predict` on the int8 JSON model.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use axon_host::model::Model;

use crate::firmware::{build, firmware_outputs, fw_dir, host_outputs, qemu_in};
use crate::models;

/// The files `axon demo` writes into its output directory.
pub struct Exported {
    /// The f32 model (its preprocessing names the input features).
    pub f32_model: PathBuf,
    /// The int8 JSON model `axon predict` runs on the host.
    pub int8_model: PathBuf,
    /// The blob the firmware runs.
    pub blob: PathBuf,
}

impl Exported {
    /// `model.json`, `model.int8.json` and `model.axon` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Exported {
            f32_model: dir.join("model.json"),
            int8_model: dir.join("model.int8.json"),
            blob: dir.join("model.axon"),
        }
    }
}

/// Runs the blob on every row of `data` in QEMU on `machine` and compares
/// with the host; returns the number of rows compared.
pub fn verify(exported: &Exported, data: &Path, machine: &str) -> anyhow::Result<usize> {
    for p in [&exported.f32_model, &exported.int8_model, &exported.blob] {
        if !p.is_file() {
            bail!(
                "{} not found (run `axon demo` or `axon export` first)",
                p.display()
            );
        }
    }
    let data = &std::path::absolute(data).context("resolving the data path")?;
    let model = Model::load(&exported.f32_model)?;
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
    let fw = firmware_outputs(&text, "Q", "verify")?;
    let host = host_outputs(&exported.int8_model, data)?;
    if fw.len() != host.len() || host.is_empty() {
        bail!(
            "the firmware printed {} rows, `axon predict` {}",
            fw.len(),
            host.len()
        );
    }
    for (row, h) in &host {
        let f = fw.get(row).with_context(|| format!("row {row} missing"))?;
        if f != h {
            let col = f.iter().zip(h).position(|(a, b)| a != b).unwrap_or(0);
            bail!(
                "row {row} column {col}: firmware {:?}, host {:?} (codes as integers, values as f32 bits)",
                f.get(col),
                h.get(col)
            );
        }
    }
    println!(
        "verify: {} rows of {}: {} in QEMU ({machine}) == axon predict on {}, bit for bit",
        host.len(),
        data.display(),
        exported.blob.display(),
        exported.int8_model.display()
    );
    Ok(host.len())
}
