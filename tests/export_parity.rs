//! Every form of an int8 model gives the same bits on the whole digits set:
//! the JSON model run by the host, the blob parsed in place, the Rust
//! export's `GRAPH` through the interpreter, and its generated
//! straight-line code: `forward_packed()` (prepared for microcontrollers:
//! packed layers, staged activations, the trimmed softmax),
//! `forward_reference()` (the graph's own ops), `forward()` (the one for
//! this target), and their `classify*()`.

use std::path::Path;

use axon::core::Interpreter;
use axon::host::data::{Header, Table};
use axon::host::export::{write_blob, write_rust, AlignedBytes};
use axon::host::model::{Model, Runner};

/// The committed Rust-source export of tests/data/int8/digits.int8.json.
mod generated {
    include!("data/int8/digits_model.rs");
}

const JSON: &str = "tests/data/int8/digits.int8.json";

fn digits_rows() -> Vec<f32> {
    let table = Table::read("bundled:digits", Header::Auto).unwrap();
    let cols: Vec<usize> = (0..64).collect();
    table.numbers(&cols).unwrap()
}

fn bits(y: &[f32]) -> Vec<u32> {
    y.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn committed_rust_export_is_what_the_exporter_writes_today() {
    let m = Model::load(Path::new(JSON)).unwrap();
    let fresh = write_rust(&m, JSON).unwrap().source;
    let committed = std::fs::read_to_string("tests/data/int8/digits_model.rs").unwrap();
    assert!(
        fresh == committed,
        "tests/data/int8/digits_model.rs is stale: regenerate it (tests/data/int8/README.md)"
    );
}

#[test]
fn json_blob_graph_and_forward_agree_bit_for_bit_on_every_digit() {
    let m = Model::load(Path::new(JSON)).unwrap();
    let run = Runner::new(&m).unwrap();
    let host = run.interpreter().unwrap();
    let blob = AlignedBytes::new(&write_blob(&m, "digits").unwrap());
    let from_blob = axon::core::blob::parse(blob.as_bytes()).unwrap();
    let from_rust = Interpreter::new(generated::GRAPH).unwrap();
    assert_eq!(generated::GRAPH_ARENA_LEN, run.arena_len);
    assert_eq!(from_blob.arena_len(), run.arena_len);

    let x = digits_rows();
    assert_eq!(x.len(), 1797 * 64);
    let mut arena = vec![0u64; run.arena_len.div_ceil(8)];
    let arena: &mut [u8] = bytemuck::cast_slice_mut(&mut arena);
    let mut fwd_arena = generated::Arena::new();
    let mut packed_arena =
        axon::core::graph::arena::Arena::<{ generated::PACKED_ARENA_LEN }>::new();
    let mut ref_arena = axon::core::graph::arena::Arena::<{ generated::GRAPH_ARENA_LEN }>::new();
    let mut seen = std::collections::BTreeSet::new();
    for (r, row) in x.chunks_exact(64).enumerate() {
        let mut want = [0f32; 10];
        host.run_f32(row, &mut want, arena).unwrap();
        let want_class = host.classify(row, arena).unwrap();
        for (name, it) in [("blob", &from_blob), ("GRAPH", &from_rust)] {
            let mut y = [0f32; 10];
            it.run_f32(row, &mut y, arena).unwrap();
            assert_eq!(bits(&y), bits(&want), "{name}, row {r}");
            assert_eq!(
                it.classify(row, arena).unwrap(),
                want_class,
                "{name}, row {r}: class"
            );
        }
        let xr: &[f32; 64] = row.try_into().unwrap();
        let mut y = [0f32; 10];
        generated::forward(xr, &mut fwd_arena, &mut y).unwrap();
        assert_eq!(bits(&y), bits(&want), "forward(), row {r}");
        assert_eq!(
            generated::classify(xr, &mut fwd_arena).unwrap(),
            want_class,
            "classify(), row {r}"
        );
        generated::forward_packed(xr, &mut packed_arena, &mut y).unwrap();
        assert_eq!(bits(&y), bits(&want), "forward_packed(), row {r}");
        assert_eq!(
            generated::classify_packed(xr, &mut packed_arena).unwrap(),
            want_class,
            "classify_packed(), row {r}"
        );
        generated::forward_reference(xr, &mut ref_arena, &mut y).unwrap();
        assert_eq!(bits(&y), bits(&want), "forward_reference(), row {r}");
        assert_eq!(
            generated::classify_reference(xr, &mut ref_arena).unwrap(),
            want_class,
            "classify_reference(), row {r}"
        );
        seen.extend(want.iter().map(|v| v.to_bits()));
    }
    // The comparison is not between saturated outputs only.
    assert!(seen.len() > 100, "{} distinct output values", seen.len());
}

#[test]
fn wrong_buffers_are_errors_not_panics() {
    let it = Interpreter::new(generated::GRAPH).unwrap();
    let mut arena = vec![0u64; generated::GRAPH_ARENA_LEN.div_ceil(8) + 1];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut arena);
    let mut y = [0f32; 10];
    assert!(it.run_f32(&[0.0; 63], &mut y, bytes).is_err());
    assert!(it.run_f32(&[0.0; 64], &mut y[..9], bytes).is_err());
    let short = generated::GRAPH_ARENA_LEN - 1;
    assert!(matches!(
        it.run_f32(&[0.0; 64], &mut y, &mut bytes[..short]),
        Err(axon::core::Error::ArenaTooSmall { .. })
    ));
    assert!(matches!(
        it.run_f32(&[0.0; 64], &mut y, &mut bytes[1..]),
        Err(axon::core::Error::ArenaMisaligned)
    ));
}
