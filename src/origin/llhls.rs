//! Low-latency HLS as the origin serves it (draft-pantos-hls-rfc8216bis), pure: part names, what a
//! media playlist lists as parts and what a delta update leaves out, the tags that say so, and the
//! delivery directives of a request (6.2.5.2) with the answer they ask for.
//!
//! Numbers chosen, each within what the draft requires:
//! - parts are listed for the segments of the last three target durations (4.4.4.9: a server SHOULD
//!   remove parts older than that) and for the segment being produced;
//! - `PART-HOLD-BACK` is three part targets (4.4.3.8: at least two, three recommended);
//! - `CAN-SKIP-UNTIL` is six target durations (4.4.3.8: at least six); a delta update leaves out the
//!   segments that end at least that long before the last complete segment does (6.2.5.1).

use std::fmt::Write as _;
use std::time::Duration;

use super::clock::PlaylistView;

/// How a low-latency stream is cut: parts of whole frames, a whole number of them per segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartParams {
    pub parts_per_segment: u32,
    /// The exact duration of every part (whole frames), which is also the part target.
    pub part_duration: Duration,
}

impl PartParams {
    /// `PART-HOLD-BACK`: three part targets.
    pub fn part_hold_back(&self) -> Duration {
        self.part_duration * 3
    }

    /// `CAN-SKIP-UNTIL` (the skip boundary): six target durations (`target` in seconds).
    pub fn can_skip_until(target: u64) -> Duration {
        Duration::from_secs(target.saturating_mul(6))
    }

    /// Index of the first segment of `view` whose parts are listed: those of the last three target
    /// durations (at least the last complete segment).
    pub fn parts_from(view: &PlaylistView, segment: Duration, target: u64) -> u64 {
        let recent = whole_segments_in(Duration::from_secs(target.saturating_mul(3)), segment).max(1);
        (view.first + view.count).saturating_sub(recent).max(view.first)
    }

    /// Segments a delta update of `view` leaves out: those ending at least the skip boundary before
    /// the last complete segment's end.
    pub fn skipped(view: &PlaylistView, segment: Duration, target: u64) -> u64 {
        view.count.saturating_sub(whole_segments_in(Self::can_skip_until(target), segment))
    }
}

/// Segments needed to cover `span`: `ceil(span / segment)`.
fn whole_segments_in(span: Duration, segment: Duration) -> u64 {
    let segment = segment.as_nanos().max(1);
    u64::try_from(span.as_nanos().div_ceil(segment)).unwrap_or(u64::MAX)
}

/// File name of part `part` of the segment with media sequence number `sequence`:
/// `part00042.3.m4s` (parts are CMAF fragments).
pub fn part_name(sequence: u64, part: u64) -> String {
    format!("part{sequence:05}.{part}.m4s")
}

/// Parses a part file name back to its segment's media sequence number and its index.
pub fn parse_part_name(name: &str) -> Option<(u64, u64)> {
    let (sequence, part) = name.strip_prefix("part")?.strip_suffix(".m4s")?.split_once('.')?;
    let digits = |s: &str, min: usize| s.len() >= min && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(sequence, 5) || !digits(part, 1) || (part.len() > 1 && part.starts_with('0')) {
        return None;
    }
    Some((sequence.parse().ok()?, part.parse().ok()?))
}

/// The header tags of a low-latency media playlist (4.4.3.7, 4.4.3.8).
pub fn write_header(out: &mut String, parts: &PartParams, target: u64) {
    let _ = write!(
        out,
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3},CAN-SKIP-UNTIL={:.1}\n\
         #EXT-X-PART-INF:PART-TARGET={:.5}\n",
        parts.part_hold_back().as_secs_f64(),
        PartParams::can_skip_until(target).as_secs_f64(),
        parts.part_duration.as_secs_f64(),
    );
}

