//! An untrusted blob never panics the parser or the runner: every failure
//! is its own error value. Targeted corruptions prove each check; random
//! ones (proptest) prove there is no panic anywhere.

use std::path::Path;

use axon::host::export::{fix_crc, write_blob, AlignedBytes, BlobOptions};
use axon::host::quantize::Int8Model;
use axon_core::blob::format::{entry, header, ENTRY_LEN, HEADER_LEN};
use axon_core::blob::{parse, BlobError};
use proptest::prelude::*;

fn model() -> Int8Model {
    Int8Model::load(Path::new("tests/data/int8/digits.int8.json")).unwrap()
}

fn blob(row_sums: bool) -> Vec<u8> {
    write_blob(&model(), BlobOptions { row_sums }).unwrap()
}

fn parse_owned(bytes: &[u8]) -> Result<usize, BlobError> {
    let a = AlignedBytes::new(bytes);
    parse(a.as_bytes()).map(|m| m.layers.len())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Applies `edit` to a valid blob, re-seals the CRC, and parses.
fn edited(row_sums: bool, edit: impl FnOnce(&mut Vec<u8>)) -> Result<usize, BlobError> {
    let mut b = blob(row_sums);
    edit(&mut b);
    fix_crc(&mut b);
    parse_owned(&b)
}

fn entry_at(layer: usize, field: usize) -> usize {
    HEADER_LEN + layer * ENTRY_LEN + field
}

#[test]
fn a_valid_blob_parses_and_trailing_flash_bytes_are_ignored() {
    let mut b = blob(false);
    assert_eq!(parse_owned(&b), Ok(3));
    b.extend_from_slice(&[0xFF; 64]); // erased flash after the blob
    assert_eq!(parse_owned(&b), Ok(3));
}

#[test]
fn each_kind_of_damage_has_its_own_error() {
    let total = blob(false).len();
    // Before the checksum: magic, version, lengths.
    let mut b = blob(false);
    b[0] ^= 0x20;
    assert_eq!(parse_owned(&b), Err(BlobError::BadMagic));
    let mut b = blob(false);
    b[header::VERSION] = 2;
    assert_eq!(parse_owned(&b), Err(BlobError::UnsupportedVersion(2)));
    let b = blob(false);
    assert_eq!(
        parse_owned(&b[..total - 1]),
        Err(BlobError::Truncated {
            needed: total,
            found: total - 1
        })
    );
    assert_eq!(
        parse_owned(&b[..20]),
        Err(BlobError::Truncated {
            needed: HEADER_LEN,
            found: 20
        })
    );
    assert_eq!(
        parse_owned(&b[..2]),
        Err(BlobError::Truncated {
            needed: HEADER_LEN,
            found: 2
        })
    );
    assert_eq!(
        edited(false, |b| b[header::HEADER_LEN] = 40),
        Err(BlobError::BadHeader)
    );
    // The checksum itself.
    let mut b = blob(false);
    let stored = u32_at(&b, total - 4);
    b[total / 2] ^= 1;
    match parse_owned(&b) {
        Err(BlobError::ChecksumMismatch {
            stored: s,
            computed,
        }) => {
            assert_eq!(s, stored);
            assert_ne!(computed, stored);
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    // Behind the checksum: flags, reserved fields, alignment, offsets.
    assert_eq!(
        edited(false, |b| b[header::FLAGS + 1] = 0x80),
        Err(BlobError::UnknownFlags(0x8001))
    );
    assert_eq!(
        edited(false, |b| b[header::RESERVED] = 1),
        Err(BlobError::ReservedNotZero {
            offset: header::RESERVED
        })
    );
    let w0 = u32_at(&blob(false), entry_at(0, entry::DATA));
    assert_eq!(
        edited(false, |b| put_u32(b, entry_at(0, entry::DATA), w0 + 1)),
        Err(BlobError::Misaligned {
            offset: w0 as usize + 1
        })
    );
    assert_eq!(
        edited(false, |b| put_u32(
            b,
            entry_at(0, entry::BIAS),
            total as u32
        )),
        Err(BlobError::OffsetOutOfRange {
            offset: total,
            len: 32 * 4
        })
    );
    assert_eq!(
        edited(false, |b| put_u32(b, entry_at(1, entry::DATA), 0)),
        Err(BlobError::OffsetOutOfRange {
            offset: 0,
            len: 320
        }),
        "an array inside the header is out of the payload"
    );
    // The model: layers, kinds, shapes, quantization.
    assert_eq!(
        edited(false, |b| b[header::LAYER_COUNT] = 0),
        Err(BlobError::NoLayers)
    );
    assert_eq!(
        edited(false, |b| b[entry_at(2, entry::KIND)] = 9),
        Err(BlobError::UnknownLayerKind { layer: 2, kind: 9 })
    );
    assert_eq!(
        edited(false, |b| put_u32(b, entry_at(1, entry::INPUT_LEN), 31)),
        Err(BlobError::ShapesDoNotChain { layer: 1 })
    );
    assert_eq!(
        edited(false, |b| put_u32(b, header::OUTPUT_LEN, 11)),
        Err(BlobError::ShapesDoNotChain { layer: 3 })
    );
    assert_eq!(
        edited(false, |b| put_u32(
            b,
            entry_at(0, entry::OUTPUT_SCALE),
            f32::NAN.to_bits()
        )),
        Err(BlobError::BadQuantParams { layer: 0 })
    );
    assert_eq!(
        edited(false, |b| {
            b[entry_at(0, entry::ACT_MIN)] = 100;
            b[entry_at(0, entry::ACT_MAX)] = 0;
        }),
        Err(BlobError::BadQuantParams { layer: 0 }),
        "act_min above act_max"
    );
    let off1 = u32_at(&blob(false), entry_at(1, entry::PARAM_A));
    assert_eq!(
        edited(false, |b| put_u32(
            b,
            entry_at(1, entry::PARAM_A),
            off1.wrapping_sub(1)
        )),
        Err(BlobError::QuantParamsDoNotChain { layer: 1 })
    );
    let rs = u32_at(&blob(true), entry_at(0, entry::ROW_SUMS)) as usize;
    assert_eq!(
        edited(true, |b| b[rs] ^= 1),
        Err(BlobError::RowSumsMismatch { layer: 0 })
    );
}

#[test]
fn a_blob_at_an_odd_address_is_refused_not_misread() {
    let b = blob(false);
    let mut shifted = AlignedBytes::new(&[&[0u8][..], &b].concat());
    assert_eq!(
        parse(&shifted.as_bytes_mut()[1..]).err(),
        Some(BlobError::UnalignedBuffer)
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let msg = |e: BlobError| e.to_string();
    assert!(msg(BlobError::BadMagic).contains("magic"));
    assert!(msg(BlobError::ChecksumMismatch {
        stored: 1,
        computed: 2
    })
    .contains("checksum"));
    assert!(msg(BlobError::Truncated {
        needed: 9,
        found: 3
    })
    .contains("needs 9 bytes, has 3"));
}

/// Parses `bytes`; when it parses, runs it on a few inputs. Must not panic.
fn parse_and_run(bytes: &[u8]) {
    let a = AlignedBytes::new(bytes);
    if let Ok(m) = parse(a.as_bytes()) {
        if m.scratch_len() > 1 << 16 || m.input_len > 1 << 12 || m.output_len > 1 << 12 {
            return; // valid but too wide to allocate scratch for in a test
        }
        let mut scratch = vec![0i8; m.scratch_len()];
        let mut codes = vec![0i8; m.output_len];
        let mut y = vec![0f32; m.output_len];
        for v in [0.0f32, 16.0, -1e30, f32::NAN] {
            let x = vec![v; m.input_len];
            let _ = m.run(&x, &mut scratch, &mut codes, &mut y);
            let _ = m.classify(&x, &mut scratch);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_damage_never_panics_and_is_caught_by_the_checksum(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let good = blob(false);
        let mut b = good.clone();
        for (at, v) in &edits {
            let i = at.index(b.len());
            b[i] = *v;
        }
        if truncate {
            b.truncate(cut.index(b.len()));
        }
        if b == good {
            return Ok(());
        }
        // Without resealing, every change is caught by one of the checks
        // that guard the checksum, or by the checksum itself.
        let r = parse_owned(&b);
        prop_assert!(matches!(
            r,
            Err(BlobError::BadMagic
                | BlobError::UnsupportedVersion(_)
                | BlobError::Truncated { .. }
                | BlobError::BadHeader
                | BlobError::ChecksumMismatch { .. })
        ), "{r:?}");
        parse_and_run(&b);
    }

    #[test]
    fn resealed_damage_never_panics_the_parser_or_the_runner(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        row_sums in any::<bool>(),
    ) {
        // With a fresh CRC the damage reaches every structural check.
        let mut b = blob(row_sums);
        for (at, v) in &edits {
            let i = at.index(b.len());
            b[i] = *v;
        }
        fix_crc(&mut b);
        parse_and_run(&b);
    }

    #[test]
    fn header_and_table_fields_set_to_extremes_never_panic(
        field in 0usize..(HEADER_LEN + 3 * ENTRY_LEN) / 4,
        v in prop_oneof![Just(0u32), Just(1), Just(u32::MAX), Just(0x8000_0000), Just(0x7FFF_FFFF), any::<u32>()],
    ) {
        let mut b = blob(true);
        put_u32(&mut b, field * 4, v);
        fix_crc(&mut b);
        parse_and_run(&b);
    }
}
