//! The packed layer in plain Rust: every target without the DSP extension,
//! and the host's reference for the assembly.

use super::{Block, PackedDense, Quad};

#[inline(always)]
pub(super) fn dense_double(l: &PackedDense<'_>, x: &[Quad], out: &mut [Quad]) {
    l.run_doubled_with(x, out, super::requant_doubled);
}

#[inline(always)]
pub(super) fn dot4(w: &[Block], x: &[Quad], n: usize, acc: [i32; 4]) -> [i32; 4] {
    let mut acc = acc;
    for (b, q) in w.iter().zip(x).take(n) {
        // Staged order [x0, x2, x1, x3] back to columns 0..4.
        let xs = [q.0[0], q.0[2], q.0[1], q.0[3]];
        for (k, a) in acc.iter_mut().enumerate() {
            for (c, &xv) in xs.iter().enumerate() {
                let wv = b.0[4 * k + c] as i32;
                *a = a.wrapping_add(wv.wrapping_mul(xv as i32));
            }
        }
    }
    acc
}
