//! docs/blob-format.md and the code's blob layouts are one definition:
//! every structure's table in the doc (one per `Layout`, under a heading
//! naming the layout and its length) has the code's fields — offset, size,
//! type name (`Ty::name`) and name — no more and no fewer, and the op code
//! and element type tables are `Op::ALL` and `DType::ALL`. Each mismatch
//! is named in the failure.

use axon::core::blob::format::{Field, Layout};
use axon::core::graph::DType;
use axon::core::ops::{Op, LAYOUTS};

const DOC: &str = include_str!("../docs/blob-format.md");

/// One markdown table: its header cells and its rows of cells, with
/// backticks and surrounding spaces removed.
#[derive(Debug, Clone, PartialEq)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner
        .split('|')
        .map(|c| c.trim().replace('`', ""))
        .collect()
}

/// A `### ` section: its heading text and its tables, in order.
#[derive(Debug)]
struct Section {
    heading: String,
    tables: Vec<Table>,
}

fn sections(doc: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut lines = doc.lines().peekable();
    let mut in_code = false;
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            out.push(Section {
                heading: h.trim().to_owned(),
                tables: Vec::new(),
            });
        } else if line.starts_with("## ") || line.starts_with("# ") {
            // A higher-level heading ends the section (its tables are not
            // the structure's).
            out.push(Section {
                heading: String::new(),
                tables: Vec::new(),
            });
        } else if line.starts_with('|') {
            let header = cells(line);
            // The separator row.
            let sep = lines.next().unwrap_or_default();
            assert!(
                sep.starts_with('|') && sep.contains("--"),
                "a table without a separator row after `{line}`"
            );
            let mut rows = Vec::new();
            while let Some(next) = lines.peek() {
                if !next.starts_with('|') {
                    break;
                }
                rows.push(cells(lines.next().unwrap_or_default()));
            }
            if let Some(s) = out.last_mut() {
                s.tables.push(Table { header, rows });
            }
        }
    }
    out
}

/// A structure heading: `` `NAME` (LEN bytes) ``.
fn structure_heading(h: &str) -> Option<(String, usize)> {
    let rest = h.strip_prefix('`')?;
    let end = rest.find('`')?;
    let name = rest[..end].to_owned();
    let tail = rest[end + 1..].trim();
    let len = tail.strip_prefix('(')?.strip_suffix(" bytes)")?;
    Some((name, len.trim().parse().ok()?))
}

const COLUMNS: [&str; 5] = ["offset", "size", "type", "field", "meaning"];

/// The doc's name for a field: the code's, lower case.
fn doc_name(f: &Field) -> String {
    f.name.to_ascii_lowercase()
}

