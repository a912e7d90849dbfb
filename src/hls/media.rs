//! Media playlists (RFC 8216 4.3.3): a one-pass state machine over the lines. Segment tags are
//! collected until the segment's URI line (4.3.2: they apply to the next segment); `EXT-X-KEY` and
//! `EXT-X-MAP` stay in force for every later segment until replaced.
//!
//! A tag this module reads must be well formed, or the playlist is rejected with the line number:
//! a load tester must not quietly play a different stream than the origin described. One leniency,
//! as players have it: a last `#EXTINF` without its URI is ignored with a warning. Tags it
//! does not read (`EXT-X-DATERANGE`, vendor tags) are ignored, as 6.3.1 asks. Low-latency parts go
//! with the segment whose URI follows them; parts after the last segment are `pending_parts`.

use std::time::{Duration, SystemTime};

use url::Url;

use super::attr::byte_range;
use super::date::parse_date_time;
use super::error::{ParseError, ParseWarning};
use super::lines::{Line, LineKind};
use super::llhls;
use super::model::{ByteRange, InitSection, Key, MediaPlaylist, Part, PlaylistType, Segment};
use super::tags::{self, integer_tag, invalid_value, resolve_at, value_of};
use super::uri::Base;

/// Builds a media playlist from the lines after `#EXTM3U`; `held`: the last load of the same playlist,
/// whose resolved URLs are reused where a reference resolves to one of them.
pub(crate) fn parse<'a>(
    lines: impl Iterator<Item = Line<'a>>,
    base: &Url,
    held: Option<&MediaPlaylist>,
) -> Result<MediaPlaylist, ParseError> {
    let base = match held {
        Some(held) => Base::reusing(base, urls_of(held)),
        None => Base::new(base),
    };
    let mut builder = Builder::new(&base);
    for line in lines {
        match line.kind {
            LineKind::Tag { name, value } => builder.tag(line.number, name, value)?,
            LineKind::Uri(uri) => builder.segment(line.number, uri)?,
        }
    }
    builder.finish()
}

/// The URLs `playlist` resolved, in the order its lines gave them.
fn urls_of(playlist: &MediaPlaylist) -> Vec<&Url> {
    let mut urls = Vec::with_capacity(playlist.segments.len() * 2 + playlist.pending_parts.len() + 4);
    let mut map = None;
    for segment in &playlist.segments {
        if let Some(m) = segment.map.as_ref().filter(|m| map != Some(&m.uri)) {
            map = Some(&m.uri);
            urls.push(&m.uri);
        }
        urls.extend(segment.parts.iter().map(|p| &p.uri));
        urls.push(&segment.uri);
    }
    urls.extend(playlist.pending_parts.iter().map(|p| &p.uri));
    urls.extend(playlist.preload_hints.iter().map(|h| &h.uri));
    urls.extend(playlist.rendition_reports.iter().map(|r| &r.uri));
    urls
}

/// Segment tags seen since the last URI line.
#[derive(Default)]
struct Pending<'a> {
    extinf: Option<(usize, Duration)>,
    discontinuity: bool,
    program_date_time: Option<SystemTime>,
    /// (line, written value, length, offset if written)
    byte_range: Option<(usize, &'a str, u64, Option<u64>)>,
    gap: bool,
}

struct Builder<'a, 'b> {
    base: &'b Base<'b>,
    out: MediaPlaylist,
    /// Parts seen since the last segment: they belong to the next one (or are pending at the end).
    parts: Vec<Part>,
    target_duration: Option<Duration>,
    pending: Pending<'a>,
    key: Option<Key>,
    map: Option<InitSection>,
}

impl<'a, 'b> Builder<'a, 'b> {
    fn new(base: &'b Base<'b>) -> Self {
        let out = MediaPlaylist {
            version: None,
            target_duration: Duration::ZERO,
            media_sequence: 0,
            discontinuity_sequence: 0,
            ended: false,
            playlist_type: None,
            i_frames_only: false,
            segments: Vec::new(),
            part_target: None,
            server_control: None,
            pending_parts: Vec::new(),
            preload_hints: Vec::new(),
            rendition_reports: Vec::new(),
            skipped_segments: 0,
            warnings: Vec::new(),
        };
        let pending = Pending::default();
        Self { base, out, parts: Vec::new(), target_duration: None, pending, key: None, map: None }
    }

