//! A parser for the Prometheus text exposition format (0.0.4), and the parts of OpenMetrics 1.0 that
//! exporters actually send (`# EOF`, `unknown`/`info`/`stateset` types, exemplars after a value).
//!
//! Why our own: the scraper needs a handful of series out of node_exporter's or nginx exporter's page,
//! must never panic or stall on whatever a misconfigured URL returns, and the crates that parse this
//! format either pull in a registry model or stop at the first bad line. Here a bad line is skipped and
//! counted, and everything else on the page is still read.
//!
//! The grammar (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details>):
//! `name [{label="value",...}] value [timestamp_ms]`, tokens separated by blanks or tabs; label values
//! escape `\\`, `\"` and `\n`, and may hold anything else, `,`, `=` and `}` included. `# HELP` and
//! other comments are skipped, `# TYPE name type` is kept. Lines end in `\n` or `\r\n`.
//!
//! Cost: one pass over each line, no backtracking; the only step above linear is the duplicate-label
//! check, O(k log k) in a sample's k labels.

use std::collections::HashMap;
use std::fmt;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order written; names are unique within a sample.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the exporter gave one.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Renders the sample as one exposition line (no newline); [`parse`] reads it back unchanged.
impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.labels.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                write!(f, "{sep}{k}=\"{}\"", escape_label_value(v))?;
            }
            f.write_str("}")?;
        }
        write!(f, " {}", format_value(self.value))?;
        if let Some(ts) = self.timestamp_ms {
            write!(f, " {ts}")?;
        }
        Ok(())
    }
}

/// `# TYPE` of a metric family; OpenMetrics' `unknown` reads as [`MetricType::Untyped`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Untyped,
}

impl MetricType {
    fn from_token(t: &str) -> Option<Self> {
        Some(match t {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "untyped" | "unknown" => Self::Untyped,
            _ => return None,
        })
    }
}

/// A parsed page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    /// Family name -> `# TYPE` (the last one wins when a page repeats it).
    pub types: HashMap<String, MetricType>,
    /// Lines that were neither a sample, a comment nor blank (skipped), and lines after `# EOF`.
    pub bad_lines: usize,
    /// 1-based number of the first bad line, for a log message.
    pub first_bad_line: Option<usize>,
    /// The page ended with OpenMetrics' `# EOF`.
    pub eof: bool,
}

impl Exposition {
    /// Samples of one series name, in page order.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the first sample called `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.named(name).next().map(|s| s.value)
    }

    pub fn type_of(&self, family: &str) -> Option<MetricType> {
        self.types.get(family).copied()
    }

    fn bad(&mut self, line_no: usize) {
        self.bad_lines += 1;
        self.first_bad_line.get_or_insert(line_no);
    }
}

/// Parses a page read from the network: invalid UTF-8 is replaced (U+FFFD), never an error.
pub fn parse_bytes(bytes: &[u8]) -> Exposition {
    parse(&String::from_utf8_lossy(bytes))
}

/// Parses a whole page. Never fails: bad lines are counted in [`Exposition::bad_lines`].
pub fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if out.eof {
            if !line.trim_matches(is_blank).is_empty() {
                out.bad(i + 1);
            }
            continue;
        }
        let body = line.trim_start_matches(is_blank);
        if body.is_empty() {
            continue;
        }
        let ok = match body.strip_prefix('#') {
            Some(comment) => read_comment(comment, &mut out),
            None => read_sample(body).map(|s| out.samples.push(s)).is_some(),
        };
        if !ok {
            out.bad(i + 1);
        }
    }
    out
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A comment line after its `#`: `TYPE` is kept, `EOF` ends the page, anything else is skipped.
/// Returns false for a malformed `TYPE` line.
fn read_comment(comment: &str, out: &mut Exposition) -> bool {
    let mut words = comment.split(is_blank).filter(|w| !w.is_empty());
    match words.next() {
        Some("TYPE") => {
            let (Some(name), Some(kind), None) = (words.next(), words.next(), words.next()) else { return false };
            match MetricType::from_token(kind) {
                Some(t) if is_metric_name(name) => {
                    out.types.insert(name.to_owned(), t);
                    true
                }
                _ => false,
            }
        }
        Some("EOF") if words.next().is_none() => {
            out.eof = true;
            true
        }
        _ => true,
    }
}

