//! Arbitrary bytes with the CRC recomputed before parsing, so that the
//! fuzzer reaches the structural checks (tables, records, arrays, names)
//! and the graph's validation behind the checksum, and the interpreter
//! behind those.
#![no_main]

mod common;

use axon_core::blob::format::{header, CRC_LEN};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut words = common::aligned(data);
    let bytes = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..data.len()];
    let at = header::TOTAL_LEN.offset;
    if let Some(t) = bytes.get(at..at + 4) {
        let total = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize;
        if total >= CRC_LEN && total <= bytes.len() {
            let crc = axon_core::crc32::crc32(&bytes[..total - CRC_LEN]);
            bytes[total - CRC_LEN..total].copy_from_slice(&crc.to_le_bytes());
        }
    }
    common::parse_and_run(bytes, data.len() as u8);
});
