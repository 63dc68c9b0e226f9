//! Every row of the bundled digits and sine data through the exported f32
//! and int8 models, each output printed as its f32 bits, for `cargo xtask
//! parity` to compare with `axon predict` on the host.
//!
//! Lines: `P name row [bits…]` (f32 model: each output's f32 bits), `Q
//! name row [codes…, bits…]` (int8 model: the output codes, then the bits of
//! their dequantized values, the columns of `axon predict`), `C name row
//! […]` (the same int8 model through the compiled engine, `COMPILED`).
#![no_std]
#![no_main]

use axon_core::int8::compiled::{self, Buffers, Requant};
use axon_core::int8::Model;
use axon_firmware::f32_model::F32Model;
use axon_firmware::mcu;
use axon_firmware::models::{self, digits_f32, digits_int8, input_row, sine_f32, sine_int8};
use cortex_m_rt::entry;

/// Widest tensor of any bundled model.
const MAXW: usize = 64;

fn run_f32(name: &str, m: &F32Model, inputs: &[u8]) -> u32 {
    let (mut x, mut a, mut b, mut y) = ([0f32; MAXW], [0f32; MAXW], [0f32; MAXW], [0f32; MAXW]);
    let mut row = 0;
    while input_row(inputs, m.inputs, row, &mut x[..m.inputs]) {
        if let Err(e) = m.run(&x[..m.inputs], &mut a, &mut b, &mut y[..m.outputs]) {
            defmt::error!("{} f32 row {}: {}", name, row, defmt::Display2Format(&e));
            mcu::exit(false);
        }
        let bits = y.map(f32::to_bits);
        defmt::println!("P {=str} {=usize} {=[?]}", name, row, &bits[..m.outputs]);
        row += 1;
    }
    row as u32
}

/// Every row through `run` (an int8 model, generic or compiled), printed
/// under `tag` as `axon predict` prints an int8 model: the codes, then the
/// values.
fn run_int8(
    tag: &str,
    name: &str,
    (n, k): (usize, usize),
    inputs: &[u8],
    mut run: impl FnMut(&[f32], &mut [i8], &mut [f32]) -> Result<(), axon_core::Error>,
) -> u32 {
    let (mut x, mut codes, mut y) = ([0f32; MAXW], [0i8; MAXW], [0f32; MAXW]);
    let mut row = 0;
    while input_row(inputs, n, row, &mut x[..n]) {
        if let Err(e) = run(&x[..n], &mut codes[..k], &mut y[..k]) {
            defmt::error!(
                "{} {} row {}: {}",
                tag,
                name,
                row,
                defmt::Display2Format(&e)
            );
            mcu::exit(false);
        }
        let mut cells = [0i64; 2 * MAXW];
        for i in 0..k {
            cells[i] = codes[i] as i64;
            cells[k + i] = y[i].to_bits() as i64;
        }
        defmt::println!(
            "{=str} {=str} {=usize} {=[?]}",
            tag,
            name,
            row,
            &cells[..2 * k]
        );
        row += 1;
    }
    row as u32
}

/// The generic engine (`MODEL`, lines `Q`).
fn run_generic(name: &str, m: &Model<'_>, inputs: &[u8]) -> u32 {
    let mut scratch = [0i8; 2 * MAXW];
    run_int8("Q", name, (m.input_len, m.output_len), inputs, |x, c, y| {
        m.run(x, &mut scratch, c, y)
    })
}

/// The compiled engine (`COMPILED`, lines `C`).
fn run_compiled<R: Requant, const N: usize>(
    name: &str,
    m: &compiled::Model<'_, R>,
    buf: &mut Buffers<N>,
    inputs: &[u8],
) -> u32 {
    run_int8(
        "C",
        name,
        (m.input_len(), m.output_len()),
        inputs,
        |x, c, y| m.run(x, buf, c, y),
    )
}

#[entry]
fn main() -> ! {
    // The fast path must really run: on a DSP target the dispatch has to
    // pick the Cortex-M kernels (a silent scalar fallback would prove
    // nothing about them).
    let kernel = axon_core::kernels::dispatch::selected();
    defmt::println!("parity: kernel {=str}", kernel.name());
    #[cfg(dsp_kernel)]
    if kernel != axon_core::kernels::KernelId::CortexMDsp {
        defmt::error!("expected the cortex-m-dsp kernel on this target");
        mcu::exit(false);
    }
    let mut n = 0;
    n += run_f32("digits", &digits_f32::MODEL, models::DIGITS_INPUTS);
    n += run_generic("digits", &digits_int8::MODEL, models::DIGITS_INPUTS);
    n += run_compiled(
        "digits",
        &digits_int8::COMPILED,
        &mut Buffers::<{ digits_int8::QUADS }>::new(),
        models::DIGITS_INPUTS,
    );
    n += run_f32("sine", &sine_f32::MODEL, models::SINE_INPUTS);
    n += run_generic("sine", &sine_int8::MODEL, models::SINE_INPUTS);
    n += run_compiled(
        "sine",
        &sine_int8::COMPILED,
        &mut Buffers::<{ sine_int8::QUADS }>::new(),
        models::SINE_INPUTS,
    );
    defmt::println!("parity: {=u32} inferences", n);
    mcu::exit(true)
}