/// The `EXT-X-PART` lines of parts `0..count` of the segment `sequence`; in low-latency mode the muxer
/// starts each part with a key frame (audio frames are all sync samples), so every part is
/// `INDEPENDENT=YES` and a viewer joins exactly at the part hold-back.
pub fn write_parts(out: &mut String, parts: &PartParams, prefix: &str, sequence: u64, count: u64) {
    let duration = parts.part_duration.as_secs_f64();
    for part in 0..count {
        let independent = ",INDEPENDENT=YES";
        let _ = writeln!(
            out,
            "#EXT-X-PART:DURATION={duration:.5},URI=\"{prefix}{}\"{independent}",
            part_name(sequence, part)
        );
    }
}

/// The tail of a low-latency playlist: the parts so far of the segment being produced (`sequence`),
/// the preload hint of its next part (4.4.5.3), and a rendition report per other rendition
/// (4.4.5.4) at the same live edge (every rendition shares the clock).
pub fn write_tail(out: &mut String, parts: &PartParams, prefix: &str, sequence: u64, done: u64, reports: &[String]) {
    write_parts(out, parts, prefix, sequence, done);
    let _ = writeln!(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{prefix}{}\"", part_name(sequence, done));
    let (last_msn, last_part) = match done {
        0 => (sequence.saturating_sub(1), u64::from(parts.parts_per_segment.max(1)) - 1),
        n => (sequence, n - 1),
    };
    for uri in reports {
        let _ = writeln!(out, "#EXT-X-RENDITION-REPORT:URI=\"{uri}\",LAST-MSN={last_msn},LAST-PART={last_part}");
    }
}

/// The delivery directives of a playlist request (rfc8216bis 6.2.5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// `_HLS_msn`, with `_HLS_part` when given: block until the playlist holds that.
    pub block: Option<BlockUntil>,
    /// `_HLS_skip=YES` or `v2`: a delta update.
    pub skip: bool,
}

/// What a blocking reload waits for: segment `msn` complete, or with `part`, that part of it listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockUntil {
    pub msn: u64,
    pub part: Option<u64>,
}

/// Why a request's directives are refused with 400 Bad Request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectiveError {
    #[error("_HLS_msn, _HLS_part: a decimal integer")]
    NotANumber,
    #[error("_HLS_part without _HLS_msn")]
    PartWithoutMsn,
    #[error("_HLS_skip: YES or v2")]
    BadSkip,
    #[error("_HLS_msn more than two segments past the last")]
    TooFarAhead,
}

/// Reads the directives in a query string; other parameters (a cache buster) are left alone.
pub fn parse_directives(query: Option<&str>) -> Result<Directives, DirectiveError> {
    let (mut msn, mut part, mut skip) = (None, None, false);
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let number = || value.parse::<u64>().map_err(|_| DirectiveError::NotANumber);
        match &*name {
            "_HLS_msn" => msn = Some(number()?),
            "_HLS_part" => part = Some(number()?),
            "_HLS_skip" => match &*value {
                "YES" | "v2" => skip = true,
                _ => return Err(DirectiveError::BadSkip),
            },
            _ => {}
        }
    }
    if part.is_some() && msn.is_none() {
        return Err(DirectiveError::PartWithoutMsn);
    }
    Ok(Directives { block: msn.map(|msn| BlockUntil { msn, part }), skip })
}

impl BlockUntil {
    /// A part index past the segment's last asks for the next segment's first part (6.2.5.2).
    pub fn normalized(self, parts_per_segment: u64) -> Self {
        match self.part {
            Some(p) if p >= parts_per_segment => BlockUntil { msn: self.msn.saturating_add(1), part: Some(0) },
            _ => self,
        }
    }

    /// 400 when `_HLS_msn` is more than two past the last complete segment of `view` (6.2.5.2).
    pub fn check(self, view: &PlaylistView, start_sequence: u64) -> Result<Self, DirectiveError> {
        let end = start_sequence + view.first + view.count;
        if self.msn > end.saturating_sub(1).saturating_add(2) { Err(DirectiveError::TooFarAhead) } else { Ok(self) }
    }

