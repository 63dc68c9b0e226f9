//! Proof that the blob path has no panic left: int8 model blobs (digits,
//! digits_residual, sine; `include_bytes!` in an aligned wrapper) parsed by
//! `axon_core::blob::parse` and run through `axon_core::Interpreter` on
//! every row of their data, the bytes and the inputs hidden from the
//! optimiser behind `black_box`.
//!
//! The panic handler calls an `extern "C"` function that exists nowhere
//! (the `panic-never` crate's technique): the release build links only if
//! no panic path survived optimisation — in the parser, the validator, the
//! interpreter, every op it can dispatch to, or this binary. Prints
//! `checksum NAME FILE ROWS FNV` (FNV-1a of every output's f32 bits,
//! `models::Fnv`), which `cargo xtask panic-never` compares with the same
//! sum over `axon predict`'s outputs.
#![no_std]
#![no_main]

use axon_core::graph::arena::Arena;
use axon_firmware::mcu;
use axon_firmware::models::{self, input_row, Fnv};
use core::hint::black_box;
use cortex_m_rt::entry;

axon_firmware::panic_never_handler!();

/// Widest input or output, and the arena, this runner provides.
const MAXW: usize = 64;
const ARENA: usize = 2048;

/// Every row of `inputs` through the blob; prints the checksum line.
fn run(name: &str, file: &str, blob: &[u8], inputs: &[u8]) -> bool {
    let Ok(it) = axon_core::blob::parse(black_box(blob)) else {
        defmt::error!("{=str}: the blob is rejected", name);
        return false;
    };
    let g = it.graph();
    let (Some(i), Some(o)) = (g.input(0), g.output(0)) else {
        return false;
    };
    let (n, k) = (i.len(), o.len());
    if n > MAXW || k > MAXW {
        return false;
    }
    let mut arena = Arena::<ARENA>::new();
    let (mut x, mut y) = ([0f32; MAXW], [0f32; MAXW]);
    let (Some(x), Some(y)) = (x.get_mut(..n), y.get_mut(..k)) else {
        return false;
    };
    let mut sum = Fnv::new();
    let mut row = 0;
    while input_row(black_box(inputs), n, row, x) {
        if it.run_f32(black_box(&*x), y, &mut arena.0).is_err() {
            defmt::error!("{=str}: row {=usize} failed", name, row);
            return false;
        }
        for v in y.iter() {
            sum.word(v.to_bits());
        }
        row += 1;
    }
    defmt::println!(
        "checksum {=str} {=str} {=usize} {=u32}",
        name,
        file,
        row,
        sum.0
    );
    true
}

#[entry]
fn main() -> ! {
    let ok = run(
        "digits",
        "digits.int8.json",
        &models::DIGITS_INT8_BLOB.0,
        models::DIGITS_INPUTS,
    ) && run(
        "digits_residual",
        "digits_residual.int8.json",
        &models::DIGITS_RESIDUAL_INT8_BLOB.0,
        models::DIGITS_INPUTS,
    ) && run(
        "sine",
        "sine.int8.json",
        &models::SINE_INT8_BLOB.0,
        models::SINE_INPUTS,
    );
    mcu::exit(ok)
}
