//! Low-latency playback of one media playlist, pure (draft-pantos-hls-rfc8216bis 6.2.5, 6.3): where a
//! viewer joins (`PART-HOLD-BACK` from the live edge, at an `INDEPENDENT=YES` part), which parts and
//! segments it fetches next across reloads (each part once and in order; a segment whose parts were
//! fetched is never fetched again whole), and the delivery directives of its next blocking reload
//! (`_HLS_msn`, `_HLS_part`, `_HLS_skip`).

use std::time::Duration;

use url::Url;

use super::model::{HintKind, MediaPlaylist, Part, Segment, ServerControl};

/// A part's place: its parent segment's media sequence number and its index in that segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartPosition {
    pub msn: u64,
    pub part: u64,
}

/// What to fetch next, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum LowLatencyFetch {
    Part {
        at: PartPosition,
        part: Part,
    },
    /// A whole segment whose parts the playlist no longer lists (it is older than the parts window).
    Segment(Box<Segment>),
}

/// One step of the tracker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartUpdate {
    pub fetch: Vec<LowLatencyFetch>,
    /// Segments that left the playlist before the viewer got to them.
    pub skipped: u64,
}

/// Yields each part of one rendition once, in order, across reloads (the parts' `SequenceTracker`).
#[derive(Clone, Debug, Default)]
pub struct PartTracker {
    next: Option<PartPosition>,
}

impl PartTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first load: join `hold_back(playlist)` from the live edge, at an independent part.
    pub fn start(&mut self, playlist: &MediaPlaylist) -> PartUpdate {
        self.next = Some(join_position(playlist));
        self.update(playlist)
    }

    /// A reload: what is new since the last call.
    pub fn update(&mut self, playlist: &MediaPlaylist) -> PartUpdate {
        let from = *self.next.get_or_insert_with(|| join_position(playlist));
        let first = playlist.segments.first().map_or(playlist.end_sequence(), |s| s.sequence);
        let skipped = first.saturating_sub(from.msn);
        let from = if skipped > 0 { PartPosition { msn: first, part: 0 } } else { from };
        let mut fetch = Vec::new();
        let mut next = from;
        for segment in playlist.segments.iter().filter(|s| s.sequence >= from.msn) {
            let started = segment.sequence == from.msn && from.part > 0;
            if segment.parts.is_empty() {
                // Parts fetched of it are not listed any more: the rest cannot be had as parts, and the
                // whole segment would fetch those bytes twice.
                if !started {
                    fetch.push(LowLatencyFetch::Segment(Box::new(segment.clone())));
                }
            } else {
                push_parts(&mut fetch, segment.sequence, &segment.parts, from);
            }
            next = PartPosition { msn: segment.sequence + 1, part: 0 };
        }
        let pending = playlist.end_sequence();
        if pending >= from.msn && !playlist.pending_parts.is_empty() {
            push_parts(&mut fetch, pending, &playlist.pending_parts, from);
            let listed = playlist.pending_parts.len() as u64;
            next = next.max(PartPosition { msn: pending, part: listed });
        }
        self.next = Some(next.max(from));
        PartUpdate { fetch, skipped }
    }

    /// The part the next blocking reload waits for (`_HLS_msn`, `_HLS_part`).
    pub fn next_position(&self) -> Option<PartPosition> {
        self.next
    }

    /// After a fresh [`PartTracker::start`]: go on no earlier than `next` (what was fetched before is not
    /// yielded again).
    pub fn resume_from(&mut self, next: PartPosition) {
        self.next = Some(self.next.map_or(next, |n| n.max(next)));
    }
}

fn push_parts(fetch: &mut Vec<LowLatencyFetch>, msn: u64, parts: &[Part], from: PartPosition) {
    for (index, part) in (0u64..).zip(parts) {
        let at = PartPosition { msn, part: index };
        if at >= from && !part.gap {
            fetch.push(LowLatencyFetch::Part { at, part: part.clone() });
        }
    }
}

/// How far behind the live edge a low-latency viewer plays: `PART-HOLD-BACK` when it is at least two
/// part targets (rfc8216bis 4.4.3.8 requires that), else three part targets, the value it recommends.
pub fn part_hold_back(playlist: &MediaPlaylist) -> Duration {
    let target = playlist.part_target.unwrap_or(playlist.target_duration);
    let given = playlist.server_control.as_ref().and_then(|c| c.part_hold_back);
    given.filter(|h| *h >= target * 2).unwrap_or(target * 3)
}

/// Where a viewer joins: counting back `part_hold_back` from the end of the last part, the part there,
/// moved back to the nearest independent part (a player starts decoding at a key frame). A playlist
/// that lists no part joins at the end.
fn join_position(playlist: &MediaPlaylist) -> PartPosition {
    let mut listed: Vec<(PartPosition, &Part)> = Vec::new();
    for segment in &playlist.segments {
        listed.extend((0u64..).zip(&segment.parts).map(|(i, p)| (PartPosition { msn: segment.sequence, part: i }, p)));
    }
    let pending = playlist.end_sequence();
    listed.extend((0u64..).zip(&playlist.pending_parts).map(|(i, p)| (PartPosition { msn: pending, part: i }, p)));
    if listed.is_empty() {
        return PartPosition { msn: pending, part: 0 };
    }
    let hold = part_hold_back(playlist);
    let mut behind = Duration::ZERO;
    let mut chosen = listed.len();
    while chosen > 0 && behind < hold {
        chosen -= 1;
        behind += listed[chosen].1.duration;
    }
    let chosen = chosen.min(listed.len() - 1);
    match listed[..=chosen].iter().rposition(|(_, p)| p.independent) {
        Some(i) => listed[i].0,
        None => PartPosition { msn: listed[chosen].0.msn, part: 0 },
    }
}

