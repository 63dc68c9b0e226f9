//! The files the firmware builds with, in `firmware/models/`, and how each
//! is made from the trained models and the bundled data.
//!
//! Sources (written by `cargo xtask models --retrain`, with the `axon` CLI):
//! `NAME.json` (f32, `axon train`) and `NAME.int8.json` (`axon quantize`).
//! Generated from them (by `cargo xtask models`, and checked for staleness by
//! this module's test):
//! * `NAME_int8.rs`: `axon export --rust` (the int8 model as statics);
//! * `NAME_f32.rs`: the f32 model as `axon_firmware::f32_model` statics;
//! * `NAME_inputs.bin`: every row of `data/NAME.csv` as the model's input
//!   features, f32 little-endian, row-major: what `axon predict` reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use axon_host::data::{Header, Table};
use axon_host::model::{LayerSpec, Model};
use axon_host::quantize::Int8Model;
use clap::Parser as _;

/// A network the firmware embeds.
pub struct Net {
    /// File stem in `firmware/models/` and `data/`.
    pub name: &'static str,
    /// `axon train` arguments after `--data data/NAME.csv --out …`.
    pub train: &'static [&'static str],
    /// `axon quantize` arguments after `--model … --calib … --out …`.
    pub quantize: &'static [&'static str],
}

