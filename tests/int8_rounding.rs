//! The requantization rounding mode through every form of an int8 model:
//! the JSON file (the quantization record and each fully connected node's
//! `rounding`; version-1 files without the field read as double), the
//! blob's records, the Rust-source export (the graph's statics and the
//! generated `forward()`), the model prepared for microcontrollers (packed
//! layers), and the quantizer's option; and the same bits from the JSON
//! model and its blob in each mode, while the modes themselves differ.

use std::path::Path;

use axon::core::ops::fully_connected::FullyConnected as CoreFc;
use axon::core::ops::{Op as CoreOp, View, ViewMut};
use axon::core::quant::Rounding;
use axon::host::export::{prepare_for_mcu, write_blob, write_rust, AlignedBytes};
use axon::host::model::{Model, Runner};
use axon::host::ops::fully_connected::Prepared as FcPrepared;
use axon::host::ops::Op;
use axon::host::quantize::{load_rows, quantize, QuantizeOptions};

const DIGITS: &str = "tests/data/int8/digits.int8.json";
const DIGITS_V1: &str = "tests/data/v1/digits.int8.json";

/// Sets the mode of the model and of every node that requantizes.
fn with_rounding(mut m: Model, rounding: Rounding) -> Model {
    if let Some(q) = &mut m.meta.quantization {
        q.rounding = rounding;
    }
    for n in &mut m.graph.nodes {
        match &mut n.op {
            Op::FullyConnected(f) => f.int8.as_mut().unwrap().rounding = rounding,
            Op::Relu(r) => r.int8.as_mut().unwrap().rounding = rounding,
            _ => {}
        }
    }
    m
}

fn digits(rounding: Rounding) -> Model {
    with_rounding(Model::load(Path::new(DIGITS)).unwrap(), rounding)
}

/// Each fully connected node's mode.
fn fc_modes(m: &Model) -> Vec<Rounding> {
    m.graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::FullyConnected(f) => Some(f.int8.as_ref().unwrap().rounding),
            _ => None,
        })
        .collect()
}

fn digit_rows(m: &Model) -> Vec<f32> {
    let rows = load_rows(
        "bundled:digits",
        m.inputs(),
        &m.meta.features,
        &m.meta.target,
        &m.meta.labels,
        m.meta.task,
    )
    .unwrap();
    rows.x
}

