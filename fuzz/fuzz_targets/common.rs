//! Shared by the fuzz targets: an aligned copy, the parse, and one
//! inference through whatever parses.

use axon_core::blob::parse;
use axon_core::graph::{DType, Quad};
use axon_core::ops::{View, ViewMut};

/// Arenas and tensors above this are valid but not worth allocating for
/// (a header can ask for a 4 GiB arena).
const MAX_BYTES: usize = 1 << 20;

/// Copies `data` into a 4-aligned buffer (as a blob sits in flash).
pub fn aligned(data: &[u8]) -> Vec<u32> {
    let mut words = vec![0u32; data.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..data.len()].copy_from_slice(data);
    words
}

/// Owned values of one graph input or output.
enum Buf {
    F32(Vec<f32>),
    I8(Vec<i8>),
    I32(Vec<i32>),
    Staged(Vec<Quad>),
}

impl Buf {
    fn new(dtype: DType, len: usize, seed: u8) -> Buf {
        match dtype {
            DType::F32 => Buf::F32(
                (0..len)
                    .map(|i| (i as f32 - 3.0) * (seed as f32 + 0.5))
                    .collect(),
            ),
            DType::I8 => Buf::I8(
                (0..len)
                    .map(|i| (i as u8).wrapping_mul(seed) as i8)
                    .collect(),
            ),
            DType::I32 => Buf::I32((0..len).map(|i| i as i32 - seed as i32).collect()),
            DType::Staged => Buf::Staged(vec![Quad([2, -2, 254, -256]); len.div_ceil(4)]),
        }
    }

    fn view(&self) -> View<'_> {
        match self {
            Buf::F32(v) => View::F32(v),
            Buf::I8(v) => View::I8(v),
            Buf::I32(v) => View::I32(v),
            Buf::Staged(v) => View::Staged(v),
        }
    }

    fn view_mut(&mut self) -> ViewMut<'_> {
        match self {
            Buf::F32(v) => ViewMut::F32(v),
            Buf::I8(v) => ViewMut::I8(v),
            Buf::I32(v) => ViewMut::I32(v),
            Buf::Staged(v) => ViewMut::Staged(v),
        }
    }
}

/// Parses `bytes` and, when they parse, runs one inference (buffers of
/// the graph's input and output types and lengths, an arena of its
/// `arena_len()`) and a classification. Nothing here may panic, whatever
/// the bytes; the results do not matter.
pub fn parse_and_run(bytes: &[u8], seed: u8) {
    let Ok(it) = parse(bytes) else {
        return;
    };
    let g = it.graph();
    if it.arena_len() > MAX_BYTES {
        return;
    }
    let buffers = |ids: &[u16]| -> Option<Vec<Buf>> {
        ids.iter()
            .map(|&id| {
                let t = g.tensors.get(id)?;
                (t.len() <= MAX_BYTES).then(|| Buf::new(t.dtype, t.len(), seed))
            })
            .collect()
    };
    let (Some(ins), Some(mut outs)) = (buffers(g.inputs), buffers(g.outputs)) else {
        return;
    };
    let mut arena = vec![0u64; it.arena_len().div_ceil(8).max(1)];
    let arena: &mut [u8] = bytemuck::cast_slice_mut(&mut arena);
    let views: Vec<View<'_>> = ins.iter().map(Buf::view).collect();
    let mut out_views: Vec<ViewMut<'_>> = outs.iter_mut().map(Buf::view_mut).collect();
    let _ = it.run(&views, &mut out_views, arena);
    if let [Buf::F32(x)] = ins.as_slice() {
        let _ = it.classify(x, arena);
    }
}
