//! CSV tables (the `csv` crate) with errors that name the file, the row,
//! the column and what was expected.

use anyhow::{bail, Context};

use super::bundled::bundled;

/// Whether the first row is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Header {
    /// A header if the first row has a text cell where the second row has a
    /// number (or every cell of the first row is text).
    #[default]
    Auto,
    /// The first row is a header.
    Yes,
    /// There is no header.
    No,
}

/// A CSV file as text cells, checked to be rectangular.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where the table came from (a path or `bundled:NAME`), for messages.
    pub source: String,
    /// Column names, if the file has a header.
    pub header: Option<Vec<String>>,
    /// Data rows, every one with the same number of cells.
    pub rows: Vec<Vec<String>>,
    /// The file line of each data row (1-based), for messages.
    pub lines: Vec<u64>,
}

impl Table {
    /// Reads `spec`: a file path, or `bundled:NAME` for a shipped set
    /// (`iris`, `digits`, `sine`).
    pub fn read(spec: &str, header: Header) -> anyhow::Result<Table> {
        if let Some(name) = spec.strip_prefix("bundled:") {
            let text = bundled(name).with_context(|| {
                format!(
                    "there is no bundled data set '{name}' (bundled: {})",
                    super::BUNDLED.join(", ")
                )
            })?;
            return Table::parse(spec, text, header);
        }
        let bytes = std::fs::read(spec).with_context(|| format!("cannot read data file {spec}"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
            anyhow::anyhow!("{spec}: row {line}: the file is not valid UTF-8 text")
        })?;
        Table::parse(spec, &text, header)
    }