#[test]
fn json_fields_round_trip_and_version_1_defaults_to_double() {
    let text = std::fs::read_to_string(DIGITS).unwrap();
    assert!(text.contains("\"rounding\": \"double\""));
    assert_eq!(text.matches("\"rounding\":\"double\"").count(), 2);
    let m = Model::load(Path::new(DIGITS)).unwrap();
    assert_eq!(
        m.meta.quantization.as_ref().unwrap().rounding,
        Rounding::Double
    );
    assert_eq!(fc_modes(&m), [Rounding::Double; 2]);
    let single = digits(Rounding::Single);
    let written = single.to_json_string().unwrap();
    assert!(written.contains("\"rounding\": \"single\""));
    assert_eq!(written.matches("\"rounding\":\"single\"").count(), 2);
    assert!(!written.contains("double"));
    assert_eq!(Model::from_json_str(&written).unwrap(), single);
    // Version 2 is strict: a node without its mode, or with a mode that is
    // not one, is an error that names the field.
    let without = text.replacen("\"rounding\":\"double\",", "", 1);
    assert_ne!(without, text);
    let e = format!("{:#}", Model::from_json_str(&without).unwrap_err());
    assert!(e.contains("needs \"rounding\""), "{e}");
    let t = text.replacen("\"rounding\":\"double\"", "\"rounding\":\"half\"", 1);
    let e = format!("{:#}", Model::from_json_str(&t).unwrap_err());
    assert!(
        e.contains("node fc1") && e.contains("unknown rounding \"half\""),
        "{e}"
    );
    // Version-1 files from before the field existed read as double rounding;
    // with the field, as it says.
    let v1 = std::fs::read_to_string(DIGITS_V1).unwrap();
    assert!(v1.contains("\"rounding\": \"double\""));
    let old: String = v1
        .lines()
        .filter(|l| !l.contains("\"rounding\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(old, v1);
    let m = Model::from_json_str(&old).unwrap();
    assert_eq!(
        m.meta.quantization.as_ref().unwrap().rounding,
        Rounding::Double
    );
    assert_eq!(fc_modes(&m), [Rounding::Double; 2]);
    let m =
        Model::from_json_str(&v1.replace("\"rounding\": \"double\"", "\"rounding\": \"single\""))
            .unwrap();
    assert_eq!(fc_modes(&m), [Rounding::Single; 2]);
}

/// A mode of the wrong type is an error that names the field, as the
/// version-1 reader's was.
#[test]
fn a_mistyped_rounding_is_an_error_that_names_the_field() {
    let text = std::fs::read_to_string(DIGITS).unwrap();
    for bad in [
        "\"rounding\":1",
        "\"rounding\":null",
        "\"rounding\":[\"double\"]",
    ] {
        let t = text.replacen("\"rounding\":\"double\"", bad, 1);
        let e = format!("{:#}", Model::from_json_str(&t).unwrap_err());
        assert!(
            e.contains("node fc1") && e.contains("rounding"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn blob_records_and_rust_export_carry_the_mode() {
    for rounding in [Rounding::Double, Rounding::Single] {
        let m = digits(rounding);
        let blob = AlignedBytes::new(&write_blob(&m, "digits").unwrap());
        let parsed = axon::core::blob::parse(blob.as_bytes()).unwrap();
        let nodes = parsed.graph().nodes;
        let mut fcs = 0;
        for i in 0..nodes.len() {
            if let CoreOp::FullyConnected(fc) = nodes.get(i).unwrap().op {
                let CoreFc::Int8(p) = fc else {
                    panic!("node {i}: {fc:?}")
                };
                assert_eq!(p.params.rounding, rounding, "node {i}");
                fcs += 1;
            }
        }
        assert_eq!(fcs, 2);
        // Read back from the blob, the model says the same.
        let back = Model::from_bytes(blob.as_bytes(), "digits.axon").unwrap();
        assert_eq!(fc_modes(&back), [rounding; 2]);

        let rs = write_rust(&m, DIGITS).unwrap().source;
        let (want, other) = match rounding {
            Rounding::Double => ("Double", "Single"),
            Rounding::Single => ("Single", "Double"),
        };
        // GRAPH: each layer's parameters; forward(): each packed layer's call.
        let mode = |r: &str| format!("rounding: ::axon_core::quant::Rounding::{r} }}");
        assert_eq!(rs.matches(&mode(want)).count(), 2, "{rounding:?}");
        assert_eq!(rs.matches(&mode(other)).count(), 0, "{rounding:?}");
        let call = |r: &str| format!(".run_{}(x0, y);", r.to_lowercase());
        assert_eq!(rs.matches(&call(want)).count(), 2, "{rounding:?}");
        assert_eq!(rs.matches(&call(other)).count(), 0, "{rounding:?}");
    }
    // The committed export is the double-rounding one.
    let committed = std::fs::read_to_string("tests/data/int8/digits_model.rs").unwrap();
    assert_eq!(committed.matches(".run_double(x0, y);").count(), 2);
}

#[test]
fn the_model_prepared_for_microcontrollers_keeps_the_mode_and_the_bits() {
    for rounding in [Rounding::Double, Rounding::Single] {
        let m = digits(rounding);
        let p = prepare_for_mcu(&m).unwrap();
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        let mut packed = 0;
        for n in &p.model.graph.nodes {
            let Op::FullyConnected(f) = &n.op else {
                continue;
            };
            assert!(
                matches!(f.prepared, Some(FcPrepared::Packed4 { .. })),
                "{}",
                n.name
            );
            assert_eq!(f.int8.as_ref().unwrap().rounding, rounding);
            let core =
                n.op.core(&axon::host::ops::Ctx::new(&p.model.graph, n))
                    .unwrap();
            let CoreOp::FullyConnected(CoreFc::Packed4(k)) = core else {
                panic!("{}", n.name)
            };
            assert_eq!(k.rounding, rounding, "{}", n.name);
            packed += 1;
        }
        assert_eq!(packed, 2);
        let x = digit_rows(&m);
        let (a, b) = (Runner::new(&m).unwrap(), Runner::new(&p.model).unwrap());
        let mut ya = Vec::new();
        a.for_each_row(&x, |_, y, _| {
            ya.extend(y.iter().map(|v| v.to_bits()));
            Ok(())
        })
        .unwrap();
        let mut yb = Vec::new();
        b.for_each_row(&x, |_, y, _| {
            yb.extend(y.iter().map(|v| v.to_bits()));
            Ok(())
        })
        .unwrap();
        assert_eq!(ya, yb, "{rounding:?}: prepared and reference forms differ");
    }
}

/// On every digits row: the JSON model (through the host's runner) and its
/// blob give the same bits in each mode — the outputs and the first layer's
/// codes, read from the arena after running the first two nodes — and those
/// codes differ between the modes on some rows (so the mode really reaches
/// the kernels through both paths).
#[test]
fn json_and_blob_agree_in_each_mode_and_the_modes_differ() {
    let (double, single) = (digits(Rounding::Double), digits(Rounding::Single));
    let x = digit_rows(&double);
    assert!(x.len() / 64 > 1000);
    let mut first: Vec<Vec<i8>> = Vec::new();
    for m in [&double, &single] {
        let run = Runner::new(m).unwrap();
        let from_json = run.interpreter().unwrap();
        let blob = AlignedBytes::new(&write_blob(m, "digits").unwrap());
        let from_blob = axon::core::blob::parse(blob.as_bytes()).unwrap();
        // Where fc1 writes its codes.
        let g = &m.graph;
        let fc1 = g.nodes.iter().position(|n| n.name == "fc1").unwrap();
        assert_eq!(fc1, 1, "quantize, then fc1");
        let id = run
            .host_ids
            .iter()
            .position(|&h| h == g.nodes[fc1].output)
            .unwrap();
        let t = run.tensors[id];
        assert_eq!(from_blob.graph().tensors.get(id as u16), Some(t));
        let (off, end) = t.arena_range().unwrap();
        let mut arena = run.arena();
        let mut codes = Vec::new();
        for row in x.chunks_exact(64) {
            let (mut a, mut b) = ([0f32; 10], [0f32; 10]);
            from_json.run_f32(row, &mut a, arena.bytes()).unwrap();
            from_blob.run_f32(row, &mut b, arena.bytes()).unwrap();
            assert_eq!(
                a.map(f32::to_bits),
                b.map(f32::to_bits),
                "{:?}",
                fc_modes(m)
            );
            let mut layer = |it: &axon::core::Interpreter<'_>| -> Vec<i8> {
                let mut y = [0f32; 10];
                it.run_until(
                    fc1 + 1,
                    &[View::F32(row)],
                    &mut [ViewMut::F32(&mut y)],
                    arena.bytes(),
                )
                .unwrap();
                bytemuck::cast_slice(&arena.bytes()[off..end]).to_vec()
            };
            let h = layer(&from_json);
            assert_eq!(h, layer(&from_blob));
            codes.push(h);
        }
        first.push(codes.concat());
    }
    let differ = first[0]
        .iter()
        .zip(&first[1])
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        differ > 0,
        "single and double rounding agree on every first-layer code of the digits set"
    );
}

#[test]
fn quantize_writes_the_requested_mode() {
    let f32_model = Model::load(Path::new("tests/data/int8/digits.json")).unwrap();
    let rows = digit_rows(&f32_model);
    for rounding in [Rounding::Double, Rounding::Single] {
        let opts = QuantizeOptions {
            rounding,
            ..QuantizeOptions::default()
        };
        let q = quantize(&f32_model, &rows[..200 * 64], "digits", &opts).unwrap();
        assert_eq!(q.meta.quantization.as_ref().unwrap().rounding, rounding);
        assert_eq!(fc_modes(&q), [rounding; 2]);
        let back = Model::from_json_str(&q.to_json_string().unwrap()).unwrap();
        assert_eq!(back.meta.quantization.as_ref().unwrap().rounding, rounding);
        assert_eq!(fc_modes(&back), [rounding; 2]);
        assert_eq!(back, q);
    }
}
