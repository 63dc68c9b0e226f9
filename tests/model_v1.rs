//! Version-1 model files still load: each is converted on read to the
//! version-2 graph (with a note on stderr) and gives, bit for bit, the
//! outputs the version-1 engine gave (tests/data/v1/*.outputs.f32, see
//! tests/data/v1/README.md) on every row of the data it was made for; and
//! a converted model saved again is version-2 JSON that reads back equal.

use std::path::{Path, PathBuf};
use std::process::Command;

use axon::host::data::{Header, Table};
use axon::host::export::fix_crc;
use axon::host::model::{Model, Runner};
use proptest::prelude::*;

const V1: &str = "tests/data/v1";

/// A version-1 file, the data it runs on, and the outputs it gave.
struct Case {
    file: &'static str,
    data: &'static str,
    inputs: usize,
    outputs: usize,
    expected: &'static str,
}

const CASES: [Case; 5] = [
    Case {
        file: "digits.json",
        data: "data/digits.csv",
        inputs: 64,
        outputs: 10,
        expected: "digits.outputs.f32",
    },
    Case {
        file: "digits.int8.json",
        data: "data/digits.csv",
        inputs: 64,
        outputs: 10,
        expected: "digits.int8.outputs.f32",
    },
    Case {
        file: "digits.axon",
        data: "data/digits.csv",
        inputs: 64,
        outputs: 10,
        expected: "digits.int8.outputs.f32",
    },
    Case {
        file: "sine.int8.json",
        data: "data/sine.csv",
        inputs: 1,
        outputs: 1,
        expected: "sine.int8.outputs.f32",
    },
    Case {
        file: "sine.axon",
        data: "data/sine.csv",
        inputs: 1,
        outputs: 1,
        expected: "sine.int8.outputs.f32",
    },
];

fn path(file: &str) -> PathBuf {
    Path::new(V1).join(file)
}

/// The first `inputs` columns of every row of `data`.
fn rows(data: &str, inputs: usize) -> Vec<f32> {
    let t = Table::read(data, Header::Auto).unwrap();
    let cols: Vec<usize> = (0..inputs).collect();
    t.numbers(&cols).unwrap()
}

/// The bits of every output of `m` on every row of `x`.
fn output_bits(m: &Model, x: &[f32]) -> Vec<u32> {
    let run = Runner::new(m).unwrap();
    let mut bits = Vec::new();
    run.for_each_row(x, |_, y, _| {
        bits.extend(y.iter().map(|v| v.to_bits()));
        Ok(())
    })
    .unwrap();
    bits
}

fn expected_bits(file: &str) -> Vec<u32> {
    let b = std::fs::read(path(file)).unwrap();
    assert_eq!(b.len() % 4, 0, "{file}");
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The first difference between two runs of outputs, named by row and
/// output.
fn first_difference(got: &[u32], want: &[u32], outputs: usize) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!(
            "{} outputs, expected {} ({} rows of {outputs})",
            got.len(),
            want.len(),
            want.len() / outputs
        ));
    }
    let k = got.iter().zip(want).position(|(a, b)| a != b)?;
    Some(format!(
        "row {}, output {}: {} ({:#010x}), expected {} ({:#010x})",
        k / outputs + 1,
        k % outputs,
        f32::from_bits(got[k]),
        got[k],
        f32::from_bits(want[k]),
        want[k]
    ))
}

#[test]
fn version_1_files_give_the_version_1_engines_outputs_bit_for_bit() {
    for c in &CASES {
        let m = Model::load(&path(c.file)).unwrap_or_else(|e| panic!("{}: {e:#}", c.file));
        assert_eq!(
            (m.inputs(), m.outputs()),
            (c.inputs, c.outputs),
            "{}",
            c.file
        );
        let x = rows(c.data, c.inputs);
        let want = expected_bits(c.expected);
        assert_eq!(want.len(), x.len() / c.inputs * c.outputs, "{}", c.expected);
        let got = output_bits(&m, &x);
        if let Some(d) = first_difference(&got, &want, c.outputs) {
            panic!("{} on {}: {d}", c.file, c.data);
        }
    }
}

#[test]
fn int8_files_and_their_blobs_convert_to_the_same_kind_of_graph() {
    for (json, blob) in [
        ("digits.int8.json", "digits.axon"),
        ("sine.int8.json", "sine.axon"),
    ] {
        let a = Model::load(&path(json)).unwrap();
        let b = Model::load(&path(blob)).unwrap();
        assert!(a.is_int8() && b.is_int8(), "{json}, {blob}");
        // Same nodes and ops; the blob's weight scales are reconstructed
        // from its multipliers, and it names no fused activation (only its
        // clamp), no columns and no labels.
        let ops = |m: &Model| -> Vec<&'static str> {
            m.graph.nodes.iter().map(|n| n.op.name()).collect()
        };
        assert_eq!(ops(&a), ops(&b), "{json} vs {blob}");
        assert!(
            b.meta.features.is_empty() && b.meta.labels.is_empty(),
            "{blob}"
        );
    }
    assert!(!Model::load(&path("digits.json")).unwrap().is_int8());
}

