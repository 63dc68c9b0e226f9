//! `cargo xtask`: Axon's firmware chores, run from anywhere in the
//! repository.
//!
//! ```text
//! cargo xtask models [--retrain]  regenerate firmware/models/ (--retrain: train + quantize first)
//! cargo xtask check-models        fail if a generated model file is stale
//! cargo xtask kernel-test         DSP kernel == scalar on random layers, in QEMU
//! cargo xtask parity              firmware (QEMU) == `axon predict`, bit for bit, every row
//! cargo xtask bench               instructions per layer and per inference (QEMU -icount)
//! cargo xtask footprint           flash and RAM of model + engine (with/without the model)
//! cargo xtask m7                  the same firmware on the Cortex-M7 (mps2-an500)
//! cargo xtask soft-float          the parity firmware built for thumbv7em-none-eabi (no FPU ABI)
//! cargo xtask demo                the demo application (replayed sensor, compiled model) in QEMU
//! cargo xtask m0                  the core on a Cortex-M0 (thumbv6m, QEMU microbit), sine parity
//! cargo xtask verify [--dir D]   an exported model (axon demo's by default) in QEMU == axon predict
//! cargo xtask ci                  check-models, kernel-test, parity, m7, soft-float, m0, demo (the README's test command)
//! ```

mod firmware;
mod models;
mod verify;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Axon firmware chores")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate the firmware's model files from firmware/models/*.json.
    Models {
        /// Train and quantize the source models again first (seeded).
        #[arg(long)]
        retrain: bool,
    },
    /// Fail if a generated model file is stale.
    CheckModels,
    /// The DSP kernel against the scalar reference on random layers, in QEMU.
    KernelTest,
    /// Every row of the digits and sine data through the firmware in QEMU,
    /// compared bit for bit with `axon predict`.
    Parity,
    /// Instructions per layer and per inference under QEMU -icount.
    Bench,
    /// Flash and RAM of the model and engine.
    Footprint,
    /// The same firmware on a Cortex-M7 (mps2-an500).
    M7,
    /// The parity firmware built for the soft-float ABI (thumbv7em-none-eabi).
    SoftFloat,
    /// The demo application (replayed sensor frames, compiled model) in QEMU.
    Demo,
    /// The core's scalar path on a Cortex-M0 (thumbv6m).
    M0,
    /// An exported model (`model.json`, `model.int8.json`, `model.axon` in
    /// `--dir`) on every row of `--data`, in QEMU, compared with `axon predict`.
    Verify {
        /// Where `axon demo` (or you) wrote the three model files.
        #[arg(long, default_value = "out/demo")]
        dir: std::path::PathBuf,
        /// The rows to run (CSV, as `axon predict` reads it).
        #[arg(long, default_value = "data/digits.csv")]
        data: std::path::PathBuf,
        /// The QEMU machine: mps2-an386 (Cortex-M4F) or mps2-an500 (Cortex-M7).
        #[arg(long, default_value = "mps2-an386")]
        machine: String,
    },
    /// What CI runs: check-models, kernel-test, parity, m7, soft-float, m0, demo.
    Ci,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Models { retrain } => {
            if retrain {
                models::retrain()?;
            }
            models::write_all()
        }
        Command::CheckModels => models::check(),
        Command::KernelTest => firmware::kernel_test(),
        Command::Parity => firmware::parity(),
        Command::Bench => firmware::bench(),
        Command::Footprint => firmware::footprint(),
        Command::M7 => firmware::m7(),
        Command::SoftFloat => firmware::soft_float(),
        Command::Demo => firmware::demo(),
        Command::M0 => firmware::m0(),
        Command::Verify { dir, data, machine } => {
            verify::verify(&verify::Exported::in_dir(&dir), &data, &machine).map(|_| ())
        }
        Command::Ci => {
            models::check()?;
            firmware::kernel_test()?;
            firmware::parity()?;
            firmware::m7()?;
            firmware::soft_float()?;
            firmware::m0()?;
            firmware::demo()
        }
    }
}
