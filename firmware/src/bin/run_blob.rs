//! Runs any exported model blob (f32 or int8) on every input row, both
//! read from the host's file system through semihosting at run time — so a
//! freshly trained model (`axon demo`, `axon export`) is checked on the MCU
//! without rebuilding the firmware: `axon_core::blob::parse`, then the
//! interpreter. `cargo xtask verify` drives it and compares the output with
//! `axon predict`, bit for bit.
//!
//! Reads `model.axon` and `inputs.bin` (row-major f32 LE, the graph's input
//! width per row) from QEMU's current directory. Prints `B verify ROW
//! [bits…]` lines: each output value's f32 bits (for an int8 model the
//! dequantized outputs, whose bits determine the codes).
#![no_std]
#![no_main]

use axon_firmware::mcu::{self, read_host_file};
use axon_firmware::models::{input_row, Aligned};
use cortex_m_rt::entry;

/// Largest blob and input file this runner accepts (mps2 has 4 MiB of RAM).
const BLOB_CAP: usize = 512 * 1024;
const INPUTS_CAP: usize = 2 * 1024 * 1024;
/// Widest input and output, and the largest arena, this runner provides.
const MAXW: usize = 1024;
const ARENA: usize = 64 * 1024;

/// The interpreter's arena (8-byte aligned).
type Arena = axon_core::graph::arena::Arena<ARENA>;

#[entry]
fn main() -> ! {
    let (Some(blob), Some(inputs), Some(arena)) = (
        cortex_m::singleton!(: Aligned<[u8; BLOB_CAP]> = Aligned([0; BLOB_CAP])),
        cortex_m::singleton!(: Aligned<[u8; INPUTS_CAP]> = Aligned([0; INPUTS_CAP])),
        cortex_m::singleton!(: Arena = Arena::new()),
    ) else {
        defmt::error!("run_blob: buffers taken twice");
        mcu::exit(false)
    };
    let Some(blob_len) = read_host_file(b"model.axon\0", &mut blob.0) else {
        defmt::error!(
            "run_blob: cannot read model.axon (at most {=usize} bytes)",
            BLOB_CAP
        );
        mcu::exit(false)
    };
    let Some(inputs_len) = read_host_file(b"inputs.bin\0", &mut inputs.0) else {
        defmt::error!(
            "run_blob: cannot read inputs.bin (at most {=usize} bytes)",
            INPUTS_CAP
        );
        mcu::exit(false)
    };
    let model = match axon_core::blob::parse(&blob.0[..blob_len]) {
        Ok(m) => m,
        Err(e) => {
            defmt::error!(
                "run_blob: model.axon rejected: {}",
                defmt::Display2Format(&e)
            );
            mcu::exit(false)
        }
    };
    let g = model.graph();
    let (Some(i), Some(o)) = (g.input(0), g.output(0)) else {
        mcu::exit(false)
    };
    let (n, k) = (i.len(), o.len());
    if g.inputs.len() != 1 || g.outputs.len() != 1 || n > MAXW || k > MAXW {
        defmt::error!(
            "run_blob: not one input and one output of at most {=usize} values",
            MAXW
        );
        mcu::exit(false)
    }
    if model.arena_len() > ARENA {
        defmt::error!(
            "run_blob: the model needs {=usize} bytes of arena, this runner has {=usize}",
            model.arena_len(),
            ARENA
        );
        mcu::exit(false)
    }
    defmt::println!(
        "run_blob: {=usize} B blob, {=usize} nodes, {=usize} -> {=usize}, {=usize} B arena, kernel {=str}",
        blob_len,
        g.nodes.len(),
        n,
        k,
        model.arena_len(),
        axon_core::kernels::dispatch::selected().name()
    );
    let (mut x, mut y) = ([0f32; MAXW], [0f32; MAXW]);
    let mut bits = [0u32; MAXW];
    let data = &inputs.0[..inputs_len];
    let mut row = 0;
    while input_row(data, n, row, &mut x[..n]) {
        if let Err(e) = model.run_f32(&x[..n], &mut y[..k], &mut arena.0) {
            defmt::error!("run_blob: row {=usize}: {}", row, defmt::Display2Format(&e));
            mcu::exit(false);
        }
        for (b, v) in bits.iter_mut().zip(&y[..k]) {
            *b = v.to_bits();
        }
        defmt::println!("B verify {=usize} {=[?]}", row, &bits[..k]);
        row += 1;
    }
    defmt::println!("run_blob: {=usize} inferences", row);
    mcu::exit(true)
}
