//! FFmpeg's `-progress` output, parsed: blocks of `key=value` lines, each closed by
//! `progress=continue` (or `progress=end` when FFmpeg finishes). Pure and incremental: bytes arrive in
//! arbitrary pieces from a pipe, so a line split across reads is kept until its newline comes.
//!
//! Only what the health model needs is read: media time (`out_time_us`, else `out_time`), `speed`,
//! `frame` and `total_size`. Values FFmpeg has not got yet are `N/A` and come out as `None`; a value
//! that does not parse is treated the same, never as an error: one odd line must not stop a viewer.

use std::time::Duration;

/// Longest line kept while waiting for its newline; a longer one is dropped (not FFmpeg's output).
const MAX_LINE: usize = 4096;

/// One `-progress` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProgressBlock {
    /// Media time written so far; `None` while FFmpeg has no timestamp yet (`N/A`). A negative
    /// time (streams starting before zero) counts as zero.
    pub out_time: Option<Duration>,
    /// Processing speed relative to real time (`1.02x` is 1.02).
    pub speed: Option<f64>,
    pub frame: Option<u64>,
    pub total_size: Option<u64>,
    /// `progress=end`: FFmpeg is finishing.
    pub end: bool,
}

/// Turns the bytes of a `-progress` pipe into blocks.
#[derive(Debug, Default)]
pub struct ProgressParser {
    partial: Vec<u8>,
    block: ProgressBlock,
    /// Whether `block.out_time` came from `out_time_us` (preferred over the text form).
    exact_time: bool,
}

impl ProgressParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes; returns the blocks they completed, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<ProgressBlock> {
        let mut done = Vec::new();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            if self.partial.is_empty() {
                self.line(&rest[..pos], &mut done);
            } else {
                self.partial.extend_from_slice(&rest[..pos]);
                let line = std::mem::take(&mut self.partial);
                self.line(&line, &mut done);
            }
            rest = &rest[pos + 1..];
        }
        if self.partial.len() + rest.len() <= MAX_LINE {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
        }
        done
    }

    fn line(&mut self, line: &[u8], done: &mut Vec<ProgressBlock>) {
        let Ok(line) = std::str::from_utf8(line) else { return };
        let Some((key, value)) = line.trim().split_once('=') else { return };
        let value = value.trim();
        let b = &mut self.block;
        match key.trim() {
            "out_time_us" => {
                b.out_time = parse_micros(value);
                self.exact_time = b.out_time.is_some();
            }
            "out_time" if !self.exact_time => b.out_time = parse_clock(value),
            "speed" => {
                b.speed = value.strip_suffix('x').unwrap_or(value).trim().parse().ok().filter(|s: &f64| s.is_finite())
            }
            "frame" => b.frame = value.parse().ok(),
            "total_size" => b.total_size = value.parse().ok(),
            "progress" => {
                let mut block = std::mem::take(&mut self.block);
                self.exact_time = false;
                block.end = value == "end";
                done.push(block);
            }
            _ => {}
        }
    }
}

/// `out_time_us=3008000`; negative values are zero.
fn parse_micros(value: &str) -> Option<Duration> {
    let us: i64 = value.parse().ok()?;
    Some(Duration::from_micros(us.max(0) as u64))
}

/// `out_time=00:00:03.008000` (hours may exceed two digits); a leading `-` means before zero.
fn parse_clock(value: &str) -> Option<Duration> {
    if let Some(before_zero) = value.strip_prefix('-') {
        return parse_clock(before_zero).map(|_| Duration::ZERO);
    }
    let mut parts = value.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let h: u64 = h.parse().ok()?;
    let m: u64 = m.parse().ok()?;
    let s: f64 = s.parse().ok()?;
    if m >= 60 || !(0.0..60.0).contains(&s) {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60) + Duration::from_secs_f64(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(text: &str) -> Vec<ProgressBlock> {
        ProgressParser::new().feed(text.as_bytes())
    }

    #[test]
    fn a_block_with_na_values() {
        let blocks = parse_all(
            "frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\nout_time_ms=N/A\n\
             out_time=N/A\nspeed=N/A\nprogress=continue\n",
        );
        assert_eq!(blocks, vec![ProgressBlock { frame: Some(0), ..Default::default() }]);
    }

    #[test]
    fn microseconds_win_over_the_clock_text() {
        let blocks = parse_all("out_time_us=3008000\nout_time=00:00:09.000000\nspeed=3.24x\nprogress=end\n");
        assert_eq!(blocks[0].out_time, Some(Duration::from_micros(3_008_000)));
        assert_eq!(blocks[0].speed, Some(3.24));
        assert!(blocks[0].end);
    }

    #[test]
    fn the_clock_text_when_microseconds_are_missing() {
        let blocks =
            parse_all("out_time=01:02:03.500000\nprogress=continue\nout_time=-00:00:00.040000\nprogress=continue\n");
        assert_eq!(blocks[0].out_time, Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(blocks[1].out_time, Some(Duration::ZERO));
    }

    #[test]
    fn lines_split_across_reads_and_crlf() {
        let mut p = ProgressParser::new();
        assert!(p.feed(b"out_ti").is_empty());
        assert!(p.feed(b"me_us=150").is_empty());
        assert!(p.feed(b"0000\r\nprogr").is_empty());
        let blocks = p.feed(b"ess=continue\r\nframe=1");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].out_time, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn garbage_is_ignored_not_fatal() {
        let blocks = parse_all("\u{0}\u{1}==\nout_time_us=abc\nspeed=fastx\nno equals\nprogress=continue\n");
        assert_eq!(blocks, vec![ProgressBlock::default()]);
        let long = "x".repeat(MAX_LINE * 2);
        let mut p = ProgressParser::new();
        p.feed(long.as_bytes());
        assert_eq!(p.feed(b"\nout_time_us=1\nprogress=continue\n").len(), 1);
    }

    #[test]
    fn negative_microseconds_are_zero() {
        assert_eq!(parse_all("out_time_us=-21333\nprogress=continue\n")[0].out_time, Some(Duration::ZERO));
    }
}
