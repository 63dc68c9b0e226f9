//! The forms of an int8 model — the int8 JSON run on the host, the binary
//! blob parsed in place, and the Rust-source export compiled in (the generic
//! `MODEL` and the compiled engine's `COMPILED`) — give bit-identical
//! outputs on the whole digits set.

use std::path::Path;

use axon::host::data::{Header, Table};
use axon::host::export::{write_blob, write_rust, AlignedBytes, BlobOptions};
use axon::host::quantize::Int8Model;

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

#[test]
fn committed_rust_export_is_what_the_exporter_writes_today() {
    let m = Int8Model::load(Path::new(JSON)).unwrap();
    let fresh = write_rust(&m, JSON).unwrap();
    let committed = std::fs::read_to_string("tests/data/int8/digits_model.rs").unwrap();
    assert!(
        fresh == committed,
        "tests/data/int8/digits_model.rs is stale: regenerate it (tests/data/int8/README.md)"
    );
}

#[test]
fn json_blob_and_rust_source_agree_bit_for_bit_on_every_digit() {
    let m = Int8Model::load(Path::new(JSON)).unwrap();
    let layers = m.core_layers();
    let from_json = m.core_model(&layers);
    from_json.validate().unwrap();

    let plain = AlignedBytes::new(&write_blob(&m, BlobOptions::default()).unwrap());
    let with_sums = AlignedBytes::new(&write_blob(&m, BlobOptions { row_sums: true }).unwrap());
    let from_blob = axon_core::blob::parse(plain.as_bytes()).unwrap();
    let from_blob_sums = axon_core::blob::parse(with_sums.as_bytes()).unwrap();
    let from_rust = &generated::MODEL;
    from_rust.validate().unwrap();

    assert_eq!(generated::SCRATCH_LEN, from_json.scratch_len());
    assert_eq!(from_blob.scratch_len(), from_json.scratch_len());
    let models = [
        ("blob", from_blob),
        ("blob+row sums", from_blob_sums),
        ("rust", *from_rust),
    ];

    let x = digits_rows();
    assert_eq!(x.len(), 1797 * 64);
    let compiled = &generated::COMPILED;
    let mut buffers = axon_core::int8::compiled::Buffers::<{ generated::QUADS }>::new();
    assert_eq!(generated::QUADS, compiled.quads());
    let mut scratch = vec![0i8; generated::SCRATCH_LEN];
    let (mut want_q, mut want_y) = ([0i8; 10], [0f32; 10]);
    let (mut got_q, mut got_y) = ([0i8; 10], [0f32; 10]);
    for (r, row) in x.chunks_exact(64).enumerate() {
        from_json
            .run(row, &mut scratch, &mut want_q, &mut want_y)
            .unwrap();
        let want_class = from_json.classify(row, &mut scratch).unwrap();
        compiled
            .run(row, &mut buffers, &mut got_q, &mut got_y)
            .unwrap();
        assert_eq!(got_q, want_q, "compiled, row {r}: codes");
        assert_eq!(
            got_y.map(f32::to_bits),
            want_y.map(f32::to_bits),
            "compiled, row {r}: values"
        );
        assert_eq!(
            compiled.classify(row, &mut buffers).unwrap(),
            want_class,
            "compiled, row {r}: class"
        );
        for (name, model) in &models {
            model
                .run(row, &mut scratch, &mut got_q, &mut got_y)
                .unwrap();
            assert_eq!(got_q, want_q, "{name}, row {r}: codes");
            let bits = |v: &[f32; 10]| v.map(f32::to_bits);
            assert_eq!(bits(&got_y), bits(&want_y), "{name}, row {r}: values");
            assert_eq!(
                model.classify(row, &mut scratch).unwrap(),
                want_class,
                "{name}, row {r}"
            );
        }
    }
}

#[test]
fn the_rust_export_needs_only_static_memory_and_the_declared_scratch() {
    // What firmware does: a fixed-size scratch array, no allocation.
    let mut scratch = [0i8; generated::SCRATCH_LEN];
    let mut codes = [0i8; generated::OUTPUT_LEN];
    let mut y = [0f32; generated::OUTPUT_LEN];
    let x = [8.0f32; generated::INPUT_LEN];
    generated::MODEL
        .run(&x, &mut scratch, &mut codes, &mut y)
        .unwrap();
    let sum: f32 = y.iter().sum();
    assert!((sum - 1.0).abs() < 0.05, "softmax output sums to {sum}");
    // One byte short is an error value, not a panic.
    let mut short = [0i8; generated::SCRATCH_LEN - 1];
    assert_eq!(
        generated::MODEL.run(&x, &mut short, &mut codes, &mut y),
        Err(axon_core::Error::ScratchTooSmall {
            needed: generated::SCRATCH_LEN,
            found: generated::SCRATCH_LEN - 1
        })
    );
}