/// Every disagreement between `doc` and the layouts and code tables.
fn disagreements(doc: &str, layouts: &[Layout]) -> Vec<String> {
    let secs = sections(doc);
    let mut errs = Vec::new();
    let documented: Vec<(String, usize, &Section)> = secs
        .iter()
        .filter_map(|s| structure_heading(&s.heading).map(|(n, l)| (n, l, s)))
        .collect();
    for (name, _, _) in &documented {
        if !layouts.iter().any(|l| l.name == name) {
            errs.push(format!(
                "the doc describes structure `{name}`, which no layout in the code is"
            ));
        }
        if documented.iter().filter(|(n, _, _)| n == name).count() > 1 {
            errs.push(format!("the doc describes `{name}` more than once"));
        }
    }
    for l in layouts {
        let Some((_, len, sec)) = documented.iter().find(|(n, _, _)| n == l.name) else {
            errs.push(format!(
                "layout `{}` has no section in the doc (a heading `### `{}` ({} bytes)`)",
                l.name, l.name, l.len
            ));
            continue;
        };
        if *len != l.len {
            errs.push(format!(
                "`{}`: the doc says {len} bytes, the code {}",
                l.name, l.len
            ));
        }
        let Some(table) = sec.tables.first() else {
            errs.push(format!("`{}`: the doc's section has no table", l.name));
            continue;
        };
        if table.header != COLUMNS {
            errs.push(format!(
                "`{}`: the table's columns are {:?}, expected {:?}",
                l.name, table.header, COLUMNS
            ));
            continue;
        }
        let doc_fields: Vec<&str> = table.rows.iter().map(|r| r[3].as_str()).collect();
        for f in l.fields {
            if !doc_fields.contains(&doc_name(f).as_str()) {
                errs.push(format!(
                    "`{}`: field `{}` (offset {}, {}) is missing from the doc",
                    l.name,
                    doc_name(f),
                    f.offset,
                    f.ty.name()
                ));
            }
        }
        for (k, row) in table.rows.iter().enumerate() {
            if row.len() != COLUMNS.len() {
                errs.push(format!(
                    "`{}`: row {} has {} cells, expected {}",
                    l.name,
                    k + 1,
                    row.len(),
                    COLUMNS.len()
                ));
                continue;
            }
            let Some(f) = l.fields.iter().find(|f| doc_name(f) == row[3]) else {
                errs.push(format!(
                    "`{}`: the doc has a field `{}` the code does not",
                    l.name, row[3]
                ));
                continue;
            };
            let want = [
                f.offset.to_string(),
                f.ty.size().to_string(),
                f.ty.name().to_owned(),
            ];
            for (col, (got, want)) in ["offset", "size", "type"].iter().zip(row.iter().zip(&want)) {
                if got != want {
                    errs.push(format!(
                        "`{}`.`{}`: the doc's {col} is `{got}`, the code's `{want}`",
                        l.name, row[3]
                    ));
                }
            }
            if l.fields.get(k).map(doc_name).as_deref() != Some(row[3].as_str()) {
                errs.push(format!(
                    "`{}`: the doc lists `{}` as field {}, the code as field {}",
                    l.name,
                    row[3],
                    k + 1,
                    l.fields.iter().position(|g| g == f).map_or(0, |p| p + 1)
                ));
            }
        }
        let doc_end = table
            .rows
            .iter()
            .filter_map(|r| {
                Some(r.first()?.parse::<usize>().ok()? + r.get(1)?.parse::<usize>().ok()?)
            })
            .max()
            .unwrap_or(0);
        if doc_end != *len {
            errs.push(format!(
                "`{}`: the doc's fields end at byte {doc_end}, but it says the structure has {len}",
                l.name
            ));
        }
    }
    // The op codes.
    match secs.iter().find(|s| s.heading == "Op codes") {
        None => errs.push("the doc has no `### Op codes` section".into()),
        Some(s) => {
            match s.tables.first() {
                None => errs.push("the op code section has no table".into()),
                Some(t) => {
                    let doc: Vec<(String, String)> = t
                        .rows
                        .iter()
                        .map(|r| (r[0].clone(), r[1].clone()))
                        .collect();
                    let code: Vec<(String, String)> = Op::ALL
                        .iter()
                        .map(|(c, n)| (c.to_string(), (*n).to_owned()))
                        .collect();
                    for (c, n) in &code {
                        match doc.iter().find(|(_, dn)| dn == n) {
                            None => errs.push(format!(
                                "op `{n}` (code {c}) is missing from the op code table"
                            )),
                            Some((dc, _)) if dc != c => errs
                                .push(format!("op `{n}`: the doc's code is {dc}, the code's {c}")),
                            _ => {}
                        }
                    }
                    for (dc, dn) in &doc {
                        if !code.iter().any(|(_, n)| n == dn) {
                            errs.push(format!("the op code table lists `{dn}` (code {dc}), which Op::ALL does not"));
                        }
                    }
                    if errs.is_empty() && doc != code {
                        errs.push(format!(
                            "the op code table's order differs from Op::ALL: {doc:?}"
                        ));
                    }
                }
            }
        }
    }
    // The element type codes.
    let dtypes = secs.iter().flat_map(|s| &s.tables).find(|t| {
        t.header.first().map(String::as_str) == Some("code")
            && t.header.get(1).map(String::as_str) == Some("dtype")
    });
    match dtypes {
        None => errs.push("the doc has no element type table (`code | dtype | …`)".into()),
        Some(t) => {
            let doc: Vec<(String, String)> = t
                .rows
                .iter()
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect();
            let code: Vec<(String, String)> = DType::ALL
                .iter()
                .enumerate()
                .map(|(c, d)| (c.to_string(), d.name().to_owned()))
                .collect();
            if doc != code {
                errs.push(format!(
                    "the element type table is {doc:?}, DType::ALL gives {code:?}"
                ));
            }
        }
    }
    errs
}

#[test]
fn every_layout_table_and_code_table_in_the_doc_matches_the_code() {
    let errs = disagreements(DOC, LAYOUTS);
    assert!(
        errs.is_empty(),
        "docs/blob-format.md and the code disagree:\n  {}",
        errs.join("\n  ")
    );
}