/// `_HLS_skip` for the next reload: `v2` when the server can also skip date ranges, `YES` otherwise,
/// and none unless the server offers delta updates and the playlist held is younger than half the
/// skip boundary (rfc8216bis 6.3.7), so the delta can be applied to it.
pub fn skip_directive(control: Option<&ServerControl>, held_age: Duration) -> Option<&'static str> {
    let control = control?;
    let until = control.can_skip_until?;
    (held_age < until / 2).then_some(if control.can_skip_dateranges { "v2" } else { "YES" })
}

/// The delivery directives of a blocking reload for `next` (rfc8216bis 6.2.5.2), as a query string to
/// add to the playlist URL's own.
pub fn blocking_query(next: PartPosition, skip: Option<&str>) -> String {
    let mut query = format!("_HLS_msn={}&_HLS_part={}", next.msn, next.part);
    if let Some(skip) = skip {
        query.push_str("&_HLS_skip=");
        query.push_str(skip);
    }
    query
}

/// The part after the last one `playlist` lists: what a blocking reload for the next part asks for.
pub fn next_part_after(playlist: &MediaPlaylist) -> PartPosition {
    PartPosition { msn: playlist.end_sequence(), part: playlist.pending_parts.len() as u64 }
}

/// The last part of the rendition `uri` as `playlist` reports it (`EXT-X-RENDITION-REPORT`; a missing
/// `LAST-MSN` or `LAST-PART` is this playlist's own): what a viewer switching to that rendition can ask
/// for and have at once. `None` without a report for `uri`, or when the report names no part (no
/// `LAST-PART`, and this playlist lists none).
pub fn reported_part(playlist: &MediaPlaylist, uri: &Url) -> Option<PartPosition> {
    let report = playlist.rendition_reports.iter().find(|r| r.uri == *uri)?;
    let own = match playlist.pending_parts.len() as u64 {
        0 => playlist
            .segments
            .last()
            .and_then(|s| Some(PartPosition { msn: s.sequence, part: (s.parts.len() as u64).checked_sub(1)? })),
        n => Some(PartPosition { msn: playlist.end_sequence(), part: n - 1 }),
    };
    let msn = report.last_msn.or(own.map(|o| o.msn))?;
    let part = report.last_part.or(own.map(|o| o.part))?;
    Some(PartPosition { msn, part })
}

/// Whether `playlist` has the part at `at` (or the whole segment it belongs to): what a blocking reload
/// for `at` asked for. A playlist without it came back without the server blocking.
pub fn lists_part(playlist: &MediaPlaylist, at: PartPosition) -> bool {
    let end = playlist.end_sequence();
    at.msn < end || (at.msn == end && (playlist.pending_parts.len() as u64) > at.part)
}

/// The part the playlist hints at (`EXT-X-PRELOAD-HINT:TYPE=PART`), as its URI and the `Range` header
/// that asks for it (`bytes=start-` when the hint gives no length: to the end, as the server sends it).
pub fn part_hint(playlist: &MediaPlaylist) -> Option<(Url, Option<String>)> {
    let hint = playlist.preload_hints.iter().find(|h| h.kind == HintKind::Part)?;
    let range = match (hint.start, hint.length) {
        (0, None) => None,
        (start, None) => Some(format!("bytes={start}-")),
        (start, Some(length)) => Some(format!("bytes={start}-{}", start.saturating_add(length.max(1) - 1))),
    };
    Some((hint.uri.clone(), range))
}

/// A part as a segment of its own, to plan and play like one: its parent's map, key and sequence number,
/// its own URI, range and duration, and its program date-time (the parent's plus the parts before it).
pub fn part_as_segment(parent: &Segment, part: &Part, offset: Duration) -> Segment {
    Segment {
        uri: part.uri.clone(),
        duration: part.duration,
        byte_range: part.byte_range,
        program_date_time: parent.program_date_time.map(|t| t + offset),
        gap: part.gap,
        parts: Vec::new(),
        ..parent.clone()
    }
}

/// The segment the parts at `msn` belong to: listed, or the one being written after the last (its
/// sequence number, the map and key in force at the end, its date-time extrapolated).
pub fn parent_of(playlist: &MediaPlaylist, msn: u64) -> Option<Segment> {
    if let Some(s) = playlist.segments.iter().find(|s| s.sequence == msn) {
        return Some(Segment { parts: Vec::new(), ..s.clone() });
    }
    let last = playlist.segments.last()?;
    (msn == playlist.end_sequence()).then(|| Segment {
        sequence: msn,
        program_date_time: last.program_date_time.map(|t| t + last.duration),
        discontinuity: false,
        byte_range: None,
        gap: false,
        parts: Vec::new(),
        ..last.clone()
    })
}

/// Fills in each segment's program date-time from the last one before it that has one, adding the
/// durations between (RFC 8216 4.3.2.6: the tag dates the segment it precedes, later ones follow on).
pub fn fill_program_date_times(playlist: &mut MediaPlaylist) {
    let mut next = None;
    for segment in &mut playlist.segments {
        if segment.program_date_time.is_none() {
            segment.program_date_time = next;
        }
        next = segment.program_date_time.map(|t| t + segment.duration);
    }
}
