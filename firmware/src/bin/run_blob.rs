//! Runs any exported model blob on every input row, both read from the
//! host's file system through semihosting at run time — so a freshly
//! trained model (`axon demo`, `axon export`) is checked on the MCU without
//! rebuilding the firmware. `cargo xtask verify` drives it and compares the
//! output with `axon predict`, bit for bit.
//!
//! Reads `model.axon` and `inputs.bin` (row-major f32 LE, `input_len` per
//! row) from QEMU's current directory. Prints `Q verify row [codes…, bits…]`
//! lines, the columns of `axon predict` for an int8 model.
#![no_std]
#![no_main]

use axon_firmware::mcu;
use axon_firmware::models::input_row;
use cortex_m_rt::entry;
use cortex_m_semihosting::{nr, syscall};

/// Largest blob and input file this runner accepts (mps2 has 4 MiB of RAM).
const BLOB_CAP: usize = 512 * 1024;
const INPUTS_CAP: usize = 2 * 1024 * 1024;
/// Widest tensor and scratch this runner provides.
const MAXW: usize = 1024;

/// A 4-byte-aligned buffer: the blob's i32/f32 arrays are viewed in place.
#[repr(C, align(4))]
struct Aligned<const N: usize>([u8; N]);

/// Reads the host file `path` (NUL-terminated) into `buf`; its length, or
/// `None` if it cannot be opened, does not fit, or reads short.
fn read_host_file(path: &[u8], buf: &mut [u8]) -> Option<usize> {
    let name_len = path.len().checked_sub(1)?;
    // SAFETY: SYS_OPEN reads `name_len` bytes of `path` (NUL-terminated, live
    // for the call); QEMU's semihosting implements it for the host's files.
    let fd = unsafe { syscall!(OPEN, path.as_ptr(), nr::open::R_BINARY, name_len) } as isize;
    if fd < 0 {
        return None;
    }
    // SAFETY: SYS_FLEN on the handle just opened.
    let len = unsafe { syscall!(FLEN, fd) } as isize;
    let fits = len >= 0 && (len as usize) <= buf.len();
    // SAFETY: SYS_READ writes at most `len` bytes into `buf`, which holds at
    // least `len` bytes when `fits`.
    let unread = if fits {
        unsafe { syscall!(READ, fd, buf.as_mut_ptr(), len) }
    } else {
        usize::MAX
    };
    // SAFETY: SYS_CLOSE on the handle opened above, once.
    unsafe { syscall!(CLOSE, fd) };
    (fits && unread == 0).then_some(len as usize)
}

#[entry]
fn main() -> ! {
    let (Some(blob), Some(inputs)) = (
        cortex_m::singleton!(: Aligned<BLOB_CAP> = Aligned([0; BLOB_CAP])),
        cortex_m::singleton!(: Aligned<INPUTS_CAP> = Aligned([0; INPUTS_CAP])),
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
    let (n, k) = (model.input_len, model.output_len);
    if n > MAXW || k > MAXW || model.scratch_len() > 2 * MAXW {
        defmt::error!("run_blob: model wider than this runner ({=usize})", MAXW);
        mcu::exit(false)
    }
    defmt::println!(
        "run_blob: {=usize} B blob, {=usize} -> {=usize}, kernel {=str}",
        blob_len,
        n,
        k,
        axon_core::kernels::dispatch::selected().name()
    );
    let (mut x, mut scratch) = ([0f32; MAXW], [0i8; 2 * MAXW]);
    let (mut codes, mut y) = ([0i8; MAXW], [0f32; MAXW]);
    let mut cells = [0i64; 2 * MAXW];
    let data = &inputs.0[..inputs_len];
    let mut row = 0;
    while input_row(data, n, row, &mut x[..n]) {
        if let Err(e) = model.run(&x[..n], &mut scratch, &mut codes[..k], &mut y[..k]) {
            defmt::error!("run_blob: row {=usize}: {}", row, defmt::Display2Format(&e));
            mcu::exit(false);
        }
        for i in 0..k {
            cells[i] = codes[i] as i64;
            cells[k + i] = y[i].to_bits() as i64;
        }
        defmt::println!("Q verify {=usize} {=[?]}", row, &cells[..2 * k]);
        row += 1;
    }
    defmt::println!("run_blob: {=usize} inferences", row);
    mcu::exit(true)
}
