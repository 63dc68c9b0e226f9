//! Shared by the fuzz targets: aligned copy, parse, and run what parses.

use axon_core::blob::parse;

/// Copies `data` into a 4-aligned buffer (as a blob sits in flash).
pub fn aligned(data: &[u8]) -> Vec<u32> {
    let mut words = vec![0u32; data.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..data.len()].copy_from_slice(data);
    words
}

/// Parses `bytes` and runs any model that parses on a few inputs. Nothing
/// here may panic, whatever the bytes.
pub fn parse_and_run(bytes: &[u8]) {
    let Ok(m) = parse(bytes) else {
        return;
    };
    if m.scratch_len() > 1 << 16 || m.input_len > 1 << 12 || m.output_len > 1 << 12 {
        return; // valid, but too wide to be worth allocating for
    }
    let mut scratch = vec![0i8; m.scratch_len()];
    let mut codes = vec![0i8; m.output_len];
    let mut y = vec![0f32; m.output_len];
    for v in [0.0f32, 1.0, -3.0e38, f32::NAN] {
        let x = vec![v; m.input_len];
        let _ = m.run(&x, &mut scratch, &mut codes, &mut y);
        let _ = m.classify(&x, &mut scratch);
        let q = vec![v as i8; m.input_len];
        let _ = m.run_i8(&q, &mut scratch, &mut codes);
    }
}
