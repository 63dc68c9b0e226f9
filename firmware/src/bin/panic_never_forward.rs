//! Proof that a generated `forward()` has no panic left: the digits,
//! digits_residual and sine models' `forward()` (`axon export --rust`),
//! int8 (the packed layers, the staged input, the trimmed softmax, the
//! residual adds) and f32 (the `VFMA.F32` GEMV, the f32 softmax), on every
//! row of their data, the inputs hidden from the optimiser behind
//! `black_box`, with a static arena.
//!
//! The panic handler calls an `extern "C"` function that exists nowhere
//! (the `panic-never` crate's technique): the release build links only if
//! no panic path survived optimisation. Prints `checksum NAME FILE ROWS
//! FNV` (FNV-1a of every output's f32 bits, `models::Fnv`), which `cargo
//! xtask panic-never` compares with the same sum over `axon predict`'s
//! outputs.
#![no_std]
#![no_main]

use axon_firmware::mcu;
use axon_firmware::models::{self, input_row, Fnv};
use core::hint::black_box;
use cortex_m_rt::entry;

axon_firmware::panic_never_handler!();

/// Every row through a generated module's `forward()`, with its arena in
/// a `static`; prints the checksum line.
macro_rules! run {
    ($m:ident, $name:literal, $file:literal, $inputs:expr) => {{
        use models::$m as m;
        static mut ARENA: m::Arena = m::Arena::new();
        // SAFETY: the only reference to ARENA, taken once.
        let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
        let mut x = [0f32; m::INPUT_LEN];
        let mut y = [0f32; m::OUTPUT_LEN];
        let mut sum = Fnv::new();
        let mut row = 0;
        let mut ok = true;
        while input_row(black_box($inputs), m::INPUT_LEN, row, &mut x) {
            if m::forward(black_box(&x), arena, &mut y).is_err() {
                defmt::error!("{=str}: row {=usize} failed", $name, row);
                ok = false;
                break;
            }
            for v in y.iter() {
                sum.word(v.to_bits());
            }
            row += 1;
        }
        if ok {
            defmt::println!(
                "checksum {=str} {=str} {=usize} {=u32}",
                $name,
                $file,
                row,
                sum.0
            );
        }
        ok
    }};
}

#[entry]
fn main() -> ! {
    let ok = run!(
        digits_int8,
        "digits",
        "digits.int8.json",
        models::DIGITS_INPUTS
    ) && run!(
        digits_residual_int8,
        "digits_residual",
        "digits_residual.int8.json",
        models::DIGITS_INPUTS
    ) && run!(sine_int8, "sine", "sine.int8.json", models::SINE_INPUTS)
        && run!(digits_f32, "digits", "digits.json", models::DIGITS_INPUTS)
        && run!(
            digits_residual_f32,
            "digits_residual",
            "digits_residual.json",
            models::DIGITS_INPUTS
        )
        && run!(sine_f32, "sine", "sine.json", models::SINE_INPUTS);
    mcu::exit(ok)
}
