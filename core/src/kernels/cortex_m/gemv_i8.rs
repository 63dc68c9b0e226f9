//! The Cortex-M DSP int8 fully connected layer: inputs staged once as i16
//! in `SXTB16` order, three rows per pass through the assembly loops, the
//! tails in plain code (see the [module documentation](super)).

use super::imp;
use super::requantize::RowRequant;
use super::{CortexMDsp, MAX_INPUT_OFFSET, X_CHUNK};
use crate::kernels::reference::i8::{FullyConnectedParams, Scalar};

/// Staged inputs: i16, groups of four in `[x0, x2, x1, x3]` order, then the
/// tail in natural order. 8-byte aligned for `LDRD`/`STRD`.
#[repr(C, align(8))]
struct Staged(core::mem::MaybeUninit<[i16; X_CHUNK]>);

impl Staged {
    /// An unwritten buffer (zeroing it would cost a `memclr` per layer):
    /// only entries [`stage`] has written are ever read.
    fn new() -> Self {
        Staged(core::mem::MaybeUninit::uninit())
    }

    fn as_ptr(&self) -> *const i16 {
        self.0.as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut i16 {
        self.0.as_mut_ptr().cast()
    }

    /// Entry `c`.
    ///
    /// # Safety
    /// `c < X_CHUNK`, and [`stage`] has written entry `c`.
    unsafe fn get(&self, c: usize) -> i32 {
        // SAFETY: forwarded from the caller's contract.
        unsafe { *self.as_ptr().add(c) as i32 }
    }
}

impl CortexMDsp {
    /// The whole layer, with exactly the semantics (and totality) of
    /// [`Scalar::fully_connected`]: `w` output-major `(rows, x.len())`, and
    /// with inconsistent lengths the rows that fit are computed.
    pub fn fully_connected(
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        let n = x.len();
        let off = p.input_offset;
        if n == 0 || !(-MAX_INPUT_OFFSET..=MAX_INPUT_OFFSET).contains(&off) {
            return Scalar::fully_connected(w, x, bias, p, y);
        }
        let rows = (w.len() / n).min(bias.len()).min(y.len());
        let (bias, y) = (&bias[..rows], &mut y[..rows]);
        if n < 4 {
            let rq = RowRequant::new(p, rows);
            // No group of four to stage: a plain loop (still with the
            // faster requantization) costs less than staging.
            for (c, ((row, &b), yc)) in w.chunks_exact(n).zip(bias).zip(y.iter_mut()).enumerate() {
                *yc = rq.row(Scalar::accumulate(row, x, off, b), c);
            }
            return;
        }
        let mut staged = Staged::new();
        let single_chunk = n <= X_CHUNK;
        if single_chunk {
            stage(x, off, &mut staged);
        }
        if single_chunk && n.is_multiple_of(4) {
            // The common case (every layer of the bundled models but the
            // 1-input one): whole groups of four, staged once; the rows
            // straight through the assembly, without the chunk and tail
            // logic below.
            return fc_staged_blocks(w, n, &staged, bias, p, y);
        }
        let accumulate = |staged: &mut Staged, r: usize, acc: [i32; 3], three: bool| {
            // SAFETY: the rows read (r, and r+1, r+2 when `three`) are below
            // `rows ≤ w.len() / n`, so every weight read is inside `w`.
            unsafe {
                accumulate(
                    w.as_ptr().add(r * n),
                    n,
                    x,
                    off,
                    staged,
                    !single_chunk,
                    acc,
                    three,
                )
            }
        };

        let rq = RowRequant::new(p, rows);
        let mut groups_b = bias.chunks_exact(3);
        let mut groups_y = y.chunks_exact_mut(3);
        let mut r = 0;
        for (b, yg) in (&mut groups_b).zip(&mut groups_y) {
            let acc = accumulate(&mut staged, r, [b[0], b[1], b[2]], true);
            yg[0] = rq.row(acc[0], r);
            yg[1] = rq.row(acc[1], r + 1);
            yg[2] = rq.row(acc[2], r + 2);
            r += 3;
        }
        let rest = groups_y.into_remainder();
        for (&b, yc) in groups_b.remainder().iter().zip(rest) {
            *yc = rq.row(accumulate(&mut staged, r, [b, 0, 0], false)[0], r);
            r += 1;
        }
    }
}

/// The layer when all `n` inputs (a multiple of four, at most [`X_CHUNK`])
/// are staged: three rows per [`imp::dot3_blocks`], the last rows one by
/// one, each row requantized by [`RowRequant`]. `rows = y.len() =
/// bias.len() ≤ w.len() / n`, as the caller established.
#[inline(never)]
fn fc_staged_blocks(
    w: &[i8],
    n: usize,
    staged: &Staged,
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    let rows = y.len().min(bias.len()).min(w.len() / n.max(1));
    let blocks = n / 4;
    let xs = staged.as_ptr();
    let rq = RowRequant::new(p, rows);
    let mut r = 0;
    // Three rows at a time through `chunks_exact`, whose bounds the
    // optimiser sees (with `bias[r + 2]` and `y[r + 2]` it kept the checks
    // and their panic paths).
    let threes = bias.chunks_exact(3).zip(y.chunks_exact_mut(3));
    for (b, yr) in threes.take(rows / 3) {
        // SAFETY: rows r..r+3 are below `rows ≤ w.len() / n`, so the three
        // rows of `n` weights lie inside `w`; `xs` holds `n = 4·blocks`
        // staged inputs (the caller staged all of them).
        let acc =
            unsafe { imp::dot3_blocks(w.as_ptr().add(r * n), n, xs, blocks, [b[0], b[1], b[2]]) };
        yr[0] = rq.row(acc[0], r);
        yr[1] = rq.row(acc[1], r + 1);
        yr[2] = rq.row(acc[2], r + 2);
        r += 3;
    }
    while r < rows {
        // SAFETY: row r < rows lies inside `w`; as above for `xs`.
        let acc = unsafe { imp::dot1_blocks(w.as_ptr().add(r * n), xs, blocks, bias[r]) };
        y[r] = rq.row(acc, r);
        r += 1;
    }
}

/// Accumulates three rows (or one) starting at `w` (row stride `n`) over
/// all `n = x.len()` columns; with `chunked`, stages each chunk of `x` first
/// (else `staged` already holds all of `x`).
///
/// # Safety
/// `w + (rows − 1)·n + n` inside one allocation, rows = 3 if `three` else 1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn accumulate(
    w: *const i8,
    n: usize,
    x: &[i8],
    off: i32,
    staged: &mut Staged,
    chunked: bool,
    acc: [i32; 3],
    three: bool,
) -> [i32; 3] {
    let mut acc = acc;
    let mut start = 0;
    while start < n {
        let cols = (n - start).min(X_CHUNK);
        if chunked {
            // Always inside `x` (start + cols ≤ n); `get` because the
            // optimiser cannot tell, and an index would keep a panic path.
            if let Some(xc) = x.get(start..start + cols) {
                stage(xc, off, staged);
            }
        }
        // SAFETY: columns start..start+cols lie inside each row (start +
        // cols ≤ n), within the caller's bound; `cols ≤ X_CHUNK` staged
        // entries are set.
        unsafe {
            let wp = w.add(start);
            if three {
                acc = dot3(wp, n, staged, cols, acc);
            } else {
                acc[0] = dot1(wp, staged, cols, acc[0]);
            }
        }
        start += cols;
    }
    acc
}

