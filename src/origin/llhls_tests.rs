//! Low-latency playlists as the origin writes them, read back with the viewer's own parser
//! ([`crate::hls`]) and joined with its [`PartTracker`].

use std::time::{Duration, SystemTime};

use url::Url;

use super::clock::PlaylistView;
use super::llhls::PartParams;
use super::media::Container;
use super::playlist::{LowLatencyFacts, MediaParams, SegmentFacts, media_low_latency};
use crate::hls::{self, HintKind, LowLatencyFetch, MediaPlaylist, PartTracker, Playlist};

/// 1 s segments of five 200 ms parts, from media sequence number 100.
fn params() -> MediaParams {
    MediaParams {
        segment_duration: Duration::from_secs(1),
        start_sequence: 100,
        container: Container::Fmp4,
        byterange: None,
        key_rotation: None,
        parts: Some(PartParams { parts_per_segment: 5, part_duration: Duration::from_millis(200) }),
    }
}

fn facts() -> SegmentFacts<impl Fn(u64) -> SystemTime, impl Fn(u64) -> u64> {
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    SegmentFacts { program_date_time: move |i| wall + Duration::from_secs(i), len: |_| 0 }
}

fn view(count: u64, parts: u64) -> PlaylistView {
    PlaylistView { first: 40, count, ended: false, stale: false, parts }
}

fn reports() -> Vec<String> {
    vec!["../720p/stream.m3u8".into(), "../audio/stream.m3u8".into()]
}

fn text(view: &PlaylistView, params: &MediaParams, delta: bool) -> String {
    let reports = reports();
    media_low_latency(view, params, "", facts(), &LowLatencyFacts { delta, reports: &reports })
}

fn parse(text: &str) -> MediaPlaylist {
    let url = Url::parse("http://origin.test/360p/stream.m3u8").unwrap();
    match hls::parse_playlist(text.as_bytes(), &url).expect("the playlist parses") {
        Playlist::Media(m) => {
            assert!(m.warnings.is_empty(), "{:?}", m.warnings);
            m
        }
        Playlist::Multivariant(_) => panic!("a media playlist"),
    }
}

#[test]
fn low_latency_media_text() {
    insta::assert_snapshot!(text(&view(6, 2), &params(), false));
}

#[test]
fn the_parser_reads_every_low_latency_tag_written() {
    for parts in 0..5 {
        let m = parse(&text(&view(6, parts), &params(), false));
        assert_eq!(m.version, Some(9));
        assert_eq!(m.part_target, Some(Duration::from_millis(200)));
        let control = m.server_control.as_ref().unwrap();
        assert!(control.can_block_reload);
        assert_eq!(control.part_hold_back, Some(Duration::from_millis(600)));
        assert_eq!(control.can_skip_until, Some(Duration::from_secs(6)));
        // Parts for the last three segments (one target duration each), none before.
        let with_parts: Vec<u64> = m.segments.iter().filter(|s| !s.parts.is_empty()).map(|s| s.sequence).collect();
        assert_eq!(with_parts, [143, 144, 145]);
        assert_eq!(m.pending_parts.len() as u64, parts, "the segment being produced, its parts so far");
        let hint = &m.preload_hints[0];
        assert_eq!((m.preload_hints.len(), hint.kind), (1, HintKind::Part));
        assert_eq!(hint.uri.as_str(), format!("http://origin.test/360p/part00146.{parts}.m4s"));
        assert_eq!(m.rendition_reports.len(), 2);
        let report = &m.rendition_reports[0];
        assert_eq!(report.uri.as_str(), "http://origin.test/720p/stream.m3u8");
        let last = if parts == 0 { (145, 4) } else { (146, parts - 1) };
        assert_eq!((report.last_msn, report.last_part), (Some(last.0), Some(last.1)));
        assert!(m.segments.iter().all(|s| s.program_date_time.is_some()), "PROGRAM-DATE-TIME on every segment");
    }
}

