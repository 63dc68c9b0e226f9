//! Building the firmware, running it in QEMU, and what is checked or
//! measured with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::models::{self, NETS};

const TARGET: &str = "thumbv7em-none-eabihf";

pub(crate) fn fw_dir() -> PathBuf {
    models::root().join("firmware")
}

/// `cargo` in `firmware/` (its own .cargo/config.toml: target, runner),
/// with a clean environment and its own target directory (`sub`).
fn cargo_fw(args: &[&str], sub: &str, envs: &[(&str, &str)]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(fw_dir())
        .args(args)
        .env("CARGO_TARGET_DIR", fw_dir().join(sub))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let status = cmd.status().context("running cargo in firmware/")?;
    if !status.success() {
        bail!("cargo {} (in firmware/) failed", args.join(" "));
    }
    Ok(())
}

/// Builds one firmware binary; returns its ELF.
pub(crate) fn build(
    bin: &str,
    profile: &str,
    features: &[&str],
    sub: &str,
    envs: &[(&str, &str)],
) -> anyhow::Result<PathBuf> {
    build_for(TARGET, bin, profile, features, sub, envs)
}

/// [`build`] for another target than the firmware's default.
fn build_for(
    target: &str,
    bin: &str,
    profile: &str,
    features: &[&str],
    sub: &str,
    envs: &[(&str, &str)],
) -> anyhow::Result<PathBuf> {
    let feats = features.join(",");
    let mut args = vec![
        "build",
        "--quiet",
        "--profile",
        profile,
        "--bin",
        bin,
        "--target",
        target,
    ];
    if !feats.is_empty() {
        args.extend_from_slice(&["--features", &feats]);
    }
    cargo_fw(&args, sub, envs)?;
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(fw_dir().join(sub).join(target).join(dir).join(bin))
}

/// Runs an ELF in QEMU through `firmware/qemu-run.sh`; returns the decoded
/// defmt text. Fails if the firmware exits non-zero.
fn qemu(elf: &Path, machine: &str) -> anyhow::Result<String> {
    qemu_in(elf, machine, None)
}

/// [`qemu`] with QEMU's current directory set to `cwd` (where semihosting
/// opens the files a firmware reads from the host).
pub(crate) fn qemu_in(elf: &Path, machine: &str, cwd: Option<&Path>) -> anyhow::Result<String> {
    let mut cmd = Command::new(fw_dir().join("qemu-run.sh"));
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .arg(elf)
        .env("QEMU_MACHINE", machine)
        .stderr(Stdio::inherit())
        .output()
        .context("running firmware/qemu-run.sh")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} on {machine} failed ({}):\n{}",
            elf.display(),
            out.status,
            tail.join("\n")
        );
    }
    Ok(text)
}

/// `kernel_test` on the Cortex-M4F.
pub fn kernel_test() -> anyhow::Result<()> {
    let elf = build("kernel_test", "release", &[], "target", &[])?;
    print!("{}", qemu(&elf, "mps2-an386")?);
    Ok(())
}

/// The same ELFs on the Cortex-M7 (mps2-an500).
pub fn m7() -> anyhow::Result<()> {
    let elf = build("kernel_test", "release", &[], "target", &[])?;
    print!("mps2-an500 (Cortex-M7): {}", qemu(&elf, "mps2-an500")?);
    let elf = build("parity", "release", &[], "target", &[])?;
    let text = qemu(&elf, "mps2-an500")?;
    let n = compare_all(&text)?;
    println!("mps2-an500 (Cortex-M7): parity binary matches `axon predict` on {n} samples");
    Ok(())
}

/// A model's outputs per row: every cell, integers as themselves and f32
/// values as their bits.
pub(crate) type Outputs = BTreeMap<u32, Vec<i64>>;