/// Stages up to [`X_CHUNK`] inputs plus `off` into `dst`.
#[inline(always)]
fn stage(x: &[i8], off: i32, dst: &mut Staged) {
    let n = x.len().min(X_CHUNK);
    let blocks = n / 4;
    if blocks > 0 {
        // SAFETY: reads 4·blocks ≤ x.len() bytes of `x`, writes 4·blocks ≤
        // X_CHUNK halfwords of `dst`, whose 8-byte alignment `STRD` needs.
        unsafe { imp::stage_blocks(x.as_ptr(), dst.as_mut_ptr(), blocks, off) };
    }
    for (i, &v) in (blocks * 4..n).zip(&x[blocks * 4..n]) {
        // |off| ≤ MAX_INPUT_OFFSET, checked by the caller: the sum fits.
        // SAFETY: i < n ≤ X_CHUNK.
        unsafe { dst.as_mut_ptr().add(i).write((v as i32 + off) as i16) };
    }
}

/// Three rows `w`, `w + stride`, `w + 2·stride`, `cols` columns each, against
/// the staged inputs.
///
/// # Safety
/// `w + 2·stride + cols` must stay inside one allocation; `cols ≤ X_CHUNK`.
#[inline(always)]
unsafe fn dot3(w: *const i8, stride: usize, xs: &Staged, cols: usize, acc: [i32; 3]) -> [i32; 3] {
    let blocks = cols / 4;
    // SAFETY: forwarded from the caller's contract.
    let mut acc = unsafe { imp::dot3_blocks(w, stride, xs.as_ptr(), blocks, acc) };
    for c in blocks * 4..cols {
        // SAFETY: c < cols ≤ X_CHUNK, staged by the caller.
        let xv = unsafe { xs.get(c) };
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: column c < cols of row k < 3, inside the caller's bound.
            let wv = unsafe { *w.add(k * stride + c) } as i32;
            *a = a.wrapping_add(wv.wrapping_mul(xv));
        }
    }
    acc
}

/// One row of `cols` columns against the staged inputs.
///
/// # Safety
/// `w + cols` must stay inside one allocation; `cols ≤ X_CHUNK`.
#[inline(always)]
unsafe fn dot1(w: *const i8, xs: &Staged, cols: usize, acc: i32) -> i32 {
    let blocks = cols / 4;
    // SAFETY: forwarded from the caller's contract.
    let mut acc = unsafe { imp::dot1_blocks(w, xs.as_ptr(), blocks, acc) };
    for c in blocks * 4..cols {
        // SAFETY: c < cols, inside the caller's bound.
        let wv = unsafe { *w.add(c) } as i32;
        // SAFETY: c < cols ≤ X_CHUNK, staged by the caller.
        acc = acc.wrapping_add(wv.wrapping_mul(unsafe { xs.get(c) }));
    }
    acc
}
