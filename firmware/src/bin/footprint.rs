//! One inference and nothing else, to measure what a model and its engine
//! cost: built with feature `fp-sine` or `fp-digits` it runs that int8
//! model once (float in, float out); built with neither it is the same
//! firmware without the model. `cargo xtask footprint` subtracts the two
//! (flash and static RAM from the ELF, stack by painting).
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

// The compiled engine (`COMPILED`), its activation buffers static (zeroed
// .bss: counted as static RAM); with feature `fp-generic` the generic one
// (`MODEL`, which also runs blobs), for comparison.
#[cfg(all(feature = "fp-digits", not(feature = "fp-generic")))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    use axon_core::int8::compiled::Buffers;
    use axon_firmware::models::digits_int8::{COMPILED, OUTPUT_LEN, QUADS};
    static mut BUF: Buffers<QUADS> = Buffers::new();
    // SAFETY: the only reference to BUF, taken once (one inference).
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let mut codes = [0i8; OUTPUT_LEN];
    COMPILED
        .run(x, buf, &mut codes, &mut y[..OUTPUT_LEN])
        .is_ok()
}

#[cfg(all(
    feature = "fp-sine",
    not(feature = "fp-digits"),
    not(feature = "fp-generic")
))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    use axon_core::int8::compiled::Buffers;
    use axon_firmware::models::sine_int8::{COMPILED, INPUT_LEN, OUTPUT_LEN, QUADS};
    static mut BUF: Buffers<QUADS> = Buffers::new();
    // SAFETY: the only reference to BUF, taken once (one inference).
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let mut codes = [0i8; OUTPUT_LEN];
    COMPILED
        .run(&x[..INPUT_LEN], buf, &mut codes, &mut y[..OUTPUT_LEN])
        .is_ok()
}

#[cfg(all(feature = "fp-digits", feature = "fp-generic"))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    use axon_firmware::models::digits_int8::{MODEL, OUTPUT_LEN, SCRATCH_LEN};
    let mut scratch = [0i8; SCRATCH_LEN];
    let mut codes = [0i8; OUTPUT_LEN];
    MODEL
        .run(x, &mut scratch, &mut codes, &mut y[..OUTPUT_LEN])
        .is_ok()
}

#[cfg(all(
    feature = "fp-sine",
    not(feature = "fp-digits"),
    feature = "fp-generic"
))]
fn infer(x: &[f32; 64], y: &mut [f32; 10]) -> bool {
    use axon_firmware::models::sine_int8::{INPUT_LEN, MODEL, OUTPUT_LEN, SCRATCH_LEN};
    let mut scratch = [0i8; SCRATCH_LEN];
    let mut codes = [0i8; OUTPUT_LEN];
    MODEL
        .run(
            &x[..INPUT_LEN],
            &mut scratch,
            &mut codes,
            &mut y[..OUTPUT_LEN],
        )
        .is_ok()
}

#[cfg(not(any(feature = "fp-sine", feature = "fp-digits")))]
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
    let (ok, stack) = mcu::stack::usage(4096, || infer(black_box(x), black_box(&mut *y)));
    black_box(&y);
    defmt::println!("stack {=usize}", stack);
    mcu::exit(ok)
}