    /// Whether a playlist of `view` holds what is waited for.
    pub fn satisfied_by(self, view: &PlaylistView, start_sequence: u64) -> bool {
        let end = start_sequence + view.first + view.count;
        match self.part {
            None => self.msn < end,
            Some(part) => self.msn < end || (self.msn == end && part < view.parts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(first: u64, count: u64, parts: u64) -> PlaylistView {
        PlaylistView { first, count, ended: false, stale: false, parts }
    }

    #[test]
    fn part_names_round_trip() {
        assert_eq!(part_name(42, 3), "part00042.3.m4s");
        assert_eq!(parse_part_name("part00042.3.m4s"), Some((42, 3)));
        assert_eq!(parse_part_name(&part_name(1_234_567, 11)), Some((1_234_567, 11)));
        for bad in [
            "part0042.3.m4s",
            "part00042.m4s",
            "part00042.3.ts",
            "part00042.03.m4s",
            "part00042..m4s",
            "seg00042.m4s",
            "part00042.x.m4s",
        ] {
            assert_eq!(parse_part_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn directives_are_read_and_checked() {
        let block = |msn, part| Some(BlockUntil { msn, part });
        assert_eq!(parse_directives(None), Ok(Directives::default()));
        assert_eq!(parse_directives(Some("cb=7")), Ok(Directives::default()), "other parameters are ignored");
        assert_eq!(parse_directives(Some("_HLS_msn=12")), Ok(Directives { block: block(12, None), skip: false }));
        let both = parse_directives(Some("_HLS_msn=12&_HLS_part=3&_HLS_skip=YES"));
        assert_eq!(both, Ok(Directives { block: block(12, Some(3)), skip: true }));
        assert_eq!(parse_directives(Some("_HLS_skip=v2")), Ok(Directives { block: None, skip: true }));
        assert_eq!(parse_directives(Some("_HLS_part=3")), Err(DirectiveError::PartWithoutMsn));
        assert_eq!(parse_directives(Some("_HLS_msn=x")), Err(DirectiveError::NotANumber));
        assert_eq!(parse_directives(Some("_HLS_msn=-1")), Err(DirectiveError::NotANumber));
        assert_eq!(parse_directives(Some("_HLS_skip=NO")), Err(DirectiveError::BadSkip));
    }

    #[test]
    fn a_blocking_reload_waits_for_the_part_or_the_segment() {
        // Segments 10..20 listed (sequence 100..110), 2 parts of segment 110 so far, 5 per segment.
        let v = view(10, 10, 2);
        let at = |msn, part| BlockUntil { msn, part };
        assert!(at(109, None).satisfied_by(&v, 90));
        assert!(!at(110, None).satisfied_by(&v, 90), "segment 110 is being produced");
        assert!(at(110, Some(1)).satisfied_by(&v, 90));
        assert!(!at(110, Some(2)).satisfied_by(&v, 90));
        assert_eq!(at(110, Some(5)).normalized(5), at(111, Some(0)), "past the last part: the next segment");
        assert_eq!(at(110, Some(4)).normalized(5), at(110, Some(4)));
        assert!(at(111, None).check(&v, 90).is_ok(), "two past the last complete segment (109)");
        assert_eq!(at(112, Some(0)).check(&v, 90), Err(DirectiveError::TooFarAhead));
    }

    #[test]
    fn parts_and_skips_follow_the_target_duration() {
        let second = Duration::from_secs(1);
        // 1 s segments, target 1: parts for the last 3 segments; 10 listed, 6 s kept by a delta.
        assert_eq!(PartParams::parts_from(&view(10, 10, 0), second, 1), 17);
        assert_eq!(PartParams::skipped(&view(10, 10, 0), second, 1), 4);
        // 2 s segments, target 2: 3 segments of parts, a skip boundary of 12 s (6 segments).
        assert_eq!(PartParams::parts_from(&view(0, 10, 0), second * 2, 2), 7);
        assert_eq!(PartParams::skipped(&view(0, 10, 0), second * 2, 2), 4);
        // 0.9 s segments, target 1: 3 s is 4 segments; a short window skips nothing.
        assert_eq!(PartParams::parts_from(&view(0, 10, 0), Duration::from_millis(900), 1), 6);
        assert_eq!(PartParams::skipped(&view(0, 5, 0), second, 1), 0);
        assert_eq!(PartParams::parts_from(&view(0, 2, 0), second, 1), 0, "never before the first listed");
    }
}
