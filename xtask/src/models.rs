//! The files the firmware builds with, in `firmware/models/`, and how each
//! is made from the trained models and the bundled data.
//!
//! Sources (written by `cargo xtask models --retrain`, with the `axon` CLI;
//! version-2 JSON model files): `NAME.json` (f32, `axon train`) and
//! `NAME.int8.json` (`axon quantize`). Generated from them (by `cargo xtask
//! models`, and checked for staleness by `cargo xtask check-models` and this
//! module's test):
//! * `NAME_int8.rs`, `NAME_f32.rs`: `axon export --rust` of each model
//!   (`GRAPH` for the interpreter, and the straight-line `forward()` /
//!   `classify()`);
//! * `NAME_int8.axon`: `axon export --out` of the int8 model (the blob the
//!   panic-never firmware parses);
//! * `DATA_inputs.bin`: every row of `data/DATA.csv` as the model's input
//!   features, f32 little-endian, row-major: what `axon predict` reads.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use axon_host::data::{Header, Table};
use axon_host::model::Model;
use clap::Parser as _;

/// A network the firmware embeds.
pub struct Net {
    /// File stem in `firmware/models/`.
    pub name: &'static str,
    /// Its data set: `data/DATA.csv` (training, calibration, parity rows).
    pub data: &'static str,
    /// `axon train` arguments after `--data data/DATA.csv --out …`.
    pub train: &'static [&'static str],
    /// `axon quantize` arguments after `--model … --calib … --out …`.
    pub quantize: &'static [&'static str],
}

/// The networks the firmware embeds.
pub const NETS: [Net; 3] = [
    Net {
        name: "digits",
        data: "digits",
        // Raw pixel levels (0..=16, one scale already): no per-pixel
        // standardisation to store or compute on the device.
        train: &[
            "--layers",
            "64,32,10",
            "--epochs",
            "40",
            "--seed",
            "7",
            "--standardize",
            "false",
        ],
        // One weight scale per layer, as TFLite's converter does for fully
        // connected layers: 5 bytes of requantization constants per layer
        // instead of per output.
        quantize: &["--per-tensor"],
    },
    Net {
        name: "sine",
        data: "sine",
        train: &[
            "--layers",
            "1,16,16,1",
            "--loss",
            "mse",
            "--epochs",
            "300",
            "--lr",
            "0.01",
            "--seed",
            "7",
        ],
        quantize: &["--per-tensor"],
    },
    // 64 → 64, two residual blocks of two 64×64 layers, → 10
    // (examples/digits_residual.toml). Adam overfits it (95 % validation
    // accuracy); AdamW's decoupled weight decay of 0.5 gives 98.6 %.
    Net {
        name: "digits_residual",
        data: "digits",
        train: &[
            "--arch",
            "examples/digits_residual.toml",
            "--optimizer",
            "adamw",
            "--weight-decay",
            "0.5",
            "--epochs",
            "40",
            "--seed",
            "7",
            "--standardize",
            "false",
        ],
        quantize: &["--per-tensor"],
    },
];

/// The network named `name`.
pub fn net(name: &str) -> anyhow::Result<&'static Net> {
    NETS.iter()
        .find(|n| n.name == name)
        .with_context(|| format!("no network {name} in xtask's NETS"))
}

/// The repository root (this crate's parent directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `firmware/models/`.
pub fn dir() -> PathBuf {
    root().join("firmware").join("models")
}

/// The data set of network `net`: `data/DATA.csv`.
pub fn data(net: &Net) -> PathBuf {
    root().join("data").join(format!("{}.csv", net.data))
}

/// Runs the `axon` command line in this process.
pub fn axon(args: &[&str]) -> anyhow::Result<()> {
    let cli =
        axon_host::cli::Cli::try_parse_from(std::iter::once("axon").chain(args.iter().copied()))
            .map_err(|e| anyhow::anyhow!("axon {}: {e}", args.join(" ")))?;
    axon_host::cli::run(cli)
}

