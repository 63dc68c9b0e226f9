//! Building the firmware, running it in QEMU, and what is checked or
//! measured with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::models::{self, Net, NETS};

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
const F32_TAGS: [(&str, &str); 2] = [("f32.fwd", "f32 forward()"), ("f32.graph", "f32 GRAPH")];
const INT8_TAGS: [(&str, &str); 2] = [("int8.fwd", "int8 forward()"), ("int8.graph", "int8 GRAPH")];

/// Compares one model's firmware lines under each `(tag, kind)` in `tags`
/// (e.g. its `forward()` and its `GRAPH` through the interpreter) with
/// `axon predict` on `file`, run once; returns the number of samples
/// compared.
fn compare(text: &str, net: &Net, file: &str, tags: &[(&str, &str)]) -> anyhow::Result<usize> {
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
fn compare_all(text: &str) -> anyhow::Result<usize> {
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

/// The demo application (`firmware/src/bin/demo.rs`: the embedded-hal app
/// loop, replayed sensor frames, the digits model's generated `classify()`)
/// run to its end in QEMU.
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
    for (net, feat) in [
        ("sine", "fp-sine"),
        ("digits", "fp-digits"),
        ("digits_residual", "fp-residual"),
    ] {
        for (engine, feats) in [
            ("forward()", vec![feat]),
            ("GRAPH + interpreter", vec![feat, "fp-generic"]),
        ] {
            let (f, r, s) = footprint_of(&feats)?;
            println!(
                "{net:>15} ({engine}): model + engine flash {} B, RAM {} B (static {} + peak stack {}); whole firmware flash {f} B, RAM {} B + stack",
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
        "demo firmware (digits int8 classify(), replayed sensor, release): flash {} B, static RAM {} B",
        get(".vector_table") + get(".text") + get(".rodata") + get(".data"),
        get(".data") + get(".bss") + get(".uninit")
    );
    Ok(())
}

/// The core's portable path on a Cortex-M0: the `m0` binary built for
/// thumbv6m-none-eabi (scalar int8 kernel, the packed layer's plain-Rust
/// twin) on QEMU's micro:bit, every sine row through the f32 and int8
/// models' `forward()` and `GRAPH`, compared with `axon predict`.
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
    let sine = models::net("sine")?;
    compare(&text, sine, "sine.json", &F32_TAGS)?;
    compare(&text, sine, "sine.int8.json", &INT8_TAGS)?;
    Ok(())
}

/// The panic-never firmware: each binary's panic handler calls an
/// `extern "C"` function that exists nowhere, so the release build links
/// only if the optimiser removed every panic path (a surviving one fails
/// the link, naming `axon_panic_handler_is_linked`). Each run prints a
/// checksum of every output bit of every row (`checksum NAME ROWS 0x…`),
/// compared here with the same sum over `axon predict`'s outputs.
pub fn panic_never() -> anyhow::Result<()> {
    models::check()?;
    for (bin, what) in [
        (
            "panic_never_blob",
            "blob → axon_core::blob::parse → Interpreter",
        ),
        ("panic_never_forward", "generated forward()"),
    ] {
        let elf = build(bin, "release", &["panic-never"], "target", &[]).with_context(|| {
            format!("{bin}: a panic path is left (a link error naming `axon_panic_handler_is_linked` above means one survived optimisation)")
        })?;
        let text = qemu(&elf, "mps2-an386")?;
        let mut checked = 0;
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("checksum ") else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let [name, file, rows, sum] = f[..] else {
                bail!("{bin}: bad line {line}");
            };
            let net = models::net(name)?;
            let host = host_outputs(&models::dir().join(file), &models::data(net))?;
            let mut fnv: u32 = 0x811c_9dc5;
            for v in host.values().flatten() {
                for b in (*v as u32).to_le_bytes() {
                    fnv = (fnv ^ b as u32).wrapping_mul(0x0100_0193);
                }
            }
            let want = fnv.to_string();
            if rows != host.len().to_string() || sum != want {
                bail!("{bin}: {name} ({file}): firmware {rows} rows, checksum {sum}; axon predict {} rows, {want}", host.len());
            }
            println!("panic-never {bin:>19}: {what}, {name} ({file}): {rows} rows, output checksum {sum} == axon predict");
            checked += 1;
        }
        if checked == 0 {
            bail!("{bin} printed no checksum:\n{text}");
        }
    }
    Ok(())
}
