//! One inference and nothing else, to measure what a model and its engine
//! cost: built with feature `fp-sine`, `fp-digits` or `fp-residual` it runs
//! that int8 model once (float in, float out) through its generated
//! `forward()`, its arena a `static`; with `fp-generic` as well, the same
//! model's `GRAPH` through `axon_core::Interpreter` (which also runs
//! blobs) instead; with none, it is the same firmware without the model.
//! `cargo xtask footprint` subtracts the last from the others (flash and
//! static RAM from the ELF, stack by painting).
//!
//! Prints `stack N`: bytes of stack the inference used below `main`'s frame.
#![no_std]
#![no_main]

use axon_firmware::mcu;
use core::hint::black_box;
use cortex_m_rt::entry;

/// The input and output, present in every variant (only the model differs).
static mut INPUT: [f32; 64] = [0.5; 64];
static mut OUTPUT: [f32; 10] = [0.0; 10];

#[cfg(all(feature = "fp-digits", not(feature = "fp-residual")))]
use axon_firmware::models::digits_int8 as model;
#[cfg(feature = "fp-residual")]
use axon_firmware::models::digits_residual_int8 as model;
#[cfg(all(
    feature = "fp-sine",
    not(feature = "fp-digits"),
    not(feature = "fp-residual")
))]
use axon_firmware::models::sine_int8 as model;

/// The generated `forward()`, its arena static (zeroed .bss: counted as
/// static RAM).
#[cfg(all(
    any(feature = "fp-sine", feature = "fp-digits", feature = "fp-residual"),
    not(feature = "fp-generic")
))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    use model::{forward, Arena, INPUT_LEN, OUTPUT_LEN};
    static mut ARENA: Arena = Arena::new();
    // SAFETY: the only reference to ARENA, taken once (one inference).
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let (Some(x), Some(y)) = (
        x.first_chunk::<INPUT_LEN>(),
        y.first_chunk_mut::<OUTPUT_LEN>(),
    ) else {
        return false;
    };
    forward(x, arena, y).is_ok()
}

/// `GRAPH` through the interpreter, its arena on the stack (as the old
/// generic engine's scratch was: counted in the painted stack).
#[cfg(all(
    any(feature = "fp-sine", feature = "fp-digits", feature = "fp-residual"),
    feature = "fp-generic"
))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    use model::{GRAPH, GRAPH_ARENA_LEN, INPUT_LEN, OUTPUT_LEN};
    let mut arena = axon_core::graph::arena::Arena::<GRAPH_ARENA_LEN>::new();
    match axon_core::Interpreter::new(GRAPH) {
        Ok(it) => it
            .run_f32(&x[..INPUT_LEN], &mut y[..OUTPUT_LEN], &mut arena.0)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(not(any(feature = "fp-sine", feature = "fp-digits", feature = "fp-residual")))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    // No model: the input and output are still read and written.
    y[0] = black_box(x[0]);
    true
}

#[entry]
fn main() -> ! {
    // SAFETY: the only references to the two statics, taken once.
    let (x, y) = unsafe {
        (
            &*core::ptr::addr_of!(INPUT),
            &mut *core::ptr::addr_of_mut!(OUTPUT),
        )
    };
    let (ok, stack) = mcu::stack::usage(16 * 1024, || infer(black_box(x), black_box(&mut *y)));
    black_box(&y);
    defmt::println!("stack {=usize}", stack);
    mcu::exit(ok)
}