/// Trains and quantizes the source models again (deterministic: seeded):
/// every network, or only the one named `only`. Runs from the repository
/// root with relative paths, so the paths the model files record (e.g. the
/// calibration source) are machine-independent.
pub fn retrain(only: Option<&str>) -> anyhow::Result<()> {
    if let Some(name) = only {
        net(name)?;
    }
    std::env::set_current_dir(root()).context("entering the repository root")?;
    for net in NETS.iter().filter(|n| only.is_none_or(|o| o == n.name)) {
        let csv = format!("data/{}.csv", net.data);
        let f32_path = format!("firmware/models/{}.json", net.name);
        let int8_path = format!("firmware/models/{}.int8.json", net.name);
        let (csv, f, q) = (csv.as_str(), f32_path.as_str(), int8_path.as_str());
        let mut args = vec!["train", "--data", csv, "--out", f, "--quiet"];
        args.extend_from_slice(net.train);
        axon(&args)?;
        let mut args = vec!["quantize", "--model", f, "--calib", csv, "--out", q];
        args.extend_from_slice(net.quantize);
        axon(&args)?;
    }
    Ok(())
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .with_context(|| format!("{}: not UTF-8", p.display()))
}

/// Every generated file, as (path, bytes).
pub fn generate() -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for net in &NETS {
        for (kind, file) in [
            ("f32", format!("{}.json", net.name)),
            ("int8", format!("{}.int8.json", net.name)),
        ] {
            let model = Model::load(&dir().join(&file))?;
            let origin = format!("firmware/models/{file}");
            let rust = axon_host::export::write_rust(&model, &origin)
                .with_context(|| format!("exporting {origin} as Rust"))?;
            out.push((
                dir().join(format!("{}_{kind}.rs", net.name)),
                rust.source.into_bytes(),
            ));
            if kind == "int8" {
                let blob = axon_host::export::write_blob(&model, net.name)
                    .with_context(|| format!("exporting {origin} as a blob"))?;
                out.push((dir().join(format!("{}_int8.axon", net.name)), blob));
            } else {
                // One input file per data set: the networks that share
                // one must read the same features from it.
                let path = dir().join(format!("{}_inputs.bin", net.data));
                let bytes = inputs(&model, &data(net))?;
                match out.iter().find(|(p, _)| *p == path) {
                    Some((_, b)) if *b != bytes => bail!(
                        "{}: reads other features from data/{}.csv than the network before it",
                        net.name,
                        net.data
                    ),
                    Some(_) => {}
                    None => out.push((path, bytes)),
                }
            }
        }
    }
    Ok(out)
}

/// Writes every generated file.
pub fn write_all() -> anyhow::Result<()> {
    for (path, bytes) in generate()? {
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}

/// The generated files that differ from what `generate` makes now.
pub fn stale() -> anyhow::Result<Vec<PathBuf>> {
    let mut bad = Vec::new();
    for (path, bytes) in generate()? {
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            bad.push(path);
        }
    }
    Ok(bad)
}

/// Fails, naming the files, when a generated file is stale.
pub fn check() -> anyhow::Result<()> {
    let bad = stale()?;
    if !bad.is_empty() {
        let names: Vec<String> = bad.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "stale firmware model files (run `cargo xtask models`): {}",
            names.join(", ")
        );
    }
    Ok(())
}

/// The model's input features for every row of `csv`, as `axon predict`
/// reads them: f32 little-endian, row-major.
pub fn inputs(model: &Model, csv: &Path) -> anyhow::Result<Vec<u8>> {
    let table = Table::read(path_str(csv)?, Header::Auto)?;
    let cols = model.input_columns(&table, None)?;
    let x = table.numbers(&cols)?;
    Ok(x.iter().flat_map(|v| v.to_le_bytes()).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn firmware_model_files_are_not_stale() {
        // Regenerates every file in memory from the committed sources and
        // compares bytes: fails after a change to the models, the data, the
        // exporter or the generator until `cargo xtask models` is run.
        super::check().unwrap();
    }
}