/// A byte cursor over one line. The structure of a line is ASCII, so scanning bytes is exact: UTF-8
/// continuation bytes never equal an ASCII byte, and every slice taken ends at an ASCII byte.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// Skips blanks and tabs; returns how many.
    fn skip_blanks(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// The longest run of bytes that satisfy `ok`, with `first` for the first byte.
    fn take_while(&mut self, first: fn(u8) -> bool, ok: fn(u8) -> bool) -> Option<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(first) {
            return None;
        }
        self.pos += 1;
        while self.peek().is_some_and(ok) {
            self.pos += 1;
        }
        Some(&self.text[start..self.pos])
    }

    /// A run of non-blank bytes.
    fn token(&mut self) -> Option<&'a str> {
        let not_blank = |b: u8| b != b' ' && b != b'\t';
        self.take_while(not_blank, not_blank)
    }

    /// A double-quoted label value after its opening quote, unescaped.
    fn quoted(&mut self) -> Option<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        let mut run = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b'"' => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run..self.pos]);
                    out.push(match bytes.get(self.pos + 1)? {
                        b'\\' => '\\',
                        b'"' => '"',
                        b'n' => '\n',
                        _ => return None,
                    });
                    self.pos += 2;
                    run = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        None
    }

    /// `label="value", ...}` after the opening brace; a trailing comma is allowed.
    fn labels(&mut self) -> Option<Vec<(String, String)>> {
        let mut labels = Vec::new();
        loop {
            self.skip_blanks();
            if self.eat(b'}') {
                return Some(labels);
            }
            let name = self.take_while(is_label_start, is_label_char)?;
            self.skip_blanks();
            if !self.eat(b'=') {
                return None;
            }
            self.skip_blanks();
            if !self.eat(b'"') {
                return None;
            }
            labels.push((name.to_owned(), self.quoted()?));
            self.skip_blanks();
            if !self.eat(b',') {
                self.skip_blanks();
                return self.eat(b'}').then_some(labels);
            }
        }
    }
}

/// One sample line, leading blanks already skipped.
fn read_sample(line: &str) -> Option<Sample> {
    let mut c = Cursor { text: line, pos: 0 };
    let name = c.take_while(is_metric_start, is_metric_char)?;
    let gap = c.skip_blanks();
    let labels = if c.eat(b'{') {
        let labels = c.labels()?;
        c.skip_blanks();
        labels
    } else if gap == 0 {
        // Without braces a blank must separate the name from the value.
        return None;
    } else {
        Vec::new()
    };
    if has_duplicate_names(&labels) {
        return None;
    }
    let value = parse_value(c.token()?)?;
    c.skip_blanks();
    let mut timestamp_ms = None;
    if let Some(t) = c.token() {
        // An OpenMetrics exemplar (`# {trace_id="..."} 1`) may follow the value or the timestamp.
        if !t.starts_with('#') {
            timestamp_ms = Some(t.parse::<i64>().ok()?);
            c.skip_blanks();
            if !(c.peek().is_none() || c.peek() == Some(b'#')) {
                return None;
            }
        }
    }
    Some(Sample { name: name.to_owned(), labels, value, timestamp_ms })
}

fn has_duplicate_names(labels: &[(String, String)]) -> bool {
    if labels.len() < 2 {
        return false;
    }
    let mut names: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.windows(2).any(|w| w[0] == w[1])
}

/// A float as Go's `strconv.ParseFloat` writes it for exporters: decimal, exponent, `NaN`, `+Inf`,
/// `-Inf`. Rust's parser also takes `inf`/`infinity` in any case, which is harmless here.
fn parse_value(token: &str) -> Option<f64> {
    token.parse::<f64>().ok()
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        // `{:?}` is the shortest text that reads back as the same f64 (exponent form when long).
        format!("{v:?}")
    }
}

/// Escapes a label value for the exposition: `\` -> `\\`, `"` -> `\"`, newline -> `\n`.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(ch),
        }
    }
    out
}

fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(is_metric_start) && bytes.all(is_metric_char)
}

fn is_metric_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_metric_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
