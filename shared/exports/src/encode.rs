//! Writing export rows: CSV as RFC 4180 has it (a header row, CRLF line ends, fields with a
//! comma, a quote, CR or LF quoted and their quotes doubled) and JSON Lines (one object per
//! line, keys the header's names). Text cells are made safe for spreadsheets: one that begins
//! with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula by Excel,
//! LibreOffice or Sheets (OWASP "CSV injection"), so it is written with a leading `'`. Numbers are
//! written as they are (a negative amount stays a number): a cell says which it is.

use std::fmt::Write as _;

/// One cell of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Free text (names, SKUs, statuses, ids): neutralized if it could start a formula.
    Text(String),
    /// A number as exact decimal digits (`-12.50`, `3`): written unchanged; never a float.
    Number(String),
    /// No value.
    Empty,
}

/// Characters a spreadsheet reads as the start of a formula.
fn starts_formula(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Whether `digits` is a plain decimal number (optional sign, digits, optional fraction): only
/// such values are written as numbers.
fn is_decimal(digits: &str) -> bool {
    let unsigned = digits.strip_prefix('-').unwrap_or(digits);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(unsigned.contains('.') && fraction.is_empty())
}

/// What a row writer does: a header once, then rows of cells in the header's order.
pub trait RowWriter {
    /// Appends one row to `out`.
    fn row(&self, out: &mut Vec<u8>, cells: &[Cell]);
    /// Appends the header (CSV) or nothing (JSONL).
    fn header(&self, out: &mut Vec<u8>);
}

/// CSV (RFC 4180) with a header row.
pub struct CsvWriter {
    columns: Vec<&'static str>,
}

impl CsvWriter {
    pub fn new(columns: &[&'static str]) -> Self {
        Self {
            columns: columns.to_vec(),
        }
    }

    fn field(out: &mut Vec<u8>, text: &str) {
        let quote = text.contains([',', '"', '\r', '\n']);
        if quote {
            out.push(b'"');
            out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// The text a cell is written as (before CSV quoting).
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) if starts_formula(text) => format!("'{text}"),
        Cell::Text(text) => text.clone(),
        // A "number" that is not one is text, and neutralized like text.
        Cell::Number(digits) if is_decimal(digits) => digits.clone(),
        Cell::Number(other) => cell_text(&Cell::Text(other.clone())),
        Cell::Empty => String::new(),
    }
}

impl RowWriter for CsvWriter {
    fn header(&self, out: &mut Vec<u8>) {
        let header: Vec<Cell> = self
            .columns
            .iter()
            .map(|c| Cell::Text((*c).to_owned()))
            .collect();
        self.row(out, &header);
    }

    fn row(&self, out: &mut Vec<u8>, cells: &[Cell]) {
        debug_assert_eq!(cells.len(), self.columns.len(), "a row has every column");
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            Self::field(out, &cell_text(cell));
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// JSON Lines: one object per row, the header's names as keys; numbers as JSON numbers only
/// when exact (integers), decimal amounts as strings (never a float).
pub struct JsonlWriter {
    columns: Vec<&'static str>,
}

impl JsonlWriter {
    pub fn new(columns: &[&'static str]) -> Self {
        Self {
            columns: columns.to_vec(),
        }
    }
}

impl RowWriter for JsonlWriter {
    fn header(&self, _: &mut Vec<u8>) {}

    fn row(&self, out: &mut Vec<u8>, cells: &[Cell]) {
        let mut object = serde_json::Map::with_capacity(cells.len());
        for (name, cell) in self.columns.iter().zip(cells) {
            let value = match cell {
                Cell::Text(text) => serde_json::Value::String(text.clone()),
                Cell::Number(digits) => match digits.parse::<i64>() {
                    Ok(n) => serde_json::Value::from(n),
                    Err(_) => serde_json::Value::String(digits.clone()),
                },
                Cell::Empty => serde_json::Value::Null,
            };
            object.insert((*name).to_owned(), value);
        }
        let mut line = serde_json::Value::Object(object).to_string();
        let _ = writeln!(line);
        out.extend_from_slice(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(cells: &[Cell]) -> String {
        let writer = CsvWriter::new(&vec!["c"; cells.len()]);
        let mut out = Vec::new();
        writer.row(&mut out, cells);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn csv_cells_are_quoted_escaped_and_spreadsheet_safe() {
        let cases: &[(Cell, &str)] = &[
            (Cell::Text("plain".into()), "plain\r\n"),
            (Cell::Text("a,b".into()), "\"a,b\"\r\n"),
            (Cell::Text("say \"hi\"".into()), "\"say \"\"hi\"\"\"\r\n"),
            (Cell::Text("two\nlines".into()), "\"two\nlines\"\r\n"),
            (Cell::Text("cr\rhere".into()), "\"cr\rhere\"\r\n"),
            (
                Cell::Text("=HYPERLINK(\"x\")".into()),
                "\"'=HYPERLINK(\"\"x\"\")\"\r\n",
            ),
            (Cell::Text("+1 555".into()), "'+1 555\r\n"),
            (Cell::Text("-SKU".into()), "'-SKU\r\n"),
            (Cell::Text("@sum".into()), "'@sum\r\n"),
            (Cell::Text("\tTAB".into()), "'\tTAB\r\n"),
            (Cell::Text("Zürich ✓ 東京".into()), "Zürich ✓ 東京\r\n"),
            (Cell::Number("-12.50".into()), "-12.50\r\n"),
            (Cell::Number("42".into()), "42\r\n"),
            (Cell::Number("=1+1".into()), "'=1+1\r\n"),
            (Cell::Number("1.".into()), "1.\r\n"),
            (Cell::Empty, "\r\n"),
        ];
        for (cell, expected) in cases {
            assert_eq!(csv(std::slice::from_ref(cell)), *expected, "{cell:?}");
        }
        assert_eq!(
            csv(&[
                Cell::Text("a".into()),
                Cell::Empty,
                Cell::Number("3".into())
            ]),
            "a,,3\r\n"
        );
    }

    #[test]
    fn the_csv_header_is_a_row_and_jsonl_has_none() {
        let mut out = Vec::new();
        CsvWriter::new(&["order_id", "sku"]).header(&mut out);
        assert_eq!(out, b"order_id,sku\r\n");
        let mut out = Vec::new();
        JsonlWriter::new(&["order_id"]).header(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn jsonl_rows_are_objects_with_exact_numbers() {
        let writer = JsonlWriter::new(&["id", "quantity", "amount", "note"]);
        let mut out = Vec::new();
        writer.row(
            &mut out,
            &[
                Cell::Text("=x\n\"y\"".into()),
                Cell::Number("3".into()),
                Cell::Number("-12.50".into()),
                Cell::Empty,
            ],
        );
        let line = String::from_utf8(out).expect("utf-8");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"id": "=x\n\"y\"", "quantity": 3, "amount": "-12.50", "note": null})
        );
    }
}
