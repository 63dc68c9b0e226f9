//! The other firmware runs: the kernels against their references, the
//! Cortex-M7 and Cortex-M0, the demo application, the panic-never builds.

use anyhow::{bail, Context};

use super::parity::{compare, compare_all, host_outputs, F32_TAGS, INT8_TAGS};
use super::{build, build_for, qemu};
use crate::models;

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
