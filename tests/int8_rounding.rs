//! The requantization rounding mode through the int8 model files: the JSON
//! field (default double when absent), the blob's flag bit, the Rust-source
//! export and `axon quantize --rounding`; and the same bits from the JSON
//! model and the blob in each mode.

use std::path::Path;

use axon::host::export::{write_blob, write_rust, AlignedBytes, BlobOptions};
use axon::host::quantize::{load_rows, Int8Model};
use axon_core::blob::format::{header, FLAG_SINGLE_ROUNDING};
use axon_core::int8::Layer;
use axon_core::quant::Rounding;

const DIGITS: &str = "tests/data/int8/digits.int8.json";

fn digits(rounding: Rounding) -> Int8Model {
    let mut m = Int8Model::load(Path::new(DIGITS)).unwrap();
    m.rounding = rounding;
    m
}

fn digit_rows(m: &Int8Model) -> Vec<Vec<f32>> {
    let rows = load_rows(
        "bundled:digits",
        m.inputs,
        &m.feature_names,
        &m.target_name,
        &m.class_labels,
        m.task,
    )
    .unwrap();
    rows.x.chunks(m.inputs).map(<[f32]>::to_vec).collect()
}

#[test]
fn json_field_round_trips_and_defaults_to_double() {
    let text = std::fs::read_to_string(DIGITS).unwrap();
    assert!(text.contains("\"rounding\": \"double\""));
    assert_eq!(
        Int8Model::load(Path::new(DIGITS)).unwrap().rounding,
        Rounding::Double
    );
    let single = digits(Rounding::Single);
    let written = single.to_json_string();
    assert!(written.contains("\"rounding\": \"single\""));
    assert_eq!(Int8Model::from_json_str(&written).unwrap(), single);
    // Files from before the field existed load as double rounding.
    let old: String = text
        .lines()
        .filter(|l| !l.contains("\"rounding\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(old, text);
    assert_eq!(
        Int8Model::from_json_str(&old).unwrap().rounding,
        Rounding::Double
    );
    for bad in ["\"rounding\": \"half\"", "\"rounding\": 1"] {
        let t = text.replace("\"rounding\": \"double\"", bad);
        let e = format!("{:#}", Int8Model::from_json_str(&t).unwrap_err());
        assert!(e.contains("\"rounding\""), "{bad}: {e}");
    }
}

#[test]
fn blob_flag_and_rust_export_carry_the_mode() {
    for rounding in [Rounding::Double, Rounding::Single] {
        let m = digits(rounding);
        let blob = AlignedBytes::new(&write_blob(&m, BlobOptions::default()).unwrap());
        let flags = u16::from_le_bytes(
            blob.as_bytes()[header::FLAGS..header::FLAGS + 2]
                .try_into()
                .unwrap(),
        );
        assert_eq!(
            flags & FLAG_SINGLE_ROUNDING != 0,
            rounding == Rounding::Single
        );
        let parsed = axon_core::blob::parse(blob.as_bytes()).unwrap();
        let mut fcs = 0;
        for i in 0..parsed.layers.len() {
            if let Some(Layer::FullyConnected(fc)) = parsed.layers.get(i) {
                assert_eq!(fc.rounding, rounding, "layer {i}");
                fcs += 1;
            }
        }
        assert_eq!(fcs, 2);
        let rs = write_rust(&m, DIGITS).unwrap();
        let want = format!("rounding: ::axon_core::quant::Rounding::{rounding:?},");
        assert_eq!(rs.matches(&want).count(), 2, "{rounding:?}");
    }
}

/// On every digits row: the JSON model and its blob give the same codes in
/// each mode, and the first layer's codes differ between the modes on some
/// rows (so the mode really reaches the kernels through both paths).
#[test]
fn json_and_blob_agree_in_each_mode_and_the_modes_differ() {
    let (double, single) = (digits(Rounding::Double), digits(Rounding::Single));
    let rows = digit_rows(&double);
    assert!(rows.len() > 1000);
    let blobs = [&double, &single]
        .map(|m| AlignedBytes::new(&write_blob(m, BlobOptions { row_sums: true }).unwrap()));
    let mut layer0_differ = 0;
    let mut first: Vec<Vec<i8>> = Vec::new();
    for (m, blob) in [&double, &single].into_iter().zip(&blobs) {
        let layers = m.core_layers();
        let from_json = m.core_model(&layers);
        let from_blob = axon_core::blob::parse(blob.as_bytes()).unwrap();
        let mut scratch = vec![0i8; from_json.scratch_len()];
        let (mut a, mut b) = (vec![0i8; 10], vec![0i8; 10]);
        let (mut ya, mut yb) = (vec![0f32; 10], vec![0f32; 10]);
        let mut h = vec![0i8; 32];
        let mut codes = Vec::new();
        for x in &rows {
            from_json.run(x, &mut scratch, &mut a, &mut ya).unwrap();
            from_blob.run(x, &mut scratch, &mut b, &mut yb).unwrap();
            assert_eq!((&a, ya.map_bits()), (&b, yb.map_bits()), "{:?}", m.rounding);
            // Layer 0 alone, on the quantized input.
            let q: Vec<i8> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let s = (v - m.preprocess.mean[i]) / m.preprocess.std[i];
                    m.input.quantize(s)
                })
                .collect();
            from_blob.layers.get(0).unwrap().run(&q, &mut h).unwrap();
            codes.push(h.clone());
        }
        first.push(codes.concat());
    }
    layer0_differ += first[0]
        .iter()
        .zip(&first[1])
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        layer0_differ > 0,
        "single and double rounding agree on every first-layer code of the digits set"
    );
}

trait MapBits {
    fn map_bits(&self) -> Vec<u32>;
}

impl MapBits for Vec<f32> {
    fn map_bits(&self) -> Vec<u32> {
        self.iter().map(|v| v.to_bits()).collect()
    }
}

#[test]
fn quantize_writes_the_requested_mode() {
    use axon::host::model::Model;
    use axon::host::quantize::{quantize, QuantizeOptions};
    let f32_model = Model::load(Path::new("tests/data/int8/digits.json")).unwrap();
    let rows = digit_rows(&digits(Rounding::Double)).concat();
    for rounding in [Rounding::Double, Rounding::Single] {
        let opts = QuantizeOptions {
            rounding,
            ..QuantizeOptions::default()
        };
        let q = quantize(&f32_model, &rows[..200 * 64], "digits", &opts).unwrap();
        assert_eq!(q.rounding, rounding);
        let back = Int8Model::from_json_str(&q.to_json_string()).unwrap();
        assert_eq!(back.rounding, rounding);
    }
}