/// Parses `TAG name row [a, b, …]` lines of the parity firmware.
pub(crate) fn firmware_outputs(text: &str, tag: &str, name: &str) -> anyhow::Result<Outputs> {
    let mut out = Outputs::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(tag) else {
            continue;
        };
        let mut it = rest.trim_start().splitn(3, ' ');
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

/// `axon predict` on every row of the CSV file `data`: every cell, `q_*`
/// columns (int8 codes) as integers and the others (f32 values) as bits.
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
        for (cell, &code) in rec.iter().zip(&is_code) {
            let v = if code {
                cell.parse::<i64>().ok()
            } else {
                cell.parse::<f32>().ok().map(|f| f.to_bits() as i64)
            };
            vals.push(
                v.with_context(|| format!("{}: row {row}: bad cell {cell:?}", tmp.display()))?,
            );
        }
        out.insert(row as u32, vals);
    }
    let _ = std::fs::remove_file(&tmp);
    Ok(out)
}

/// Compares one model's firmware lines under each `(tag, kind)` in `tags`
/// (e.g. the generic and the compiled engine) with `axon predict` on
/// `file`, run once; returns the number of samples compared.
fn compare(text: &str, name: &str, file: &str, tags: &[(&str, &str)]) -> anyhow::Result<usize> {
    let host = host_outputs(&models::dir().join(file), &models::data(name))?;
    let mut samples = 0;
    for &(tag, kind) in tags {
        let fw = firmware_outputs(text, tag, name)?;
        if fw.len() != host.len() || fw.is_empty() {
            bail!(
                "{name} {kind}: the firmware printed {} rows, `axon predict` {}",
                fw.len(),
                host.len()
            );
        }
        let mut values = 0;
        for (row, h) in &host {
            let f = fw
                .get(row)
                .with_context(|| format!("{name} {kind}: row {row} missing"))?;
            if f != h {
                let col = f.iter().zip(h).position(|(a, b)| a != b).unwrap_or(0);
                bail!(
                    "{name} {kind}: row {row} column {col}: firmware {:?}, host {:?} (codes as integers, values as f32 bits)",
                    f.get(col),
                    h.get(col),
                );
            }
            values += h.len();
        }
        println!(
            "parity {name:>6} {kind:>4}: {} samples, {values} values: firmware == axon predict, bit for bit",
            host.len()
        );
        samples += host.len();
    }
    Ok(samples)
}