/// The two bundled networks.
pub const NETS: [Net; 2] = [
    Net {
        name: "digits",
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
];

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

/// `data/NAME.csv`.
pub fn data(name: &str) -> PathBuf {
    root().join("data").join(format!("{name}.csv"))
}

/// Runs the `axon` command line in this process.
pub fn axon(args: &[&str]) -> anyhow::Result<()> {
    let cli =
        axon_host::cli::Cli::try_parse_from(std::iter::once("axon").chain(args.iter().copied()))
            .map_err(|e| anyhow::anyhow!("axon {}: {e}", args.join(" ")))?;
    axon_host::cli::run(cli)
}

/// Trains and quantizes the source models again (deterministic: seeded).
/// Runs from the repository root with relative paths, so the paths the
/// model files record (e.g. the calibration source) are machine-independent.
pub fn retrain() -> anyhow::Result<()> {
    std::env::set_current_dir(root()).context("entering the repository root")?;
    for net in &NETS {
        let csv = format!("data/{}.csv", net.name);
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
        let f32_json = dir().join(format!("{}.json", net.name));
        let int8_json = dir().join(format!("{}.int8.json", net.name));
        let model = Model::load(&f32_json)?;
        let q = Int8Model::load(&int8_json)?;
        let origin = format!("firmware/models/{}.int8.json", net.name);
        out.push((
            dir().join(format!("{}_int8.rs", net.name)),
            axon_host::export::write_rust(&q, &origin)?.into_bytes(),
        ));
        let origin = format!("firmware/models/{}.json", net.name);
        out.push((
            dir().join(format!("{}_f32.rs", net.name)),
            f32_source(&model, &origin)?.into_bytes(),
        ));
        out.push((
            dir().join(format!("{}_inputs.bin", net.name)),
            inputs(&model, &data(net.name))?,
        ));
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
    let cols = axon_host::cli::predict::feature_columns(model, &table, None)?;
    let x = table.numbers(&cols)?;
    Ok(x.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn f32_lit(x: f32) -> String {
    // `{:?}` is the shortest decimal that reads back to the same f32.
    if x.is_nan() || x.is_infinite() {
        return format!("f32::from_bits({:#010x})", x.to_bits());
    }
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') {
        format!("{s}_f32")
    } else {
        format!("{s}.0_f32")
    }
}

fn list(xs: &[f32]) -> String {
    let mut s = String::from("[");
    for (i, x) in xs.iter().enumerate() {
        s.push_str(if i % 8 == 0 { "\n    " } else { " " });
        s.push_str(&f32_lit(*x));
        s.push(',');
    }
    s.push_str("\n]");
    s
}

fn activation(a: &axon_core::Activation) -> String {
    use axon_core::Activation as A;
    let v = match a {
        A::Identity => "Identity".to_string(),
        A::Relu => "Relu".to_string(),
        A::LeakyRelu { alpha } => format!("LeakyRelu {{ alpha: {} }}", f32_lit(*alpha)),
        A::Sigmoid => "Sigmoid".to_string(),
        A::Tanh => "Tanh".to_string(),
        A::GeluTanh => "GeluTanh".to_string(),
        A::GeluErf => "GeluErf".to_string(),
        A::Silu => "Silu".to_string(),
        A::Softmax => "Softmax".to_string(),
    };
    format!("::axon_core::Activation::{v}")
}

/// The f32 model as `static` items of `axon_firmware::f32_model` types.
pub fn f32_source(m: &Model, origin: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    let mut width = m.inputs;
    let mut outputs = m.inputs;
    let _ = writeln!(
        s,
        "// @generated by `cargo xtask models` from {origin}. Do not edit."
    );
    let _ = writeln!(
        s,
        "// Runs as `axon predict` runs the f32 model (axon_firmware::f32_model)."
    );
    s.push('\n');
    let _ = writeln!(s, "/// Standardisation mean, `(INPUT_LEN,)`.");
    let _ = writeln!(
        s,
        "static MEAN: [f32; {}] = {};",
        m.inputs,
        list(&m.preprocess.mean)
    );
    let _ = writeln!(s, "/// Standardisation standard deviation, `(INPUT_LEN,)`.");
    let _ = writeln!(
        s,
        "static STD: [f32; {}] = {};",
        m.inputs,
        list(&m.preprocess.std)
    );
    let mut items = Vec::new();
    for (i, l) in m.layers.iter().enumerate() {
        match l {
            LayerSpec::Dense {
                inputs: n,
                outputs: o,
                weights,
                bias,
            } => {
                let _ = writeln!(s, "/// Layer {i} weights, `({o}, {n})`, output-major.");
                let _ = writeln!(
                    s,
                    "static W{i}: [f32; {}] = {};",
                    weights.len(),
                    list(weights)
                );
                let _ = writeln!(s, "/// Layer {i} bias, `({o},)`.");
                let _ = writeln!(s, "static B{i}: [f32; {}] = {};", bias.len(), list(bias));
                items.push(format!(
                    "    ::axon_firmware::f32_model::F32Layer::Dense {{ inputs: {n}, outputs: {o}, weights: &W{i}, bias: &B{i} }},"
                ));
                width = width.max(*o);
                outputs = *o;
            }
            LayerSpec::Activation(a) => {
                items.push(format!(
                    "    ::axon_firmware::f32_model::F32Layer::Activation({}),",
                    activation(a)
                ));
            }
        }
    }
    s.push('\n');
    let _ = writeln!(s, "/// Raw input features.");
    let _ = writeln!(s, "pub const INPUT_LEN: usize = {};", m.inputs);
    let _ = writeln!(s, "/// Outputs.");
    let _ = writeln!(s, "pub const OUTPUT_LEN: usize = {outputs};");
    let _ = writeln!(
        s,
        "/// The widest tensor (each of the two scratch buffers)."
    );
    let _ = writeln!(s, "pub const WIDTH: usize = {width};");
    let _ = writeln!(s, "/// The layers, first to last.");
    let _ = writeln!(
        s,
        "static LAYERS: [::axon_firmware::f32_model::F32Layer; {}] = [",
        items.len()
    );
    for it in &items {
        let _ = writeln!(s, "{it}");
    }
    s.push_str("];\n");
    let _ = writeln!(s, "/// The model.");
    let _ = writeln!(
        s,
        "pub static MODEL: ::axon_firmware::f32_model::F32Model = ::axon_firmware::f32_model::F32Model {{ inputs: INPUT_LEN, outputs: OUTPUT_LEN, mean: &MEAN, std: &STD, layers: &LAYERS }};"
    );
    Ok(s)
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
