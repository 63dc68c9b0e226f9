//! Planning a graph, once, before it runs: an arena layout by tensor
//! lifetime. (The execution order is the nodes' order, which the host
//! writes topologically and [`super::Graph::validate`] checks.)
//!
//! It is a plain function over slices the caller owns, so it runs
//! anywhere (the host plans at export time and writes the result into the
//! blob and the Rust source, where the peak is a `const`; the device checks
//! it in [`super::Graph::validate`]).
//!
//! The layout is TFLite Micro's greedy one: tensors by decreasing size
//! (ties: earlier first use first), each at the lowest
//! [`ARENA_ALIGN`]-aligned offset where it overlaps no placed tensor whose
//! lifetime intersects its own. A tensor lives from the node that writes it
//! to the last node that reads it (inclusive), so a node's output never
//! shares bytes with its inputs, and a residual connection's input stays
//! put until the add that consumes it.

use super::ARENA_ALIGN;

/// Why a plan cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    /// Slices of different lengths, or a scratch slice too short.
    BadScratch,
    /// The arena would exceed `u32::MAX` bytes.
    TooLarge,
}

/// An arena layout: `sizes[t]` bytes for tensor `t` (0 for tensors not in
/// the arena), alive from node `first[t]` to node `last[t]` inclusive.
/// Writes each tensor's offset to `offsets` (0 for size-0 tensors), using
/// `by_size` as scratch (one entry per tensor), and returns the peak: the
/// arena length.
pub fn arena_layout(
    sizes: &[usize],
    first: &[usize],
    last: &[usize],
    by_size: &mut [u16],
    offsets: &mut [u32],
) -> Result<usize, PlanError> {
    let n = sizes.len();
    if first.len() != n || last.len() != n || by_size.len() != n || offsets.len() != n {
        return Err(PlanError::BadScratch);
    }
    for (i, s) in by_size.iter_mut().enumerate() {
        *s = i as u16;
    }
    // Largest first; ties by first use, then by id (a stable, total order).
    by_size.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        sizes[b]
            .cmp(&sizes[a])
            .then(first[a].cmp(&first[b]))
            .then(a.cmp(&b))
    });
    let align = |x: usize| x.div_ceil(ARENA_ALIGN) * ARENA_ALIGN;
    let mut peak = 0usize;
    for k in 0..n {
        let t = by_size[k] as usize;
        offsets[t] = 0;
        if sizes[t] == 0 {
            continue;
        }
        let overlaps_in_time =
            |u: usize| sizes[u] > 0 && first[u] <= last[t] && first[t] <= last[u];
        // Candidate offsets: 0 and the end of every placed tensor alive at
        // the same time; the lowest that fits wins.
        let placed = &by_size[..k];
        let fits = |at: usize| {
            placed.iter().all(|&u| {
                let u = u as usize;
                !overlaps_in_time(u) || {
                    let (u0, u1) = (offsets[u] as usize, offsets[u] as usize + sizes[u]);
                    at + sizes[t] <= u0 || u1 <= at
                }
            })
        };
        let mut best = None;
        if fits(0) {
            best = Some(0);
        }
        for &u in placed {
            let u = u as usize;
            if !overlaps_in_time(u) {
                continue;
            }
            let at = align(offsets[u] as usize + sizes[u]);
            if best.is_none_or(|b| at < b) && fits(at) {
                best = Some(at);
            }
        }
        let at = best.unwrap_or(0);
        let end = at.checked_add(sizes[t]).ok_or(PlanError::TooLarge)?;
        if end > u32::MAX as usize {
            return Err(PlanError::TooLarge);
        }
        offsets[t] = at as u32;
        peak = peak.max(align(end));
    }
    Ok(peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_ping_pongs_between_two_buffers() {
        // x(64) → a(32) → b(10) → y: x and b can share bytes.
        let sizes = [64, 32, 10];
        let first = [0, 0, 1];
        let last = [0, 1, 2];
        let mut scratch = [0u16; 3];
        let mut off = [0u32; 3];
        let peak = arena_layout(&sizes, &first, &last, &mut scratch, &mut off).unwrap();
        assert_eq!(off, [0, 64, 0]);
        assert_eq!(peak, 96);
    }

    #[test]
    fn a_residual_input_stays_alive_across_its_block() {
        // h0 (read by fc1 at 1 and by add at 3), h1 (1..2), h2 (2..3), h3 (3..).
        let sizes = [16, 16, 16, 16];
        let first = [0, 1, 2, 3];
        let last = [3, 2, 3, 4];
        let mut scratch = [0u16; 4];
        let mut off = [0u32; 4];
        let peak = arena_layout(&sizes, &first, &last, &mut scratch, &mut off).unwrap();
        // h0 and h2 and h3 are alive together at node 3; h1 can reuse h3's bytes.
        assert_eq!(peak, 48);
        for a in 0..4 {
            for b in a + 1..4 {
                let time = first[a] <= last[b] && first[b] <= last[a];
                let space = off[a] < off[b] + 16 && off[b] < off[a] + 16;
                assert!(!(time && space), "{a} and {b} collide: {off:?}");
            }
        }
    }
}
