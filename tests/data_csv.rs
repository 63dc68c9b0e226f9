//! CSV loading: every malformed input gets an error naming the file, the
//! row, the column and what was expected.

use std::path::PathBuf;

/// A scratch directory removed on drop (the root package has no tempfile dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("axon-data-csv-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use axon::host::data::{Header, Table};
use axon::host::train::{prepare, Loss};

fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> String {
    let p: PathBuf = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

fn prepare_err(path: &str, target: Option<&str>, loss: Loss) -> String {
    match Table::read(path, Header::Auto) {
        Err(e) => format!("{e:#}"),
        Ok(t) => format!("{:#}", prepare(&t, target, loss, 0.2, 1).unwrap_err()),
    }
}

#[test]
fn a_bad_number_names_file_row_and_column() {
    let d = TempDir::new("number");
    let p = file(&d, "bad.csv", b"a,b,label\n1,2,0\n3,oops,1\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Ce),
        format!("{p}: row 3, column 2 (\"b\"): expected a number, found \"oops\"")
    );
}

#[test]
fn ragged_rows_empty_cells_and_non_finite_values_are_named() {
    let d = TempDir::new("ragged");
    let p = file(&d, "ragged.csv", b"a,b,label\n1,2,0\n3,4\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Ce),
        format!("{p}: row 3: expected 3 columns (as in the header), found 2")
    );
    let p = file(&d, "empty.csv", b"1,2,0\n3,,1\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Ce),
        format!("{p}: row 2, column 2: expected a number, found an empty cell")
    );
    let p = file(&d, "nan.csv", b"x,y\n1,NaN\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Mse),
        format!("{p}: row 2, column 2 (\"y\"): expected a finite number, found \"NaN\"")
    );
}

#[test]
fn class_targets_must_be_whole_numbers_or_names() {
    let d = TempDir::new("classes");
    let p = file(&d, "cls.csv", b"x,y\n1,0\n2,1.5\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Ce),
        format!("{p}: row 3, column 2 (\"y\"): expected a class: a whole number from 0 (or a name), found \"1.5\"")
    );
    let p = file(&d, "one.csv", b"x,y\n1,0\n2,0\n");
    assert!(prepare_err(&p, None, Loss::Ce).contains("only one class"));
    let p = file(&d, "three.csv", b"x,y\n1,0\n2,1\n3,2\n");
    assert!(prepare_err(&p, None, Loss::Bce).contains("--loss bce needs two classes"));
}

#[test]
fn target_column_by_name_number_or_default_last() {
    let d = TempDir::new("target");
    let p = file(&d, "t.csv", b"y,a,b\n0,1,2\n1,3,4\n0,5,6\n1,7,8\n");
    let t = Table::read(&p, Header::Auto).unwrap();
    let by_name = prepare(&t, Some("y"), Loss::Ce, 0.0, 1).unwrap();
    assert_eq!(by_name.feature_names, ["a", "b"]);
    assert_eq!(by_name.y, [0.0, 1.0, 0.0, 1.0]);
    assert_eq!(by_name.x, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    let by_number = prepare(&t, Some("1"), Loss::Ce, 0.0, 1).unwrap();
    assert_eq!(by_number.x, by_name.x);
    let last = prepare(&t, None, Loss::Mse, 0.0, 1).unwrap();
    assert_eq!(last.target_name, "b");
    assert_eq!(
        prepare_err(&p, Some("z"), Loss::Ce),
        format!("{p}: no column named \"z\" (columns: y, a, b)")
    );
    assert_eq!(
        prepare_err(&p, Some("9"), Loss::Ce),
        format!("{p}: column 9 does not exist (columns are numbered 1 to 3)")
    );
}

#[test]
fn string_labels_become_sorted_classes() {
    let d = TempDir::new("labels");
    let p = file(&d, "s.csv", b"x,kind\n1,dog\n2,cat\n3,dog\n");
    let t = Table::read(&p, Header::Auto).unwrap();
    let data = prepare(&t, None, Loss::Ce, 0.0, 1).unwrap();
    assert_eq!(data.class_labels, ["cat", "dog"]);
    assert_eq!(data.y, [1.0, 0.0, 1.0]);
}

#[test]
fn unreadable_inputs_are_reported() {
    let d = TempDir::new("unreadable");
    let p = file(&d, "latin1.csv", b"x,y\n1,2\n3,\xe9\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Mse),
        format!("{p}: row 3: the file is not valid UTF-8 text")
    );
    let p = file(&d, "blank.csv", b"\n\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Mse),
        format!("{p}: the file has no rows")
    );
    let p = file(&d, "hdr.csv", b"a,b\n");
    assert_eq!(
        prepare_err(&p, None, Loss::Mse),
        format!("{p}: the file has a header but no data rows")
    );
    let missing = d.path().join("nope.csv");
    assert!(prepare_err(missing.to_str().unwrap(), None, Loss::Mse)
        .starts_with("cannot read data file"));
    assert!(prepare_err("bundled:mnist", None, Loss::Ce).contains("no bundled data set 'mnist'"));
}

#[test]
fn bundled_sets_have_their_documented_shapes() {
    for (name, rows, cols) in [("iris", 150, 5), ("digits", 1797, 65), ("sine", 1000, 2)] {
        let t = Table::read(&format!("bundled:{name}"), Header::Auto).unwrap();
        assert_eq!((t.rows.len(), t.ncols()), (rows, cols), "{name}");
    }
}