    /// Media segment tags (4.3.2); everything else goes to `playlist_tag`.
    fn tag(&mut self, line: usize, name: &'a str, value: Option<&'a str>) -> Result<(), ParseError> {
        match name {
            "#EXTINF" => {
                if let Some((previous, _)) = self.pending.extinf {
                    return Err(ParseError::ExtinfWithoutUri { line: previous });
                }
                self.pending.extinf = Some((line, tags::extinf(line, name, value)?));
            }
            "#EXT-X-BYTERANGE" => {
                const EXPECTED: &str = "a byte range <length>[@<offset>]";
                let text = value_of(line, name, value, EXPECTED)?.trim();
                let (length, offset) = byte_range(text).ok_or_else(|| invalid_value(line, name, text, EXPECTED))?;
                self.pending.byte_range = Some((line, text, length, offset));
            }
            "#EXT-X-DISCONTINUITY" => self.pending.discontinuity = true,
            "#EXT-X-GAP" => self.pending.gap = true,
            "#EXT-X-PROGRAM-DATE-TIME" => {
                const EXPECTED: &str = "an ISO 8601 date-time such as 2026-11-26T21:00:00.000Z";
                let text = value_of(line, name, value, EXPECTED)?.trim();
                let time = parse_date_time(text).ok_or_else(|| invalid_value(line, name, text, EXPECTED))?;
                self.pending.program_date_time = Some(time);
            }
            "#EXT-X-KEY" => self.key = tags::key(line, value, self.base)?,
            "#EXT-X-MAP" => self.map = Some(tags::map(line, value, self.base)?),
            "#EXT-X-PART" => self.part(line, value)?,
            _ => self.playlist_tag(line, name, value)?,
        }
        Ok(())
    }

    /// Media playlist tags (4.3.3), the LL-HLS ones kept for later, and the mixing check.
    fn playlist_tag(&mut self, line: usize, name: &str, value: Option<&str>) -> Result<(), ParseError> {
        let out = &mut self.out;
        match name {
            "#EXT-X-TARGETDURATION" => {
                // A decimal-integer (4.3.3.1). FFmpeg writes 0 when its segments last half a second
                // or less (it rounds half to even); hls.js reads it as 1, and so do we: the reload
                // interval (6.3.4) is derived from it, and zero would make a viewer reload in a busy loop.
                let seconds = integer_tag(line, name, value)?;
                if seconds == 0 {
                    out.warnings.push(ParseWarning::ZeroTargetDuration { line });
                }
                self.target_duration = Some(Duration::from_secs(seconds.max(1)));
            }
            "#EXT-X-MEDIA-SEQUENCE" => out.media_sequence = integer_tag(line, name, value)?,
            "#EXT-X-DISCONTINUITY-SEQUENCE" => {
                out.discontinuity_sequence = integer_tag(line, name, value)?;
            }
            "#EXT-X-ENDLIST" => out.ended = true,
            "#EXT-X-PLAYLIST-TYPE" => {
                out.playlist_type = Some(match value.map(str::trim) {
                    Some("VOD") => PlaylistType::Vod,
                    Some("EVENT") => PlaylistType::Event,
                    other => {
                        return Err(invalid_value(line, name, other.unwrap_or_default(), "VOD or EVENT"));
                    }
                });
            }
            "#EXT-X-I-FRAMES-ONLY" => out.i_frames_only = true,
            "#EXT-X-VERSION" => out.version = Some(tags::version(line, name, value)?),
            "#EXT-X-PART-INF" => out.part_target = Some(tags::part_inf(line, value)?),
            "#EXT-X-SERVER-CONTROL" => out.server_control = Some(tags::server_control(line, value)?),
            "#EXT-X-PRELOAD-HINT" => out.preload_hints.push(llhls::preload_hint(line, value, self.base)?),
            "#EXT-X-RENDITION-REPORT" => out.rendition_reports.push(llhls::rendition_report(line, value, self.base)?),
            "#EXT-X-SKIP" => {
                if !out.segments.is_empty() {
                    return Err(invalid_value(line, name, value.unwrap_or_default(), "before the first segment"));
                }
                out.skipped_segments = llhls::skip(line, value)?;
            }
            _ if tags::MULTIVARIANT_TAGS.contains(&name) => {
                return Err(ParseError::MixedPlaylist { line, tag: name.to_owned() });
            }
            _ => {}
        }
        Ok(())
    }

