//! knurling convention: put the board's `memory.x` where the linker finds it.
//! The QEMU build (feature `qemu`) uses the MPS2 map, the board build
//! (feature `board`) the STM32F411CE one, the Cortex-M0 build (feature
//! `microbit`, target thumbv6m-none-eabi) QEMU's micro:bit.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let map = if env::var_os("CARGO_FEATURE_BOARD").is_some() {
        "memory/stm32f411ce.x"
    } else if env::var_os("CARGO_FEATURE_MICROBIT").is_some() {
        "memory/microbit.x"
    } else {
        "memory/mps2.x"
    };
    fs::copy(map, out.join("memory.x")).expect("copy the memory map");
    println!("cargo::rustc-link-search={}", out.display());
    println!("cargo::rerun-if-changed=memory");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=models");

    // The Cortex-M DSP kernel exists in axon-core exactly when core/build.rs
    // sets `axon_arm_dsp`: on thumbv7em, unless AXON_NO_DSP=1 (the scalar
    // build `cargo xtask bench` measures too). Mirror it for the binaries
    // that call the kernel directly.
    println!("cargo::rustc-check-cfg=cfg(dsp_kernel)");
    // `--cfg panic_probe`: the panic-never binaries with a panic handler
    // that links (to find a surviving panic path in the disassembly).
    println!("cargo::rustc-check-cfg=cfg(panic_probe)");
    println!("cargo::rerun-if-env-changed=AXON_NO_DSP");
    let target = env::var("TARGET").unwrap_or_default();
    let no_dsp = env::var("AXON_NO_DSP").is_ok_and(|v| v == "1");
    if target.starts_with("thumbv7em-") && !no_dsp {
        println!("cargo::rustc-cfg=dsp_kernel");
    }
    // Thumb-2 (Armv7-M and later): the stack painter's assembly needs it.
    println!("cargo::rustc-check-cfg=cfg(thumb2)");
    if target.starts_with("thumbv7") || target.starts_with("thumbv8m.main") {
        println!("cargo::rustc-cfg=thumb2");
    }
}