/// A small model with every int8 layer kind — fused ReLU, sigmoid, tanh,
/// GELU and SiLU tables, softmax — quantized from a fixed f32 definition.
fn every_kind_model() -> Int8Model {
    use axon::core::Activation;
    use axon::host::model::{LayerSpec, Model, Preprocess, Task};
    use axon::host::quantize::{quantize, QuantizeOptions};
    let dense = |i: usize, o: usize, k: f32| LayerSpec::Dense {
        inputs: i,
        outputs: o,
        weights: (0..i * o).map(|j| (j as f32 * k).sin() * 0.7).collect(),
        bias: (0..o).map(|j| j as f32 * 0.05 - 0.1).collect(),
    };
    let act = |a| LayerSpec::Activation(a);
    let model = Model {
        inputs: 3,
        preprocess: Preprocess {
            mean: vec![0.1, -0.2, 0.3],
            std: vec![1.5, 0.5, 2.0],
        },
        layers: vec![
            dense(3, 6, 1.3),
            act(Activation::Relu),
            dense(6, 5, 0.7),
            act(Activation::Sigmoid),
            dense(5, 5, 2.1),
            act(Activation::Tanh),
            dense(5, 4, 0.3),
            act(Activation::GeluTanh),
            dense(4, 4, 1.7),
            act(Activation::Silu),
            dense(4, 3, 1.1),
            act(Activation::Softmax),
        ],
        task: Task::Classification { classes: 3 },
        feature_names: vec![],
        target_name: String::new(),
        class_labels: vec![],
    };
    let calib: Vec<f32> = (0..600).map(|j| (j as f32 * 0.37).cos() * 3.0).collect();
    quantize(
        &model,
        &calib,
        "every_kind_model() in tests/export_parity.rs",
        &QuantizeOptions::default(),
    )
    .unwrap()
}

/// The committed Rust-source export of [`every_kind_model`].
mod every_kind {
    include!("data/int8/every_kind_model.rs");
}

const EVERY_KIND_RS: &str = "tests/data/int8/every_kind_model.rs";

#[test]
fn committed_every_kind_export_is_fresh() {
    // Regenerate with: AXON_REGENERATE=1 cargo test -p axon --test export_parity
    let fresh = write_rust(
        &every_kind_model(),
        "every_kind_model() in tests/export_parity.rs",
    )
    .unwrap();
    if std::env::var_os("AXON_REGENERATE").is_some() {
        std::fs::write(EVERY_KIND_RS, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(EVERY_KIND_RS).unwrap();
    assert!(
        fresh == committed,
        "{EVERY_KIND_RS} is stale: AXON_REGENERATE=1 cargo test -p axon --test export_parity"
    );
}

#[test]
fn models_the_compiled_engine_cannot_run_say_why() {
    let why = axon::host::export::compiled_support(&every_kind_model()).unwrap_err();
    assert!(why.contains("table"), "{why}");
    let src = std::fs::read_to_string(EVERY_KIND_RS).unwrap();
    assert!(src.contains("// No compiled form"), "the export says why");
    assert!(!src.contains("pub static COMPILED"));
    let digits = Int8Model::load(Path::new(JSON)).unwrap();
    assert_eq!(axon::host::export::compiled_support(&digits), Ok(()));
    use axon::host::quantize::Int8Layer;
    // A bias the doubled accumulator cannot hold.
    let mut big = digits.clone();
    if let Int8Layer::FullyConnected { bias, .. } = &mut big.layers[0] {
        bias[3] = 1 << 30;
    }
    let why = axon::host::export::compiled_support(&big).unwrap_err();
    assert!(why.contains("layer 0") && why.contains("bias"), "{why}");
    // A weight row whose accumulator could overflow for some input.
    let mut wide = digits.clone();
    if let Int8Layer::FullyConnected { bias, .. } = &mut wide.layers[0] {
        bias[0] = (1 << 30) - 1000;
    }
    let why = axon::host::export::compiled_support(&wide).unwrap_err();
    assert!(why.contains("overflow"), "{why}");
    // Zero points that do not chain.
    let mut chain = digits.clone();
    if let Int8Layer::FullyConnected { input, .. } = &mut chain.layers[1] {
        input.zero_point += 1;
    }
    let why = axon::host::export::compiled_support(&chain).unwrap_err();
    assert!(
        why.contains("layer 1") && why.contains("zero point"),
        "{why}"
    );
}

#[test]
fn every_layer_kind_agrees_across_json_blob_and_rust_source() {
    let m = every_kind_model();
    let layers = m.core_layers();
    let from_json = m.core_model(&layers);
    let blob = AlignedBytes::new(&write_blob(&m, BlobOptions { row_sums: true }).unwrap());
    let from_blob = axon_core::blob::parse(blob.as_bytes()).unwrap();
    let from_rust = every_kind::MODEL;
    from_rust.validate().unwrap();
    assert_eq!(every_kind::SCRATCH_LEN, from_json.scratch_len());
    let mut scratch = vec![0i8; every_kind::SCRATCH_LEN];
    let (mut a, mut b, mut c) = ([0i8; 3], [0i8; 3], [0i8; 3]);
    let (mut ya, mut yb, mut yc) = ([0f32; 3], [0f32; 3], [0f32; 3]);
    let mut distinct = std::collections::BTreeSet::new();
    for i in 0..2000 {
        let t = i as f32 * 0.013;
        let x = [
            (t * 1.9).sin() * 4.0,
            (t * 0.7).cos() * 2.0 - 0.2,
            t.sin() * t.cos() * 5.0,
        ];
        from_json.run(&x, &mut scratch, &mut a, &mut ya).unwrap();
        from_blob.run(&x, &mut scratch, &mut b, &mut yb).unwrap();
        from_rust.run(&x, &mut scratch, &mut c, &mut yc).unwrap();
        assert_eq!((a, a), (b, c), "input {x:?}");
        assert_eq!(ya.map(f32::to_bits), yb.map(f32::to_bits));
        assert_eq!(ya.map(f32::to_bits), yc.map(f32::to_bits));
        distinct.insert(a);
    }
    // The inputs really exercise the model (not one constant output).
    assert!(
        distinct.len() > 20,
        "only {} distinct outputs",
        distinct.len()
    );
}
