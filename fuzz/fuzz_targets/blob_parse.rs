//! Arbitrary bytes into the blob parser (and one inference through the
//! interpreter, when they parse). Mostly exercises the checks in front of
//! the CRC; `blob_resealed` reaches behind it.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let words = common::aligned(data);
    let bytes = &bytemuck::cast_slice::<u32, u8>(&words)[..data.len()];
    common::parse_and_run(bytes, data.len() as u8);
    // The same bytes one byte off alignment must be refused, not misread.
    if let Some(rest) = bytes.get(1..) {
        if let Ok(it) = axon_core::blob::parse(rest) {
            panic!("an unaligned blob parsed: {} nodes", it.graph().nodes.len());
        }
    }
});
