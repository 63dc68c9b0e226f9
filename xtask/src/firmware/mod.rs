//! Building the firmware, running it in QEMU, and what is checked or
//! measured with it: [`parity`] (host ↔ firmware, bit for bit),
//! [`measure`] (instructions, footprint), [`runs`] (the kernel tests, other
//! cores, the demo, the panic-never builds). This file holds how a
//! firmware is built and run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::models;

mod measure;
mod parity;
mod runs;

pub(crate) use measure::sections;
pub use measure::{bench, footprint};
pub(crate) use parity::{compare_rows, firmware_outputs, host_outputs};
pub use parity::{parity, soft_float};
pub use runs::{demo, kernel_test, m0, m7, panic_never};

const TARGET: &str = "thumbv7em-none-eabihf";

pub(crate) fn fw_dir() -> PathBuf {
    models::root().join("firmware")
}

/// `cargo` in `firmware/` (its own .cargo/config.toml: target, runner),
/// with a clean environment and its own target directory (`sub`).
pub(crate) fn cargo_fw(args: &[&str], sub: &str, envs: &[(&str, &str)]) -> anyhow::Result<()> {
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
pub(crate) fn build_for(
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
pub(crate) fn qemu(elf: &Path, machine: &str) -> anyhow::Result<String> {
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
