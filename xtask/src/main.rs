//! `cargo xtask`: Axon's firmware chores, run from anywhere in the
//! repository.
//!
//! ```text
//! cargo xtask models [--retrain [--net N]]  regenerate firmware/models/ (--retrain: train + quantize first)
//! cargo xtask check-models        fail if a generated model file is stale
//! cargo xtask kernel-test         DSP kernel == scalar on random layers, in QEMU
//! cargo xtask parity              firmware (QEMU) == `axon predict`, bit for bit, every row, forward() and GRAPH
//! cargo xtask bench               instructions per layer and per inference (QEMU -icount)
//! cargo xtask footprint           flash and RAM of model + engine (with/without the model)
//! cargo xtask m7                  the same firmware on the Cortex-M7 (mps2-an500)
//! cargo xtask soft-float          the parity firmware built for thumbv7em-none-eabi (no FPU ABI)
//! cargo xtask demo                the demo application (replayed sensor, generated classify()) in QEMU
//! cargo xtask m0                  the core on a Cortex-M0 (thumbv6m, QEMU microbit), sine parity
//! cargo xtask panic-never         blob → interpreter and generated forward(), linked with no panic path, in QEMU
//! cargo xtask verify [--dir D | --blob F] [--model M]  an exported blob (axon demo's by default) in QEMU == axon predict
//! cargo xtask lm [--blob F] [--board]  an int8 language model generating in QEMU == axon generate, token by token
//! cargo xtask ci                  check-models, kernel-test, parity, m7, soft-float, m0, demo, panic-never, lm
//! ```

mod firmware;
mod lm;
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
        /// With --retrain: only this network (a name in xtask's NETS).
        #[arg(long, requires = "retrain")]
        net: Option<String>,
    },
    /// Fail if a generated model file is stale.
    CheckModels,
    /// The DSP kernel against the scalar reference on random layers, in QEMU.
    KernelTest,
    /// Every row of the digits and sine data through every network's
    /// `forward()` and `GRAPH` (f32 and int8) in QEMU, compared bit for bit
    /// with `axon predict`.
    Parity,
    /// Instructions per layer and per inference under QEMU -icount.
    Bench,
    /// Flash and RAM of the model and engine.
    Footprint,
    /// The same firmware on a Cortex-M7 (mps2-an500).
    M7,
    /// The parity firmware built for the soft-float ABI (thumbv7em-none-eabi).
    SoftFloat,
    /// The demo application (replayed sensor frames, the digits model's
    /// generated `classify()`) in QEMU.
    Demo,
    /// The core's scalar path on a Cortex-M0 (thumbv6m).
    M0,
    /// A blob through the interpreter and a generated `forward()`, each in a
    /// firmware whose panic handler cannot link (no panic path survives),
    /// run in QEMU against `axon predict`.
    PanicNever,
    /// An exported blob (`model.axon` in `--dir`, with the JSON model beside
    /// it that `axon predict` runs) on every row of `--data`, in QEMU,
    /// compared with `axon predict`.
    Verify {
        /// Where `axon demo` wrote its files: runs `DIR/model.axon` against
        /// `DIR/model.int8.json`.
        #[arg(long, default_value = "out/demo")]
        dir: std::path::PathBuf,
        /// Any blob instead (`axon export --out`, f32 or int8).
        #[arg(long)]
        blob: Option<std::path::PathBuf>,
        /// The model `axon predict` runs as the reference (default: the
        /// JSON model beside the blob, else the blob itself).
        #[arg(long)]
        model: Option<std::path::PathBuf>,
        /// The rows to run (CSV, as `axon predict` reads it).
        #[arg(long, default_value = "data/digits.csv")]
        data: std::path::PathBuf,
        /// The QEMU machine: mps2-an386 (Cortex-M4F) or mps2-an500 (Cortex-M7).
        #[arg(long, default_value = "mps2-an386")]
        machine: String,
    },
    /// An int8 language model (`axon lm quantize --out`) generating text in
    /// QEMU, every token and logits code compared with `axon generate`;
    /// instructions per token by position and op. Without `--blob`: a small
    /// model trained and quantized for it (`out/lm-ci/`), and the default
    /// configuration (untrained weights: the same size and instructions)
    /// profiled and linked for the STM32F411CE.
    Lm {
        /// The int8 model.
        #[arg(long)]
        blob: Option<std::path::PathBuf>,
        /// Also link it for the STM32F411CE memory map and print its flash and RAM.
        #[arg(long)]
        board: bool,
        /// The QEMU machine: mps2-an386 (Cortex-M4F) or mps2-an500 (Cortex-M7).
        #[arg(long, default_value = "mps2-an386")]
        machine: String,
    },
    /// What CI runs: check-models, kernel-test, parity, m7, soft-float, m0,
    /// demo, panic-never, lm.
    Ci,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Models { retrain, net } => {
            if retrain {
                models::retrain(net.as_deref())?;
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
        Command::PanicNever => firmware::panic_never(),
        Command::Verify {
            dir,
            blob,
            model,
            data,
            machine,
        } => {
            let blob = blob.unwrap_or_else(|| dir.join("model.axon"));
            let exported = verify::Exported::new(&blob, model.as_deref());
            verify::verify(&exported, &data, &machine).map(|_| ())
        }
        Command::Lm {
            blob,
            board,
            machine,
        } => match blob {
            Some(b) => lm::lm(&b, &machine, board).map(|_| ()),
            None => lm::ci(&machine),
        },
        Command::Ci => {
            models::check()?;
            firmware::kernel_test()?;
            firmware::parity()?;
            firmware::m7()?;
            firmware::soft_float()?;
            firmware::m0()?;
            firmware::demo()?;
            firmware::panic_never()?;
            lm::ci("mps2-an386")
        }
    }
}
