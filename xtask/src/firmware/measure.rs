//! What is measured with the firmware: instructions under `-icount`
//! (`bench`) and the flash and RAM of each model with its engine
//! (`footprint`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::Context;

use super::{build, qemu};

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
pub(crate) fn sections(elf: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
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
