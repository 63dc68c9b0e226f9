//! A plain-Rust model of the three assembly loops, instruction for
//! instruction in effect (same staging layout, same `SMLAD` pairing), so the
//! host's tests exercise the blocking and tail logic around them.

/// `SXTB16`: bytes 0 and 2, sign-extended, as (low, high) halfwords.
fn sxtb16(v: u32) -> (i32, i32) {
    (v as u8 as i8 as i32, (v >> 16) as u8 as i8 as i32)
}

/// `SMLAD`: `acc + lo·lo + hi·hi`, modulo 2^32.
fn smlad(a: (i32, i32), b: (i32, i32), acc: i32) -> i32 {
    acc.wrapping_add(a.0.wrapping_mul(b.0))
        .wrapping_add(a.1.wrapping_mul(b.1))
}

/// Reads four bytes as the little-endian word `LDR` sees.
unsafe fn ldr(p: *const i8) -> u32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { u32::from_le_bytes(core::ptr::read_unaligned(p.cast::<[u8; 4]>())) }
}

/// Reads two staged halfwords as `(low, high)`.
unsafe fn ldr16x2(p: *const i16) -> (i32, i32) {
    // SAFETY: forwarded from the caller's contract.
    unsafe { (*p as i32, *p.add(1) as i32) }
}

/// See the assembly twin.
///
/// # Safety
/// As the assembly twin.
pub(super) unsafe fn stage_blocks(x: *const i8, dst: *mut i16, blocks: usize, off: i32) {
    for b in 0..blocks {
        // SAFETY: inside the caller's bounds.
        let v = unsafe { ldr(x.add(4 * b)) };
        let (x0, x2) = sxtb16(v);
        let (x1, x3) = sxtb16(v >> 8);
        for (k, xv) in [x0, x2, x1, x3].into_iter().enumerate() {
            // SAFETY: inside the caller's bounds.
            unsafe { *dst.add(4 * b + k) = (xv + off) as i16 };
        }
    }
}

/// One row's four columns of group `b`.
unsafe fn row_block(w: *const i8, xs: *const i16, acc: i32) -> i32 {
    // SAFETY: inside the caller's bounds.
    let (v, xa, xb) = unsafe { (ldr(w), ldr16x2(xs), ldr16x2(xs.add(2))) };
    smlad(sxtb16(v >> 8), xb, smlad(sxtb16(v), xa, acc))
}

/// See the assembly twin.
///
/// # Safety
/// As the assembly twin.
pub(super) unsafe fn dot3_blocks(
    w: *const i8,
    stride: usize,
    xs: *const i16,
    blocks: usize,
    acc: [i32; 3],
) -> [i32; 3] {
    let mut acc = acc;
    for b in 0..blocks {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: inside the caller's bounds.
            *a = unsafe { row_block(w.add(k * stride + 4 * b), xs.add(4 * b), *a) };
        }
    }
    acc
}

/// See the assembly twin.
///
/// # Safety
/// As the assembly twin.
pub(super) unsafe fn dot1_blocks(w: *const i8, xs: *const i16, blocks: usize, acc: i32) -> i32 {
    let mut acc = acc;
    for b in 0..blocks {
        // SAFETY: inside the caller's bounds.
        acc = unsafe { row_block(w.add(4 * b), xs.add(4 * b), acc) };
    }
    acc
}
