//! The core's portable path on a Cortex-M0 (Armv6-M: no DSP extension, so
//! the dispatch picks the scalar int8 kernel): every row of the sine data
//! through the int8 sine model, generic and compiled engines, printed like
//! `parity` prints it, for
//! `cargo xtask m0` to compare with `axon predict`. (The digits inputs do
//! not fit the micro:bit's 256 KiB of flash.)
#![no_std]
#![no_main]

use axon_firmware::mcu;
use axon_firmware::models::{input_row, sine_int8, SINE_INPUTS};
use cortex_m_rt::entry;

#[entry]
fn main() -> ! {
    let m = &sine_int8::MODEL;
    let (n, k) = (sine_int8::INPUT_LEN, sine_int8::OUTPUT_LEN);
    let mut x = [0f32; sine_int8::INPUT_LEN];
    let mut scratch = [0i8; sine_int8::SCRATCH_LEN];
    let mut codes = [0i8; sine_int8::OUTPUT_LEN];
    let mut y = [0f32; sine_int8::OUTPUT_LEN];
    let mut buf = axon_core::int8::compiled::Buffers::<{ sine_int8::QUADS }>::new();
    let mut row = 0;
    while input_row(SINE_INPUTS, n, row, &mut x) {
        if let Err(e) = m.run(&x, &mut scratch, &mut codes, &mut y) {
            defmt::error!("sine int8 row {}: {}", row, defmt::Display2Format(&e));
            mcu::exit(false);
        }
        let mut cells = [0i64; 2 * sine_int8::OUTPUT_LEN];
        for i in 0..k {
            cells[i] = codes[i] as i64;
            cells[k + i] = y[i].to_bits() as i64;
        }
        defmt::println!("Q {=str} {=usize} {=[?]}", "sine", row, &cells[..]);
        // The compiled engine's portable path (plain-Rust twin of the
        // assembly), lines `C`.
        if let Err(e) = sine_int8::COMPILED.run(&x, &mut buf, &mut codes, &mut y) {
            defmt::error!("sine compiled row {}: {}", row, defmt::Display2Format(&e));
            mcu::exit(false);
        }
        for i in 0..k {
            cells[i] = codes[i] as i64;
            cells[k + i] = y[i].to_bits() as i64;
        }
        defmt::println!("C {=str} {=usize} {=[?]}", "sine", row, &cells[..]);
        row += 1;
    }
    defmt::println!(
        "m0: {=usize} inferences, int8 kernel {=str}",
        row,
        axon_core::kernels::dispatch::selected().name()
    );
    mcu::exit(true)
}
