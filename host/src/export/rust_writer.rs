//! Writing Rust source of `axon_core` items: the `static` arrays an op's
//! parameters need, and literals that keep every f32's bits.

use std::fmt::Write as _;

use axon_core::ops::fully_connected::packed4::{Block, Scale};
use axon_core::ops::Fused;
use axon_core::quant::{QuantParams, Rounding};

/// Everything a generated file refers to lives under this path.
pub const CORE: &str = "::axon_core";

/// Collects `static` items under a name prefix (one per node). An item
/// equal to one written before (type and value) is not written again: its
/// first name is returned (a prepared graph shares what it does not
/// change with the graph, in the source and in flash).
#[derive(Debug, Default)]
pub struct RustWriter {
    /// The items written since the last [`take`](Self::take).
    pub statics: String,
    prefix: String,
    seen: std::collections::HashMap<(String, String), String>,
}

/// A Rust literal of `x` whose bits survive: the shortest decimal that
/// reads back to the same f32 (Rust parses float literals correctly
/// rounded).
pub fn f32_lit(x: f32) -> String {
    let s = format!("{x:?}");
    if x.is_nan() {
        return "f32::NAN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "f32::INFINITY".into()
        } else {
            "f32::NEG_INFINITY".into()
        };
    }
    if s.contains('.') || s.contains('e') {
        format!("{s}_f32")
    } else {
        format!("{s}.0_f32")
    }
}

fn list<T>(xs: &[T], per_line: usize, f: impl Fn(&T) -> String) -> String {
    let mut s = String::from("[");
    for (i, x) in xs.iter().enumerate() {
        if i % per_line.max(1) == 0 {
            s.push_str("\n    ");
        } else {
            s.push(' ');
        }
        s.push_str(&f(x));
        s.push(',');
    }
    s.push_str("\n]");
    s
}

impl RustWriter {
    /// A writer with no items.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the node whose items follow (`N3` → `N3_WEIGHT`).
    pub fn set_prefix(&mut self, p: &str) {
        self.prefix = p.to_owned();
    }

    /// The core crate's path.
    pub fn core(&self) -> &'static str {
        CORE
    }

    /// The items written since the last call (the writer keeps what it
    /// has seen).
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.statics)
    }

    fn item(&mut self, suffix: &str, ty: &str, value: &str, doc: &str) -> String {
        let key = (ty.to_owned(), value.to_owned());
        if let Some(name) = self.seen.get(&key) {
            return name.clone();
        }
        let name = format!("{}_{suffix}", self.prefix);
        self.seen.insert(key, name.clone());
        let _ = writeln!(self.statics, "/// {doc}");
        let _ = writeln!(self.statics, "static {name}: {ty} = {value};");
        name
    }

    /// An `[i8; N]` static; its name.
    pub fn i8s(&mut self, suffix: &str, v: &[i8], doc: &str) -> String {
        let value = list(v, 16, |x| x.to_string());
        self.item(suffix, &format!("[i8; {}]", v.len()), &value, doc)
    }

    /// An `[i8; N]` static laid out `cols` per line (a matrix, row by row).
    pub fn i8s_rows(&mut self, suffix: &str, v: &[i8], cols: usize, doc: &str) -> String {
        let value = list(v, cols.clamp(1, 32), |x| x.to_string());
        self.item(suffix, &format!("[i8; {}]", v.len()), &value, doc)
    }

    /// An `[i32; N]` static.
    pub fn i32s(&mut self, suffix: &str, v: &[i32], doc: &str) -> String {
        let value = list(v, 8, |x| x.to_string());
        self.item(suffix, &format!("[i32; {}]", v.len()), &value, doc)
    }

    /// A `[u16; N]` static.
    pub fn u16s(&mut self, suffix: &str, v: &[u16], doc: &str) -> String {
        let value = list(v, 16, |x| x.to_string());
        self.item(suffix, &format!("[u16; {}]", v.len()), &value, doc)
    }

    /// An `[f32; N]` static.
    pub fn f32s(&mut self, suffix: &str, v: &[f32], doc: &str) -> String {
        let value = list(v, 8, |x| f32_lit(*x));
        self.item(suffix, &format!("[f32; {}]", v.len()), &value, doc)
    }

    /// A packed layer's block stream (`groups` weight blocks per row group).
    pub fn blocks(&mut self, suffix: &str, v: &[Block], groups: usize) -> String {
        let p = format!("{CORE}::ops::fully_connected::packed4::Block");
        let mut s = String::from("[");
        for (i, b) in v.iter().enumerate() {
            if i % (groups + 1) == 0 {
                let _ = write!(s, "\n    {p}::bias({:?}),", b.biases());
            } else {
                let _ = write!(s, "\n    {p}({:?}),", b.0);
            }
        }
        s.push_str("\n]");
        let doc = format!(
            "Packed weights: per group of 4 outputs, its 4 biases, then {groups} blocks of 4 rows × 4 columns ({} blocks).",
            v.len()
        );
        self.item(suffix, &format!("[{p}; {}]", v.len()), &s, &doc)
    }

    /// A packed layer's scales.
    pub fn scales(&mut self, suffix: &str, v: &[Scale]) -> String {
        let p = format!("{CORE}::ops::fully_connected::packed4::Scale");
        let one = |s: &Scale| {
            let (m, e) = (s.multipliers(), s.right_shifts());
            if m.iter().all(|&x| x == m[0]) && e.iter().all(|&x| x == e[0]) {
                format!("{p}::tensor({}, {})", m[0], e[0])
            } else {
                format!("{p}::new({m:?}, {e:?})")
            }
        };
        let value = list(v, 1, one);
        let doc = if v.len() == 1 {
            "Multipliers and right shifts (per tensor)."
        } else {
            "Multipliers and right shifts, per group of 4 outputs."
        };
        self.item(suffix, &format!("[{p}; {}]", v.len()), &value, doc)
    }

    /// An f32 literal.
    pub fn f32_lit(&self, x: f32) -> String {
        f32_lit(x)
    }

    /// A `QuantParams` expression.
    pub fn quant(&self, p: QuantParams) -> String {
        format!(
            "{CORE}::quant::QuantParams::new({}, {})",
            f32_lit(p.scale),
            p.zero_point
        )
    }

    /// A `Rounding` expression.
    pub fn rounding(&self, r: Rounding) -> String {
        match r {
            Rounding::Double => format!("{CORE}::quant::Rounding::Double"),
            Rounding::Single => format!("{CORE}::quant::Rounding::Single"),
        }
    }

    /// A `Fused` expression.
    pub fn fused(&self, f: Fused) -> String {
        let v = match f {
            Fused::None => "None",
            Fused::Relu => "Relu",
            Fused::Relu6 => "Relu6",
        };
        format!("{CORE}::ops::Fused::{v}")
    }
}