/// Compares every model and returns the number of samples compared.
fn compare_all(text: &str) -> anyhow::Result<usize> {
    let mut total = 0;
    for net in &NETS {
        total += compare(
            text,
            net.name,
            &format!("{}.json", net.name),
            &[("P", "f32")],
        )?;
        // The generic (`MODEL`) and the compiled engine (`COMPILED`)
        // against one run of `axon predict`.
        total += compare(
            text,
            net.name,
            &format!("{}.int8.json", net.name),
            &[("Q", "int8"), ("C", "int8 compiled")],
        )?;
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
/// DSP but no FPU registers in calls; the f32 kernels and the compiled
/// engine's input staging take their plain-Rust paths), run on the
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

/// The demo application (`firmware/src/bin/demo.rs`: the embedded-hal app
/// loop, replayed sensor frames, the compiled digits model) run to its end
/// in QEMU.
pub fn demo() -> anyhow::Result<()> {
    let elf = build("demo", "release", &[], "target", &[])?;
    let text = qemu(&elf, "mps2-an386")?;
    let Some(last) = text.lines().find(|l| l.contains("demo:")) else {
        bail!("the demo firmware printed no `demo:` summary:\n{text}");
    };
    println!("mps2-an386 (Cortex-M4F): {}", last.trim());
    Ok(())
}

/// Instructions per layer and per inference, DSP kernel and scalar.
pub fn bench() -> anyhow::Result<()> {
    let elf = build("bench", "release", &[], "target", &[])?;
    println!("== Cortex-M4F (mps2-an386), int8 kernel: cortex-m-dsp");
    print!("{}", qemu(&elf, "mps2-an386")?);
    let elf = build(
        "bench",
        "release",
        &[],
        "target/nodsp",
        &[("AXON_NO_DSP", "1")],
    )?;
    println!("== Cortex-M4F (mps2-an386), int8 kernel: scalar (AXON_NO_DSP=1)");
    print!("{}", qemu(&elf, "mps2-an386")?);
    Ok(())
}

/// `arm-none-eabi-size -A`: section → bytes.
fn sections(elf: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
    let out = Command::new("arm-none-eabi-size")
        .arg("-A")
        .arg(elf)
        .output()
        .context("running arm-none-eabi-size (apt-get install binutils-arm-none-eabi)")?;
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut it = line.split_whitespace();
        if let (Some(name), Some(size)) = (it.next(), it.next()) {
            if let Ok(v) = size.parse::<u64>() {
                if name.starts_with('.') {
                    m.insert(name.to_string(), v);
                }
            }
        }
    }
    Ok(m)
}

/// One footprint firmware: (flash, static RAM, peak stack of the inference).
fn footprint_of(feature: &[&str]) -> anyhow::Result<(u64, u64, u64)> {
    let elf = build("footprint", "size", feature, "target", &[])?;
    let s = sections(&elf)?;
    let get = |k: &str| s.get(k).copied().unwrap_or(0);
    let flash = get(".vector_table") + get(".text") + get(".rodata") + get(".data");
    let ram = get(".data") + get(".bss") + get(".uninit");
    let text = qemu(&elf, "mps2-an386")?;
    let stack = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("stack ")
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .with_context(|| format!("no `stack N` line from {}", elf.display()))?;
    Ok((flash, ram, stack))
}

/// Flash and RAM of each model with its engine: the one-inference firmware
/// minus the same firmware without the model.
pub fn footprint() -> anyhow::Result<()> {
    let (f0, r0, s0) = footprint_of(&[])?;
    println!("baseline firmware (no model): flash {f0} B, static RAM {r0} B, stack {s0} B");
    for (net, feat) in [("sine", "fp-sine"), ("digits", "fp-digits")] {
        for (engine, feats) in [
            ("compiled", vec![feat]),
            ("generic ", vec![feat, "fp-generic"]),
        ] {
            let (f, r, s) = footprint_of(&feats)?;
            println!(
                "{net:>6} ({engine}): model + engine flash {} B, RAM {} B (static {} + peak stack {}); whole firmware flash {f} B, RAM {} B + stack",
                f - f0,
                (r - r0) + (s.saturating_sub(s0)),
                r - r0,
                s.saturating_sub(s0),
                r
            );
        }
    }
    let demo = build("demo", "release", &[], "target", &[])?;
    let s = sections(&demo)?;
    let get = |k: &str| s.get(k).copied().unwrap_or(0);
    println!(
        "demo firmware (digits int8, replayed sensor, release): flash {} B, static RAM {} B",
        get(".vector_table") + get(".text") + get(".rodata") + get(".data"),
        get(".data") + get(".bss") + get(".uninit")
    );
    Ok(())
}

/// The core's portable path on a Cortex-M0: the `m0` binary built for
/// thumbv6m-none-eabi (scalar int8 kernel) on QEMU's micro:bit, every sine
/// row compared with `axon predict`.
pub fn m0() -> anyhow::Result<()> {
    let elf = build_for(
        "thumbv6m-none-eabi",
        "m0",
        "release",
        &["microbit"],
        "target",
        &[],
    )?;
    let text = qemu(&elf, "microbit")?;
    if let Some(line) = text.lines().find(|l| l.contains("m0:")) {
        println!("microbit (Cortex-M0): {}", line.trim());
    }
    compare(
        &text,
        "sine",
        "sine.int8.json",
        &[("Q", "int8"), ("C", "int8 compiled")],
    )?;
    Ok(())
}
