//! Tells the core whether the target has the Arm DSP extension.
//!
//! Stable Rust hides Arm's target features from `cfg(target_feature)` (they
//! are unstable), so `cfg(target_feature = "dsp")` is false even on
//! `thumbv7em`. This script sets `cfg(axon_arm_dsp)` instead: from the target
//! triple (every `thumbv7em-*` core, Cortex-M4/M7, has the DSP extension),
//! or from `dsp` in the target features when the compiler reports it
//! (nightly, or `-C target-feature=+dsp` on an Armv8-M Mainline target).
//! `AXON_NO_DSP=1` forces the scalar kernels (to measure them on the same
//! target).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(axon_arm_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=AXON_NO_DSP");

    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let target = env::var("TARGET").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let forced_off = env::var("AXON_NO_DSP").is_ok_and(|v| v == "1");

    let dsp = features.split(',').any(|f| f == "dsp") || target.starts_with("thumbv7em-");
    if arch == "arm" && dsp && !forced_off {
        println!("cargo::rustc-cfg=axon_arm_dsp");
    }
}
