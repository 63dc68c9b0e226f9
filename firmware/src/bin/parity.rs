//! Every row of the bundled digits and sine data through every exported
//! model — digits, sine and digits_residual, f32 and int8 — each both ways:
//! its generated `forward()` and its `GRAPH` through
//! `axon_core::Interpreter`. Each output is printed as its f32 bits, for
//! `cargo xtask parity` to compare with `axon predict` on the host.
//!
//! Lines: `f32.fwd NAME ROW [bits…]` (the f32 model's `forward()`),
//! `f32.graph …` (its `GRAPH`), `int8.fwd …` and `int8.graph …` (the int8
//! model's). An int8 model's outputs are the dequantized values, whose
//! bits determine the int8 codes (xtask's `host_outputs` says why).
#![no_std]
#![no_main]

use axon_core::graph::arena::Arena;
use axon_core::Interpreter;
use axon_firmware::mcu;
use axon_firmware::models::{self, input_row};
use cortex_m_rt::entry;

/// Widest input or output of any bundled model.
const MAXW: usize = 64;
/// Largest interpreter arena of any bundled model's `GRAPH`.
const GRAPH_ARENA: usize = 1024;

/// Prints one row's outputs under `tag`.
fn print(tag: &str, name: &str, row: usize, y: &[f32]) {
    let mut bits = [0u32; MAXW];
    for (b, v) in bits.iter_mut().zip(y) {
        *b = v.to_bits();
    }
    let bits = &bits[..y.len().min(MAXW)];
    defmt::println!("{=str} {=str} {=usize} {=[?]}", tag, name, row, bits);
}

fn fail(tag: &str, name: &str, row: usize, e: axon_core::Error) -> ! {
    defmt::error!(
        "{=str} {=str} row {=usize}: {}",
        tag,
        name,
        row,
        defmt::Display2Format(&e)
    );
    mcu::exit(false)
}

/// Every row of `inputs` through `GRAPH` (`n` inputs, `k` outputs); the
/// number of rows.
fn run_graph(tag: &str, name: &str, graph: axon_core::graph::Graph<'static>, inputs: &[u8]) -> u32 {
    let it = match Interpreter::new(graph) {
        Ok(it) => it,
        Err(e) => {
            defmt::error!("{=str} {=str}: {}", tag, name, defmt::Display2Format(&e));
            mcu::exit(false)
        }
    };
    let (n, k) = match (graph.input(0), graph.output(0)) {
        (Some(i), Some(o)) => (i.len(), o.len()),
        _ => mcu::exit(false),
    };
    if n > MAXW || k > MAXW {
        mcu::exit(false);
    }
    let mut arena = Arena::<GRAPH_ARENA>::new();
    let (mut x, mut y) = ([0f32; MAXW], [0f32; MAXW]);
    let mut row = 0;
    while input_row(inputs, n, row, &mut x[..n]) {
        if let Err(e) = it.run_f32(&x[..n], &mut y[..k], &mut arena.0) {
            fail(tag, name, row, e);
        }
        print(tag, name, row, &y[..k]);
        row += 1;
    }
    row as u32
}

/// Every row of `inputs` through a generated module's `forward()`, then
/// its `GRAPH` through the interpreter; the number of inferences.
macro_rules! run_model {
    ($m:ident, $name:literal, $kind:literal, $inputs:expr) => {{
        use models::$m as m;
        let tag = concat!($kind, ".fwd");
        let mut arena = m::Arena::new();
        let mut x = [0f32; m::INPUT_LEN];
        let mut y = [0f32; m::OUTPUT_LEN];
        let mut row = 0;
        while input_row($inputs, m::INPUT_LEN, row, &mut x) {
            if let Err(e) = m::forward(&x, &mut arena, &mut y) {
                fail(tag, $name, row, e);
            }
            print(tag, $name, row, &y);
            row += 1;
        }
        const { assert!(m::GRAPH_ARENA_LEN <= GRAPH_ARENA) };
        row as u32 + run_graph(concat!($kind, ".graph"), $name, m::GRAPH, $inputs)
    }};
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
    let (digits, sine) = (models::DIGITS_INPUTS, models::SINE_INPUTS);
    let mut n = 0;
    n += run_model!(digits_f32, "digits", "f32", digits);
    n += run_model!(digits_int8, "digits", "int8", digits);
    n += run_model!(sine_f32, "sine", "f32", sine);
    n += run_model!(sine_int8, "sine", "int8", sine);
    n += run_model!(digits_residual_f32, "digits_residual", "f32", digits);
    n += run_model!(digits_residual_int8, "digits_residual", "int8", digits);
    defmt::println!("parity: {=u32} inferences", n);
    mcu::exit(true)
}
