//! Host ↔ firmware parity: the parity firmware's output lines against
//! `axon predict`, value by value, by their f32 bits.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};

use super::{build, build_for, qemu};
use crate::models::{self, Net, NETS};

/// A model's outputs per row, each f32 value as its bits.
pub(crate) type Outputs = BTreeMap<u32, Vec<i64>>;

/// Parses `TAG name row [a, b, …]` lines of the parity firmware.
pub(crate) fn firmware_outputs(text: &str, tag: &str, name: &str) -> anyhow::Result<Outputs> {
    let mut out = Outputs::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(tag) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(' ') else {
            continue;
        };
        let mut it = rest.splitn(3, ' ');
        if it.next() != Some(name) {
            continue;
        }
        let row: u32 = it
            .next()
            .context("row")?
            .parse()
            .with_context(|| format!("bad line: {line}"))?;
        let list = it.next().context("values")?.trim();
        let list = list
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .with_context(|| format!("bad line: {line}"))?;
        let vals: Result<Vec<i64>, _> = list.split(',').map(|v| v.trim().parse::<i64>()).collect();
        out.insert(row, vals.with_context(|| format!("bad line: {line}"))?);
    }
    Ok(out)
}

/// `axon predict` on every row of the CSV file `data`: the output values
/// (f32) as their bits, per row.
///
/// For an int8 model `axon predict` also prints each output's int8 code
/// (`q_*` columns); they are left out, because the firmware prints values
/// only (a `forward()` returns values) and a value determines its code:
/// the dequantized value `scale · (q − zp)` is strictly increasing in the
/// code `q` (the products of a positive scale with the integers −255..=255
/// are further apart than an f32 rounding step), so equal value bits mean
/// equal codes.
pub(crate) fn host_outputs(model: &Path, data: &Path) -> anyhow::Result<Outputs> {
    let stem = data.file_stem().and_then(|s| s.to_str()).unwrap_or("data");
    let tmp = std::env::temp_dir().join(format!("axon-parity-{}-{stem}.csv", std::process::id()));
    let path = |p: &Path| p.to_str().map(str::to_string).context("path is not UTF-8");
    let (m, d, o) = (path(model)?, path(data)?, path(&tmp)?);
    models::axon(&["predict", "--model", &m, "--data", &d, "--out", &o])?;
    let mut rdr = csv::Reader::from_path(&tmp)?;
    let is_code: Vec<bool> = rdr.headers()?.iter().map(|h| h.starts_with("q_")).collect();
    let mut out = Outputs::new();
    for (row, rec) in rdr.records().enumerate() {
        let rec = rec?;
        let mut vals = Vec::with_capacity(rec.len());
        for (cell, _) in rec.iter().zip(&is_code).filter(|(_, &code)| !code) {
            let v = cell.parse::<f32>().ok().map(|f| f.to_bits() as i64);
            vals.push(
                v.with_context(|| format!("{}: row {row}: bad cell {cell:?}", tmp.display()))?,
            );
        }
        out.insert(row as u32, vals);
    }
    let _ = std::fs::remove_file(&tmp);
    Ok(out)
}

/// Compares a firmware's rows with the host's; returns (rows, values).
pub(crate) fn compare_rows(
    name: &str,
    kind: &str,
    fw: &Outputs,
    host: &Outputs,
) -> anyhow::Result<(usize, usize)> {
    if fw.len() != host.len() || fw.is_empty() {
        bail!(
            "{name} {kind}: the firmware printed {} rows, `axon predict` {}",
            fw.len(),
            host.len()
        );
    }
    let mut values = 0;
    for (row, h) in host {
        let f = fw
            .get(row)
            .with_context(|| format!("{name} {kind}: row {row} missing"))?;
        if f != h {
            let col = f.iter().zip(h).position(|(a, b)| a != b).unwrap_or(0);
            bail!(
                "{name} {kind}: row {row} column {col}: firmware {:?}, host {:?} (f32 bits; {} values vs {})",
                f.get(col),
                h.get(col),
                f.len(),
                h.len()
            );
        }
        values += h.len();
    }
    Ok((host.len(), values))
}

/// The parity firmware's line tags: (tag, what ran), for the f32 model
/// and for the int8 model.
pub(crate) const F32_TAGS: [(&str, &str); 2] =
    [("f32.fwd", "f32 forward()"), ("f32.graph", "f32 GRAPH")];
pub(crate) const INT8_TAGS: [(&str, &str); 2] =
    [("int8.fwd", "int8 forward()"), ("int8.graph", "int8 GRAPH")];

/// Compares one model's firmware lines under each `(tag, kind)` in `tags`
/// (e.g. its `forward()` and its `GRAPH` through the interpreter) with
/// `axon predict` on `file`, run once; returns the number of samples
/// compared.
pub(crate) fn compare(
    text: &str,
    net: &Net,
    file: &str,
    tags: &[(&str, &str)],
) -> anyhow::Result<usize> {
    let host = host_outputs(&models::dir().join(file), &models::data(net))?;
    let mut samples = 0;
    for &(tag, kind) in tags {
        let fw = firmware_outputs(text, tag, net.name)?;
        let (rows, values) = compare_rows(net.name, kind, &fw, &host)?;
        println!(
            "parity {:>15} {kind:>14}: {rows} samples, {values} values: firmware == axon predict, bit for bit",
            net.name
        );
        samples += rows;
    }
    Ok(samples)
}

/// Compares every model and returns the number of samples compared.
pub(crate) fn compare_all(text: &str) -> anyhow::Result<usize> {
    let mut total = 0;
    for net in &NETS {
        total += compare(text, net, &format!("{}.json", net.name), &F32_TAGS)?;
        total += compare(text, net, &format!("{}.int8.json", net.name), &INT8_TAGS)?;
    }
    Ok(total)
}

/// Every row of every bundled network through the firmware in QEMU
/// (Cortex-M4F), compared with `axon predict`.
pub fn parity() -> anyhow::Result<()> {
    models::check()?;
    let elf = build("parity", "release", &[], "target", &[])?;
    let text = qemu(&elf, "mps2-an386")?;
    if let Some(line) = text.lines().find(|l| l.contains("parity: kernel")) {
        println!("mps2-an386 (Cortex-M4F): {}", line.trim());
    }
    let n = compare_all(&text)?;
    println!("parity: {n} samples compared, all bit-identical");
    Ok(())
}

/// The parity firmware built for the soft-float ABI (`thumbv7em-none-eabi`:
/// DSP but no FPU registers in calls; the f32 kernels and `forward()`'s
/// input staging take their plain-Rust paths), run on the
/// Cortex-M4F and compared with `axon predict` like [`parity`].
pub fn soft_float() -> anyhow::Result<()> {
    models::check()?;
    let target = "thumbv7em-none-eabi";
    let elf = build_for(target, "parity", "release", &[], "target", &[])?;
    let text = qemu(&elf, "mps2-an386")?;
    let n = compare_all(&text)?;
    println!("mps2-an386 (Cortex-M4F), soft-float build ({target}): parity binary matches `axon predict` on {n} samples");
    Ok(())
}