    /// Parses CSV text; `source` names it in messages.
    pub fn parse(source: &str, text: &str, header: Header) -> anyhow::Result<Table> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                anyhow::anyhow!("{source}: row {line}: malformed CSV: {e}")
            })?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            // A line of nothing but separators or one empty cell is blank.
            if rec.iter().all(str::is_empty) {
                continue;
            }
            rows.push(rec.iter().map(str::to_owned).collect::<Vec<_>>());
            lines.push(line);
        }
        if rows.is_empty() {
            bail!("{source}: the file has no rows");
        }
        let is_num = |s: &str| s.parse::<f64>().is_ok();
        let has_header = match header {
            Header::Yes => true,
            Header::No => false,
            Header::Auto => {
                let first = &rows[0];
                match rows.get(1) {
                    Some(second) => {
                        first
                            .iter()
                            .zip(second)
                            .any(|(a, b)| !is_num(a) && is_num(b))
                            || first.iter().all(|a| !is_num(a))
                    }
                    None => first.iter().all(|a| !is_num(a)),
                }
            }
        };
        let header = if has_header {
            lines.remove(0);
            Some(rows.remove(0))
        } else {
            None
        };
        let width = header
            .as_ref()
            .map(Vec::len)
            .unwrap_or(rows.first().map_or(0, Vec::len));
        for (r, row) in rows.iter().enumerate() {
            if row.len() != width {
                bail!(
                    "{source}: row {}: expected {width} columns ({}), found {}",
                    lines[r],
                    if header.is_some() {
                        "as in the header"
                    } else {
                        "as in the first row"
                    },
                    row.len()
                );
            }
        }
        if rows.is_empty() {
            bail!("{source}: the file has a header but no data rows");
        }
        Ok(Table {
            source: source.to_owned(),
            header,
            rows,
            lines,
        })
    }

    /// A table from cells (for generated sets); lines are numbered as a file
    /// written by [`to_csv_string`](Self::to_csv_string) would have them.
    pub fn from_rows(source: &str, header: Option<Vec<String>>, rows: Vec<Vec<String>>) -> Table {
        let first = u64::from(header.is_some()) + 1;
        let lines = (0..rows.len() as u64).map(|i| first + i).collect();
        Table {
            source: source.to_owned(),
            header,
            rows,
            lines,
        }
    }

    /// The same table under another source name.
    pub fn renamed(mut self, source: &str) -> Table {
        self.source = source.to_owned();
        self
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.header
            .as_ref()
            .map(Vec::len)
            .unwrap_or_else(|| self.rows.first().map_or(0, Vec::len))
    }

    /// Column `c` (0-based) for messages: `3 ("petal_length")` or `3`.
    pub fn column_label(&self, c: usize) -> String {
        match &self.header {
            Some(h) => format!("{} (\"{}\")", c + 1, h[c]),
            None => format!("{}", c + 1),
        }
    }

    /// Column names: the header, or `c1`, `c2`, … without one.
    pub fn column_names(&self) -> Vec<String> {
        match &self.header {
            Some(h) => h.clone(),
            None => (1..=self.ncols()).map(|c| format!("c{c}")).collect(),
        }
    }

    /// Resolves a column given by header name or by number (from 1);
    /// `None` is the last column. Returns the 0-based index.
    pub fn resolve_column(&self, spec: Option<&str>) -> anyhow::Result<usize> {
        let n = self.ncols();
        let Some(spec) = spec else {
            return Ok(n - 1);
        };
        if let Some(h) = &self.header {
            if let Some(i) = h.iter().position(|name| name == spec) {
                return Ok(i);
            }
        }
        match spec.parse::<usize>() {
            Ok(k) if (1..=n).contains(&k) => Ok(k - 1),
            Ok(k) => bail!(
                "{}: column {k} does not exist (columns are numbered 1 to {n})",
                self.source
            ),
            Err(_) => match &self.header {
                Some(h) => bail!(
                    "{}: no column named \"{spec}\" (columns: {})",
                    self.source,
                    h.join(", ")
                ),
                None => bail!(
                    "{}: the file has no header, so the column must be a number from 1 to {n}, not \"{spec}\"",
                    self.source
                ),
            },
        }
    }

    /// The cells of `cols` as finite f32, row-major `(rows, cols.len())`.
    pub fn numbers(&self, cols: &[usize]) -> anyhow::Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.rows.len() * cols.len());
        for (r, row) in self.rows.iter().enumerate() {
            for &c in cols {
                out.push(self.number_at(r, c, &row[c])?);
            }
        }
        Ok(out)
    }

    fn number_at(&self, r: usize, c: usize, cell: &str) -> anyhow::Result<f32> {
        let what = || {
            format!(
                "{}: row {}, column {}",
                self.source,
                self.lines[r],
                self.column_label(c)
            )
        };
        if cell.is_empty() {
            bail!("{}: expected a number, found an empty cell", what());
        }
        match cell.parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => bail!("{}: expected a finite number, found \"{cell}\"", what()),
            Err(_) => bail!("{}: expected a number, found \"{cell}\"", what()),
        }
    }

    /// Class indices of column `c`. With `known` labels (from a model), each
    /// cell must be one of them (or its index); without, the classes are the
    /// non-negative integers `0..=max` when every cell is one, else the
    /// distinct texts in sorted order.
    pub fn classes(
        &self,
        c: usize,
        known: Option<&[String]>,
    ) -> anyhow::Result<super::ClassTargets> {
        let at = |r: usize| {
            format!(
                "{}: row {}, column {}",
                self.source,
                self.lines[r],
                self.column_label(c)
            )
        };
        if let Some(labels) = known.filter(|l| !l.is_empty()) {
            let mut idx = Vec::with_capacity(self.rows.len());
            for (r, row) in self.rows.iter().enumerate() {
                let cell = &row[c];
                let k = labels.iter().position(|l| l == cell).or_else(|| {
                    cell.parse::<f64>()
                        .ok()
                        .filter(|v| v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < labels.len())
                        .map(|v| v as usize)
                });
                match k {
                    Some(k) => idx.push(k),
                    None => bail!(
                        "{}: expected a class the model knows ({}), found \"{cell}\"",
                        at(r),
                        labels.join(", ")
                    ),
                }
            }
            return Ok(super::ClassTargets {
                index: idx,
                labels: labels.to_vec(),
            });
        }
        let numeric = self.rows.iter().all(|row| row[c].parse::<f64>().is_ok());
        if numeric {
            let mut idx = Vec::with_capacity(self.rows.len());
            for (r, row) in self.rows.iter().enumerate() {
                let v: f64 = row[c].parse().unwrap_or(f64::NAN);
                if !(v >= 0.0 && v.fract() == 0.0 && v < 65536.0) {
                    bail!(
                        "{}: expected a class: a whole number from 0 (or a name), found \"{}\"",
                        at(r),
                        row[c]
                    );
                }
                idx.push(v as usize);
            }
            let classes = idx.iter().max().map_or(0, |m| m + 1);
            let labels = (0..classes).map(|k| k.to_string()).collect();
            return Ok(super::ClassTargets { index: idx, labels });
        }
        let mut labels: Vec<String> = self.rows.iter().map(|row| row[c].clone()).collect();
        labels.sort();
        labels.dedup();
        if let Some(r) = self.rows.iter().position(|row| row[c].is_empty()) {
            bail!("{}: expected a class, found an empty cell", at(r));
        }
        let index = self
            .rows
            .iter()
            .map(|row| labels.binary_search(&row[c]).unwrap_or(0))
            .collect();
        Ok(super::ClassTargets { index, labels })
    }

    /// The table as CSV text (header first, if any).
    pub fn to_csv_string(&self) -> anyhow::Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if let Some(h) = &self.header {
            w.write_record(h)?;
        }
        for row in &self.rows {
            w.write_record(row)?;
        }
        Ok(String::from_utf8(w.into_inner()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let t = Table::parse("f.csv", text, Header::Auto);
        match t {
            Err(e) => format!("{e:#}"),
            Ok(t) => format!(
                "{:#}",
                t.numbers(&(0..t.ncols()).collect::<Vec<_>>()).unwrap_err()
            ),
        }
    }

    #[test]
    fn header_is_detected() {
        let t = Table::parse("f", "a,b\n1,2\n3,4\n", Header::Auto).unwrap();
        assert_eq!(t.header, Some(vec!["a".into(), "b".into()]));
        assert_eq!(t.lines, vec![2, 3]);
        let t = Table::parse("f", "1,2\n3,4\n", Header::Auto).unwrap();
        assert_eq!(t.header, None);
        let t = Table::parse("f", "x,label\n1,cat\n2,dog\n", Header::Auto).unwrap();
        assert!(t.header.is_some());
    }

    #[test]
    fn errors_name_file_row_and_column() {
        assert_eq!(
            err("a,b\n1,2\n3,x\n"),
            "f.csv: row 3, column 2 (\"b\"): expected a number, found \"x\""
        );
        assert_eq!(
            err("1,2\n3,\n"),
            "f.csv: row 2, column 2: expected a number, found an empty cell"
        );
        assert_eq!(
            err("a,b\n1,2\n3,4,5\n"),
            "f.csv: row 3: expected 2 columns (as in the header), found 3"
        );
        assert_eq!(
            err("a,b\n1,inf\n"),
            "f.csv: row 2, column 2 (\"b\"): expected a finite number, found \"inf\""
        );
    }

    #[test]
    fn columns_resolve_by_name_or_number() {
        let t = Table::parse("f", "a,b,c\n1,2,3\n", Header::Auto).unwrap();
        assert_eq!(t.resolve_column(None).unwrap(), 2);
        assert_eq!(t.resolve_column(Some("b")).unwrap(), 1);
        assert_eq!(t.resolve_column(Some("1")).unwrap(), 0);
        assert!(format!("{:#}", t.resolve_column(Some("z")).unwrap_err())
            .contains("no column named \"z\""));
        assert!(format!("{:#}", t.resolve_column(Some("4")).unwrap_err())
            .contains("column 4 does not exist"));
    }

    #[test]
    fn classes_from_numbers_names_and_known_labels() {
        let t = Table::parse("f", "x,y\n1,2\n2,0\n", Header::Auto).unwrap();
        let c = t.classes(1, None).unwrap();
        assert_eq!(c.index, vec![2, 0]);
        assert_eq!(c.labels, vec!["0", "1", "2"]);
        let t = Table::parse("f", "x,y\n1,dog\n2,cat\n", Header::Auto).unwrap();
        let c = t.classes(1, None).unwrap();
        assert_eq!(c.index, vec![1, 0]);
        let known = vec!["dog".to_owned(), "cat".to_owned()];
        assert_eq!(t.classes(1, Some(&known)).unwrap().index, vec![0, 1]);
        let t = Table::parse("f", "x,y\n1,0.5\n", Header::Yes).unwrap();
        assert!(
            format!("{:#}", t.classes(1, None).unwrap_err()).contains("row 2, column 2 (\"y\")")
        );
    }
}