    /// A URI line closes the pending segment (4.3.2.1: every segment has an EXTINF).
    fn segment(&mut self, line: usize, uri: &str) -> Result<(), ParseError> {
        let pending = std::mem::take(&mut self.pending);
        let Some((_, duration)) = pending.extinf else {
            return Err(ParseError::UriWithoutExtinf { line, uri: super::error::clip(uri) });
        };
        let uri = resolve_at(self.base, line, uri)?;
        let byte_range = match pending.byte_range {
            None => None,
            Some((at, text, length, offset)) => Some(self.range(at, text, length, offset, &uri)?),
        };
        self.out.segments.push(Segment {
            sequence: 0, // numbered in `finish`, once EXT-X-MEDIA-SEQUENCE is surely known
            uri,
            duration,
            discontinuity: pending.discontinuity,
            program_date_time: pending.program_date_time,
            byte_range,
            key: self.key.clone(),
            map: self.map.clone(),
            gap: pending.gap,
            parts: std::mem::take(&mut self.parts),
        });
        Ok(())
    }

    /// `EXT-X-PART`: kept for the segment that follows, its range's offset filled in.
    fn part(&mut self, line: usize, value: Option<&str>) -> Result<(), ParseError> {
        let (mut part, written) = llhls::part(line, value, self.base)?;
        llhls::check_part_duration(line, &part, self.out.part_target)?;
        if let Some(written) = written {
            let previous = self.parts.last().or_else(|| self.out.segments.last().and_then(|s| s.parts.last()));
            part.byte_range = Some(llhls::part_range(line, written, &part.uri, previous)?);
        }
        self.parts.push(part);
        Ok(())
    }

    /// 4.3.2.2: without `@offset` the range starts right after the previous segment's range,
    /// which must be a sub-range of the same resource.
    fn range(
        &self,
        line: usize,
        text: &str,
        length: u64,
        offset: Option<u64>,
        uri: &Url,
    ) -> Result<ByteRange, ParseError> {
        if let Some(offset) = offset {
            return Ok(ByteRange { length, offset });
        }
        let previous = self.out.segments.last().filter(|s| &s.uri == uri);
        let follows = previous.and_then(|s| s.byte_range).and_then(|r| r.offset.checked_add(r.length));
        let expected = "<length>@<offset>: without an offset the previous segment must be a \
                        sub-range of the same URI (RFC 8216 4.3.2.2)";
        let offset = follows.ok_or_else(|| invalid_value(line, "#EXT-X-BYTERANGE", text, expected))?;
        Ok(ByteRange { length, offset })
    }

    fn finish(mut self) -> Result<MediaPlaylist, ParseError> {
        if let Some((line, _)) = self.pending.extinf {
            // A live playlist written while its last segment is still being made: players wait for it.
            self.out.warnings.push(ParseWarning::TrailingExtinf { line });
        }
        self.out.target_duration = self.target_duration.ok_or(ParseError::MissingTargetDuration)?;
        self.out.pending_parts = std::mem::take(&mut self.parts);
        // A delta update's first listed segment comes after the skipped ones.
        let first =
            self.out.media_sequence.checked_add(self.out.skipped_segments).ok_or(ParseError::SequenceOverflow)?;
        first.checked_add(self.out.segments.len() as u64).ok_or(ParseError::SequenceOverflow)?;
        for (segment, sequence) in self.out.segments.iter_mut().zip(first..) {
            segment.sequence = sequence;
        }
        Ok(self.out)
    }
}