#[test]
fn layouts_lists_the_header_entries_and_every_op_record_once() {
    use axon::core::blob::format::{header, node, tensor};
    use axon::core::ops::{
        add, dequantize, fully_connected as fc, layout, lut, quantize, relu, softmax, standardize,
    };
    let all = [
        header::LAYOUT,
        tensor::LAYOUT,
        node::LAYOUT,
        quantize::record::LAYOUT,
        dequantize::record::LAYOUT,
        standardize::record::LAYOUT,
        fc::record_f32::LAYOUT,
        fc::record_i8::LAYOUT,
        fc::record_packed4::LAYOUT,
        add::record::LAYOUT,
        relu::record::LAYOUT,
        lut::record::LAYOUT,
        softmax::record::LAYOUT,
        layout::record::LAYOUT,
    ];
    for l in &all {
        let n = LAYOUTS.iter().filter(|m| *m == l).count();
        assert_eq!(n, 1, "`{}` appears {n} times in ops::LAYOUTS", l.name);
    }
    for l in LAYOUTS {
        let n = LAYOUTS.iter().filter(|m| m.name == l.name).count();
        assert_eq!(n, 1, "two layouts are named `{}`", l.name);
    }
}

/// The check itself finds and names each kind of drift.
#[test]
fn a_drifted_doc_is_caught_and_the_difference_named() {
    let cases = [
        // An offset.
        (
            "| 8 | 4 | `u32` | `total_len` |",
            "| 9 | 4 | `u32` | `total_len` |",
            "`header`.`total_len`: the doc's offset is `9`, the code's `8`",
        ),
        // A type.
        (
            "| 20 | 4 | `f32` | `scale` |",
            "| 20 | 4 | `i32` | `scale` |",
            "`tensor entry`.`scale`: the doc's type is `i32`, the code's `f32`",
        ),
        // A size.
        (
            "| 6 | 2 | `u16` | `headroom` |",
            "| 6 | 1 | `u16` | `headroom` |",
            "`add record`.`headroom`: the doc's size is `1`, the code's `2`",
        ),
        // A name.
        (
            "| 1 | 1 | `u8` | `flag` |",
            "| 1 | 1 | `u8` | `flags` |",
            "`element-wise record`: field `flag` (offset 1, u8) is missing from the doc",
        ),
        // A missing field.
        (
            "| 3 | 1 | `u8` | `reserved0` | 0 |\n| 4 | 4 | `offset → u16[]` | `ids` |",
            "| 4 | 4 | `offset → u16[]` | `ids` |",
            "`node entry`: field `reserved0` (offset 3, u8) is missing from the doc",
        ),
        // A length.
        (
            "### `layout record` (4 bytes)",
            "### `layout record` (8 bytes)",
            "`layout record`: the doc says 8 bytes, the code 4",
        ),
        // An op code.
        (
            "| 13 | `layout` |",
            "| 14 | `layout` |",
            "op `layout`: the doc's code is 14, the code's 13",
        ),
        // A missing section.
        (
            "### `relu record` (24 bytes)",
            "### The relu record",
            "layout `relu record` has no section in the doc",
        ),
    ];
    assert!(disagreements(DOC, LAYOUTS).is_empty());
    for (from, to, says) in cases {
        assert!(DOC.contains(from), "the doc no longer contains `{from}`");
        let drifted = DOC.replacen(from, to, 1);
        let errs = disagreements(&drifted, LAYOUTS);
        assert!(
            errs.iter().any(|e| e.contains(says)),
            "changing `{from}` to `{to}` should report `{says}`, got {errs:?}"
        );
    }
    // A field in the code the doc lacks (a layout with one field more).
    static MORE: [Field; 1] = [Field::new("EXTRA", 0, axon::core::blob::format::Ty::U32)];
    let more = Layout {
        name: "layout record",
        len: 4,
        fields: &MORE,
    };
    let mut layouts = LAYOUTS.to_vec();
    let k = layouts
        .iter()
        .position(|l| l.name == "layout record")
        .unwrap();
    layouts[k] = more;
    let errs = disagreements(DOC, &layouts);
    assert!(
        errs.iter()
            .any(|e| e.contains("field `extra` (offset 0, u32) is missing")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("the doc has a field `direction` the code does not")),
        "{errs:?}"
    );
}