#[test]
fn a_converted_model_saved_again_is_version_2_json_that_reads_back_equal() {
    let dir = std::env::temp_dir().join(format!("axon-model-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for c in &CASES {
        let m = Model::load(&path(c.file)).unwrap();
        let text = m.to_json_string().unwrap();
        let head: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(head["format"], "axon-model", "{}", c.file);
        assert_eq!(head["version"], 2, "{}", c.file);
        assert_eq!(
            Model::from_json_str(&text).unwrap(),
            m,
            "{}: from the text",
            c.file
        );
        let out = dir.join(format!("{}.v2.json", c.file));
        m.save(&out).unwrap();
        let back = Model::load(&out).unwrap();
        assert_eq!(back, m, "{}: saved and loaded", c.file);
        // Saved again, byte for byte the same file.
        assert_eq!(back.to_json_string().unwrap(), text, "{}", c.file);
    }
    // The saved form still gives the version-1 outputs.
    let c = &CASES[1];
    let back = Model::load(&dir.join(format!("{}.v2.json", c.file))).unwrap();
    let got = output_bits(&back, &rows(c.data, c.inputs));
    assert_eq!(
        first_difference(&got, &expected_bits(c.expected), c.outputs),
        None
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Set in the child process of [`loading_a_version_1_file_notes_the_conversion_on_stderr`]:
/// the model file it loads.
const CHILD: &str = "AXON_MODEL_V1_LOAD";

/// Loads the file named by `AXON_MODEL_V1_LOAD`, when run as the child of
/// the test below; does nothing otherwise.
#[test]
fn child_loads_one_file() {
    if let Ok(p) = std::env::var(CHILD) {
        Model::load(Path::new(&p)).unwrap();
    }
}

#[test]
fn loading_a_version_1_file_notes_the_conversion_on_stderr() {
    let exe = std::env::current_exe().unwrap();
    for (file, says) in [
        ("digits.json", "is a version-1 model file"),
        ("digits.int8.json", "is a version-1 model file"),
        (
            "sine.axon",
            "a version-1 blob; converted to version 2 on read",
        ),
    ] {
        let out = Command::new(&exe)
            .args([
                "child_loads_one_file",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, path(file))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file}: the child failed: {stderr}");
        assert!(
            stderr.contains("note: ") && stderr.contains(says),
            "{file}: stderr should note the conversion (`{says}`), was: {stderr}"
        );
    }
    // A version-2 file loads without a note.
    let v2 = std::env::temp_dir().join(format!("axon-model-v1-note-{}.json", std::process::id()));
    Model::load(&path("digits.int8.json"))
        .unwrap()
        .save(&v2)
        .unwrap();
    let out = Command::new(&exe)
        .args([
            "child_loads_one_file",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &v2)
        .output()
        .unwrap();
    std::fs::remove_file(&v2).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("note: "),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Hostile version-1 blobs: the host's reader is a parser of untrusted
// bytes too, and must return an error, never panic.

/// A v1 layer entry's field (48-byte header, 48-byte entries).
fn v1_entry(layer: usize, field: usize) -> usize {
    48 + 48 * layer + field
}

fn load_bytes(b: &[u8]) -> Result<Result<Model, String>, String> {
    std::panic::catch_unwind(|| Model::from_bytes(b, "hostile.axon").map_err(|e| format!("{e:#}")))
        .map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
}

/// Host reader bug: a fully connected entry with a zero multiplier and a
/// negative (or NaN) output scale makes the weight-scale reconstruction
/// (`v1/blob.rs`, `scale_of`) step the bits of −0.0 (or of a NaN with a full
/// payload) past `i32::MIN` / `i32::MAX`: an overflow panic in debug builds
/// (tests keep overflow checks on).
#[test]
fn a_version_1_blob_with_impossible_scales_is_an_error_not_a_panic() {
    let good = std::fs::read(path("digits.axon")).unwrap();
    for (what, scale) in [
        ("a negative output scale", (-1.0f32).to_bits()),
        ("a NaN output scale", 0x7FFF_FFFF),
    ] {
        let mut b = good.clone();
        b[v1_entry(0, 12)..v1_entry(0, 16)].copy_from_slice(&scale.to_le_bytes());
        let mult =
            u32::from_le_bytes(b[v1_entry(0, 36)..v1_entry(0, 40)].try_into().unwrap()) as usize;
        b[mult..mult + 4].copy_from_slice(&0i32.to_le_bytes());
        fix_crc(&mut b);
        match load_bytes(&b) {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("{what}: accepted"),
            Err(p) => panic!("{what}: Model::from_bytes panicked: {p}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random damage to a version-1 blob, re-sealed: an error or a model,
    /// never a panic.
    #[test]
    fn resealed_damage_to_a_version_1_blob_never_panics_the_host_reader(
        which in 0..2usize,
        flips in prop::collection::vec((any::<usize>(), 1..=255u8, any::<bool>()), 1..6),
    ) {
        let file = ["digits.axon", "sine.axon"][which];
        let mut b = std::fs::read(path(file)).unwrap();
        for (at, xor, header) in flips {
            // Half the flips in the header and layer table.
            let span = if header { (48 + 48 * 4).min(b.len()) } else { b.len() };
            let at = at % span;
            b[at] ^= xor;
        }
        fix_crc(&mut b);
        let r = load_bytes(&b);
        prop_assert!(r.is_ok(), "{file}: Model::from_bytes panicked: {:?}", r.err());
    }
}