#[test]
fn parts_add_up_to_their_segment_and_each_is_independent() {
    // Ten frames a part at 30 fps: durations 0.33333 s written to five places.
    let third = PartParams { parts_per_segment: 6, part_duration: Duration::from_secs_f64(10.0 / 30.0) };
    let two_seconds = MediaParams { segment_duration: Duration::from_secs(2), parts: Some(third), ..params() };
    for (params, view) in [(params(), view(6, 3)), (two_seconds, view(6, 5))] {
        let m = parse(&text(&view, &params, false));
        for segment in m.segments.iter().filter(|s| !s.parts.is_empty()) {
            let sum: Duration = segment.parts.iter().map(|p| p.duration).sum();
            let off = sum.abs_diff(segment.duration);
            assert!(
                off < Duration::from_micros(100),
                "{}: parts {sum:?}, EXTINF {:?}",
                segment.sequence,
                segment.duration
            );
            let independent: Vec<bool> = segment.parts.iter().map(|p| p.independent).collect();
            assert!(independent.iter().all(|i| *i), "a key frame starts every part: {independent:?}");
            let uris: Vec<String> = segment.parts.iter().map(|p| p.uri.path().to_string()).collect();
            let expected: Vec<String> =
                (0..uris.len()).map(|j| format!("/360p/part{:05}.{j}.m4s", segment.sequence)).collect();
            assert_eq!(uris, expected);
        }
        assert!(m.pending_parts.first().is_none_or(|p| p.independent));
    }
}

#[test]
fn a_delta_update_skips_the_segments_past_the_skip_boundary_and_applies_to_the_full_playlist() {
    let full = parse(&text(&view(10, 2), &params(), false));
    let delta_text = text(&view(10, 2), &params(), true);
    assert!(delta_text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"), "{delta_text}");
    let delta = parse(&delta_text);
    // Ten 1 s segments, a skip boundary of 6 s: the first four are left out.
    assert_eq!((delta.media_sequence, delta.skipped_segments, delta.segments.len()), (140, 4, 6));
    assert_eq!(delta.segments[0].sequence, 144);
    let merged = hls::apply_delta(Some(&full), delta).expect("the delta applies to the full playlist");
    assert_eq!(merged.segments, full.segments);
    assert_eq!((merged.pending_parts, merged.preload_hints), (full.pending_parts, full.preload_hints));
    // A window shorter than the boundary: nothing to skip, a full playlist.
    assert!(!text(&view(5, 2), &params(), true).contains("EXT-X-SKIP"));
}

#[test]
fn the_viewer_part_tracker_joins_at_an_independent_part_and_follows() {
    let mut tracker = PartTracker::new();
    let first = tracker.start(&parse(&text(&view(6, 3), &params(), false)));
    let parts: Vec<(u64, u64, bool)> = first
        .fetch
        .iter()
        .map(|f| match f {
            LowLatencyFetch::Part { at, part } => (at.msn, at.part, part.independent),
            LowLatencyFetch::Segment(s) => panic!("a whole segment {}", s.sequence),
        })
        .collect();
    // Three part targets (0.6 s) back from the end of the last part (146.2) is 146.0, independent.
    assert_eq!(parts, [(146, 0, true), (146, 1, true), (146, 2, true)]);
    assert_eq!(tracker.next_position().map(|p| (p.msn, p.part)), Some((146, 3)));
    // The next blocking reload's playlist: the rest of 146, then 147's first parts.
    let later = PlaylistView { first: 41, ..view(6, 1) };
    let next = tracker.update(&parse(&text(&later, &params(), false)));
    let at: Vec<(u64, u64)> = next
        .fetch
        .iter()
        .map(|f| match f {
            LowLatencyFetch::Part { at, .. } => (at.msn, at.part),
            LowLatencyFetch::Segment(s) => panic!("a whole segment {}", s.sequence),
        })
        .collect();
    assert_eq!(at, [(146, 3), (146, 4), (147, 0)]);
    assert_eq!(next.skipped, 0);
}
