//! The core's portable path on a Cortex-M0 (Armv6-M: no DSP extension, so
//! the dispatch picks the scalar int8 kernel and the packed layers run
//! their plain-Rust twin): every row of the sine data through the f32 and
//! int8 sine models, each through its generated `forward()` and its `GRAPH`
//! through the interpreter, printed like `parity` prints it, for `cargo
//! xtask m0` to compare with `axon predict`. (The digits inputs do not fit
//! the micro:bit's 256 KiB of flash.)
#![no_std]
#![no_main]

use axon_core::graph::arena::Arena;
use axon_core::Interpreter;
use axon_firmware::mcu;
use axon_firmware::models::{input_row, sine_f32, sine_int8, SINE_INPUTS};
use cortex_m_rt::entry;

/// Every sine row through `forward` (tag `$kind.fwd`) and `GRAPH`
/// through the interpreter (`$kind.graph`); the number of inferences.
macro_rules! run {
    ($m:ident, $kind:literal) => {{
        use $m as m;
        let mut arena = m::Arena::new();
        let mut graph_arena = Arena::<{ m::GRAPH_ARENA_LEN }>::new();
        let Ok(it) = Interpreter::new(m::GRAPH) else {
            defmt::error!("sine {=str}: GRAPH does not validate", $kind);
            mcu::exit(false)
        };
        let mut x = [0f32; m::INPUT_LEN];
        let (mut y, mut yg) = ([0f32; m::OUTPUT_LEN], [0f32; m::OUTPUT_LEN]);
        let mut row = 0;
        while input_row(SINE_INPUTS, m::INPUT_LEN, row, &mut x) {
            let ok = m::forward(&x, &mut arena, &mut y).is_ok()
                && it.run_f32(&x, &mut yg, &mut graph_arena.0).is_ok();
            if !ok {
                defmt::error!("sine {=str} row {=usize} failed", $kind, row);
                mcu::exit(false);
            }
            let (b, bg) = (y.map(f32::to_bits), yg.map(f32::to_bits));
            let (tf, tg) = (concat!($kind, ".fwd"), concat!($kind, ".graph"));
            defmt::println!("{=str} sine {=usize} {=[?]}", tf, row, &b[..]);
            defmt::println!("{=str} sine {=usize} {=[?]}", tg, row, &bg[..]);
            row += 1;
        }
        2 * row
    }};
}

#[entry]
fn main() -> ! {
    let n = run!(sine_f32, "f32") + run!(sine_int8, "int8");
    defmt::println!(
        "m0: {=usize} inferences, int8 kernel {=str}",
        n,
        axon_core::kernels::dispatch::selected().name()
    );
    mcu::exit(true)
}
