//! Tab-separated output of query results.

use std::io::{self, Write};

use pg_wire::QueryEvent;

/// The text printed for SQL NULL.
pub const NULL: &str = "NULL";

/// Writes query events as tab-separated text: a header line of column names,
/// then one line per row. A statement without rows prints its command tag,
/// such as `INSERT 0 1`. A blank line separates the output of consecutive
/// statements. Notices are not written here.
pub struct TsvWriter<W: Write> {
    out: W,
    wrote_statement: bool,
    in_rows: bool,
}

impl<W: Write> TsvWriter<W> {
    /// Creates a writer over `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            wrote_statement: false,
            in_rows: false,
        }
    }

    /// Writes one event.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying writer.
    pub fn write_event(&mut self, event: QueryEvent<'_>) -> io::Result<()> {
        match event {
            QueryEvent::Columns(names) => {
                self.start_statement()?;
                self.write_line(names.iter().map(|name| Some(name.as_str())))?;
                self.in_rows = true;
            }
            QueryEvent::Row(values) => self.write_line(values.iter().map(Option::as_deref))?,
            QueryEvent::Complete(tag) => {
                if !self.in_rows {
                    self.start_statement()?;
                    writeln!(self.out, "{}", escape_field(tag))?;
                }
                self.in_rows = false;
            }
            QueryEvent::Empty | QueryEvent::Notice(_) => {}
        }
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    ///
    /// # Errors
    ///
    /// Returns the error of the final flush.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn start_statement(&mut self) -> io::Result<()> {
        if self.wrote_statement {
            writeln!(self.out)?;
        }
        self.wrote_statement = true;
        Ok(())
    }

    fn write_line<'a>(&mut self, fields: impl Iterator<Item = Option<&'a str>>) -> io::Result<()> {
        let mut line = String::new();
        for (index, field) in fields.enumerate() {
            if index > 0 {
                line.push('\t');
            }
            match field {
                Some(text) => line.push_str(&escape_field(text)),
                None => line.push_str(NULL),
            }
        }
        line.push('\n');
        self.out.write_all(line.as_bytes())
    }
}

/// Escapes a field as PostgreSQL's COPY text format does, so a value never
/// spans fields or lines. Backslash, tab, newline and carriage return become
/// `\\`, `\t`, `\n` and `\r`. Any other control character becomes `\xHH`
/// (below U+0080) or `\u{HHHH}`, which keeps terminal escape sequences out
/// of the output.
pub fn escape_field(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            c if c.is_control() && c.is_ascii() => escaped.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if c.is_control() => escaped.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(events: &[QueryEvent<'_>]) -> String {
        let mut writer = TsvWriter::new(Vec::new());
        for event in events {
            writer.write_event(*event).unwrap();
        }
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    #[test]
    fn rows_print_with_header_and_null() {
        let columns = ["id".to_owned(), "color".to_owned()];
        let first = [Some("1".to_owned()), Some("red".to_owned())];
        let second = [Some("3".to_owned()), None];
        let output = render(&[
            QueryEvent::Columns(&columns),
            QueryEvent::Row(&first),
            QueryEvent::Row(&second),
            QueryEvent::Complete("SELECT 2"),
        ]);
        assert_eq!(output, "id\tcolor\n1\tred\n3\tNULL\n");
    }

    #[test]
    fn statement_without_rows_prints_tag() {
        let output = render(&[QueryEvent::Complete("INSERT 0 1")]);
        assert_eq!(output, "INSERT 0 1\n");
    }

    #[test]
    fn empty_result_prints_header_only() {
        let columns = ["id".to_owned()];
        let output = render(&[QueryEvent::Columns(&columns), QueryEvent::Complete("SELECT 0")]);
        assert_eq!(output, "id\n");
    }

    #[test]
    fn statements_are_separated_by_blank_line() {
        let columns = ["n".to_owned()];
        let row = [Some("1".to_owned())];
        let output = render(&[
            QueryEvent::Complete("CREATE TABLE"),
            QueryEvent::Columns(&columns),
            QueryEvent::Row(&row),
            QueryEvent::Complete("SELECT 1"),
            QueryEvent::Complete("DROP TABLE"),
        ]);
        assert_eq!(output, "CREATE TABLE\n\nn\n1\n\nDROP TABLE\n");
    }

    #[test]
    fn empty_query_prints_nothing() {
        assert_eq!(render(&[QueryEvent::Empty]), "");
    }

    #[test]
    fn fields_are_escaped() {
        let cases = [
            ("plain", "plain"),
            ("a\tb", "a\\tb"),
            ("line\nnext\r", "line\\nnext\\r"),
            ("back\\slash", "back\\\\slash"),
            ("\u{1b}[31mred", "\\x1b[31mred"),
            ("del\u{7f}", "del\\x7f"),
            ("c1\u{9b}", "c1\\u{009b}"),
            ("ünïcode", "ünïcode"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_field(input), expected, "{input:?}");
        }
    }
}
