//! Arbitrary bytes as an int8 LM blob, with the CRC recomputed so the
//! fuzzer reaches the section checks behind it; a blob that parses runs a
//! few token steps (which must return values, never panic).
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut words = common::aligned(data);
    let bytes = bytemuck::cast_slice_mut::<u32, u8>(&mut words);
    let n = data.len();
    if n >= 8 {
        let crc = axon_core::crc32::crc32(&bytes[..n - 4]);
        bytes[n - 4..n].copy_from_slice(&crc.to_le_bytes());
    }
    let Ok(model) = axon_core::lm::parse(&bytes[..n]) else {
        return;
    };
    if model.kv_len() > 1 << 20 || model.scratch_len() > 1 << 16 {
        return;
    }
    let mut kv = vec![0i8; model.kv_len()];
    let mut scratch = vec![0i8; model.scratch_len()];
    let Ok(mut s) = axon_core::lm::Session::new(&model, &mut kv, &mut scratch) else {
        return;
    };
    for t in 0..4u8 {
        let _ = s.step(t);
    }
});
