//! Low-latency tags (rfc8216bis): parts, preload hints, rendition reports, delta updates. Fixtures
//! of our own, shaped like a packager's.

use std::time::Duration;

use super::base;
use crate::hls::{
    ByteRange, DeltaError, HintKind, MediaPlaylist, ParseError, PartPosition, Playlist, apply_delta,
    fill_program_date_times, lists_part, next_part_after, parent_of, parse_playlist, parse_reload, part_as_segment,
    part_hint, reported_part,
};

fn media(body: &str) -> Result<MediaPlaylist, ParseError> {
    match parse_playlist(body.as_bytes(), &base())? {
        Playlist::Media(m) => Ok(m),
        Playlist::Multivariant(_) => panic!("a media playlist"),
    }
}

const HEAD: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-VERSION:9\n\
    #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6,CAN-SKIP-DATERANGES=YES\n\
    #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-MAP:URI=\"init.mp4\"\n";

fn live(segments: std::ops::Range<u64>) -> String {
    let mut body = HEAD.replace("SEQUENCE:10", &format!("SEQUENCE:{}", segments.start));
    for n in segments.clone() {
        for p in 0..5 {
            let independent = if p == 0 { ",INDEPENDENT=YES" } else { "" };
            body += &format!("#EXT-X-PART:DURATION=0.2,URI=\"p{n}.{p}.m4s\"{independent}\n");
        }
        body += &format!("#EXTINF:1.0,\ns{n}.m4s\n");
    }
    let next = segments.end;
    body += &format!("#EXT-X-PART:DURATION=0.2,URI=\"p{next}.0.m4s\",INDEPENDENT=YES\n");
    body += &format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p{next}.1.m4s\"\n");
    body += &format!("#EXT-X-RENDITION-REPORT:URI=\"../720p/stream.m3u8\",LAST-MSN={next},LAST-PART=0\n");
    body
}

#[test]
fn parts_go_with_their_segment_and_the_rest_are_pending() {
    let m = media(&live(10..13)).unwrap();
    assert_eq!(m.segments.len(), 3);
    assert_eq!(m.segments[2].sequence, 12);
    assert_eq!(m.segments[0].parts.len(), 5);
    assert!(m.segments[0].parts[0].independent && !m.segments[0].parts[1].independent);
    assert_eq!(m.segments[1].parts[3].uri.path(), "/live/720p/p11.3.m4s");
    assert_eq!(m.segments[1].parts[3].duration, Duration::from_millis(200));
    assert_eq!(m.pending_parts.len(), 1);
    assert_eq!(m.pending_parts[0].uri.path(), "/live/720p/p13.0.m4s");
    assert_eq!(m.preload_hints.len(), 1);
    assert_eq!(
        (m.preload_hints[0].kind, m.preload_hints[0].start, m.preload_hints[0].length),
        (HintKind::Part, 0, None)
    );
    assert_eq!(m.rendition_reports[0].uri.path(), "/live/720p/stream.m3u8");
    assert_eq!((m.rendition_reports[0].last_msn, m.rendition_reports[0].last_part), (Some(13), Some(0)));
    assert!(m.server_control.unwrap().can_skip_dateranges);
}

#[test]
fn byte_range_parts_carry_their_offset() {
    let body = format!(
        "{HEAD}#EXT-X-PART:DURATION=0.2,URI=\"s10.m4s\",BYTERANGE=\"1000@0\"\n\
         #EXT-X-PART:DURATION=0.2,URI=\"s10.m4s\",BYTERANGE=\"1500\"\n#EXTINF:0.4,\ns10.m4s\n\
         #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s11.m4s\",BYTERANGE-START=2500,BYTERANGE-LENGTH=800\n"
    );
    let m = media(&body).unwrap();
    let ranges: Vec<_> = m.segments[0].parts.iter().map(|p| p.byte_range).collect();
    assert_eq!(ranges, [Some(ByteRange { length: 1000, offset: 0 }), Some(ByteRange { length: 1500, offset: 1000 })]);
    assert_eq!((m.preload_hints[0].start, m.preload_hints[0].length), (2500, Some(800)));
    let unquoted = format!("{HEAD}#EXT-X-PART:DURATION=0.2,URI=\"s.m4s\",BYTERANGE=20000@0\n#EXTINF:0.2,\ns.m4s\n");
    assert_eq!(media(&unquoted).unwrap().segments[0].parts[0].byte_range, Some(ByteRange { length: 20000, offset: 0 }));
    let orphan = format!("{HEAD}#EXT-X-PART:DURATION=0.2,URI=\"a.m4s\",BYTERANGE=\"100\"\n#EXTINF:0.2,\na.m4s\n");
    assert!(matches!(media(&orphan), Err(ParseError::InvalidAttribute { name: "BYTERANGE", .. })));
}

#[test]
fn a_part_longer_than_the_part_target_is_rejected_and_a_rounded_one_is_not() {
    let long = format!("{HEAD}#EXT-X-PART:DURATION=0.25,URI=\"p.m4s\"\n#EXTINF:1,\ns.m4s\n");
    assert!(matches!(media(&long), Err(ParseError::InvalidAttribute { line: 8, name: "DURATION", .. })));
    let rounded = format!("{HEAD}#EXT-X-PART:DURATION=0.2005,URI=\"p.m4s\"\n#EXTINF:1,\ns.m4s\n");
    assert!(media(&rounded).is_ok());
    for bad in ["URI=\"p.m4s\"", "DURATION=0.2", "DURATION=x,URI=\"p.m4s\"", "DURATION=0.2,URI=\"p\",GAP=MAYBE"] {
        let body = format!("{HEAD}#EXT-X-PART:{bad}\n#EXTINF:1,\ns.m4s\n");
        assert!(media(&body).is_err(), "{bad}");
    }
    let hint = format!("{HEAD}#EXTINF:1,\ns.m4s\n#EXT-X-PRELOAD-HINT:TYPE=SEGMENT,URI=\"x\"\n");
    assert!(matches!(media(&hint), Err(ParseError::InvalidAttribute { name: "TYPE", .. })));
}

#[test]
fn a_delta_update_is_completed_from_the_playlist_held() {
    let held = media(&live(10..16)).unwrap();
    // The server skipped segments 12..15 and lists 15..17 (the window moved on by one).
    let mut body = HEAD.replace("SEQUENCE:10", "SEQUENCE:12");
    body += "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:1.0,\ns15.m4s\n#EXTINF:1.0,\ns16.m4s\n";
    let delta = media(&body).unwrap();
    assert_eq!((delta.skipped_segments, delta.segments[0].sequence, delta.end_sequence()), (3, 15, 17));
    let whole = apply_delta(Some(&held), delta.clone()).unwrap();
    let sequences: Vec<u64> = whole.segments.iter().map(|s| s.sequence).collect();
    assert_eq!(sequences, [12, 13, 14, 15, 16]);
    assert_eq!(whole.segments[0].uri.path(), "/live/720p/s12.m4s");
    assert_eq!(whole.skipped_segments, 0);
    assert_eq!(apply_delta(None, delta.clone()), Err(DeltaError::NothingHeld));
    let old = media(&live(1..5)).unwrap();
    assert!(matches!(apply_delta(Some(&old), delta), Err(DeltaError::NotHeld { first: 12, end: 15, .. })));
    // A delta served on its own (no playlist held) still lists its segments with their sequence.
    let mut tracker = crate::hls::SequenceTracker::new();
    let start = tracker.start_at_live_edge(&media(&body).unwrap());
    assert_eq!(start.new.iter().map(|s| s.sequence).collect::<Vec<_>>(), [15, 16]);
    let sloppy = format!("{HEAD}#EXT-X-SKIP:SKIPPED-SEGMENTS=2,RECENTLY-REMOVED-DATERANGES=a\tb\n#EXTINF:1,\ns.m4s\n");
    assert_eq!(media(&sloppy).unwrap().skipped_segments, 2);
    let not_first = format!("{HEAD}#EXTINF:1,\ns.m4s\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n");
    assert!(media(&not_first).is_err(), "EXT-X-SKIP comes before the segments");
}

mod tracker {
    use super::*;
    use crate::hls::{LowLatencyFetch, PartPosition, PartTracker, blocking_query, part_hold_back, skip_directive};

    fn positions(update: &crate::hls::PartUpdate) -> Vec<String> {
        let show = |f: &LowLatencyFetch| match f {
            LowLatencyFetch::Part { at, .. } => format!("{}.{}", at.msn, at.part),
            LowLatencyFetch::Segment(s) => format!("s{}", s.sequence),
        };
        update.fetch.iter().map(show).collect()
    }

    #[test]
    fn joins_part_hold_back_from_the_edge_at_an_independent_part() {
        // PART-HOLD-BACK 0.6 s = 3 parts of 0.2 s back from the end of 13.0: 12.3; the independent
        // part at or before it is 12.0.
        let m = media(&live(10..13)).unwrap();
        assert_eq!(part_hold_back(&m), Duration::from_millis(600));
        let mut t = PartTracker::new();
        let first = t.start(&m);
        assert_eq!(positions(&first), ["12.0", "12.1", "12.2", "12.3", "12.4", "13.0"]);
        assert_eq!(t.next_position(), Some(PartPosition { msn: 13, part: 1 }));
        assert_eq!(
            blocking_query(PartPosition { msn: 13, part: 1 }, Some("v2")),
            "_HLS_msn=13&_HLS_part=1&_HLS_skip=v2"
        );
    }

    #[test]
    fn each_part_once_and_a_segment_with_parts_never_whole() {
        let mut t = PartTracker::new();
        t.start(&media(&live(10..13)).unwrap());
        // Segment 13 completed with 5 parts; 14.0 is pending: 13.1..13.4 and 14.0 are new.
        let next = t.update(&media(&live(10..14)).unwrap());
        assert_eq!(positions(&next), ["13.1", "13.2", "13.3", "13.4", "14.0"]);
        assert_eq!(positions(&t.update(&media(&live(10..14)).unwrap())), Vec::<String>::new(), "nothing new");
        assert_eq!(t.next_position(), Some(PartPosition { msn: 14, part: 1 }));
    }

    #[test]
    fn a_viewer_left_behind_skips_what_left_the_window() {
        let mut t = PartTracker::new();
        t.start(&media(&live(10..13)).unwrap());
        let later = t.update(&media(&live(20..23)).unwrap());
        assert_eq!(later.skipped, 7, "13..20 left the playlist");
        assert_eq!(positions(&later)[0], "20.0");
    }

    #[test]
    fn a_segment_whose_parts_are_not_listed_is_fetched_whole() {
        // Joined at the end of a playlist without parts: next is 11.0.
        let mut t = PartTracker::new();
        t.start(&media(&format!("{HEAD}#EXTINF:1,\ns10.m4s\n")).unwrap());
        // Segment 11 appears without parts, then 12 with them.
        let map = "#EXT-X-MAP:URI=\"init.mp4\"\n";
        let body =
            live(12..13).replace("SEQUENCE:12", "SEQUENCE:11").replace(map, &format!("{map}#EXTINF:1.0,\ns11.m4s\n"));
        assert_eq!(
            positions(&t.update(&media(&body).unwrap())),
            ["s11", "12.0", "12.1", "12.2", "12.3", "12.4", "13.0"]
        );
    }

    #[test]
    fn a_short_or_missing_part_hold_back_becomes_three_part_targets() {
        let short = live(10..13).replace("PART-HOLD-BACK=0.6", "PART-HOLD-BACK=0.3");
        assert_eq!(part_hold_back(&media(&short).unwrap()), Duration::from_millis(600));
        let none = live(10..13).replace("PART-HOLD-BACK=0.6,", "");
        assert_eq!(part_hold_back(&media(&none).unwrap()), Duration::from_millis(600));
    }

    #[test]
    fn skip_only_when_offered_and_the_playlist_held_is_fresh() {
        let m = media(&live(10..13)).unwrap();
        let control = m.server_control.as_ref();
        assert_eq!(skip_directive(control, Duration::from_secs(1)), Some("v2"));
        assert_eq!(skip_directive(control, Duration::from_secs(3)), None, "older than CAN-SKIP-UNTIL / 2");
        assert_eq!(skip_directive(None, Duration::ZERO), None);
    }

    #[test]
    fn a_playlist_without_parts_joins_at_the_end() {
        let m = media(&format!("{HEAD}#EXTINF:1,\ns10.m4s\n")).unwrap();
        let mut t = PartTracker::new();
        assert!(t.start(&m).fetch.is_empty());
        assert_eq!(t.next_position(), Some(PartPosition { msn: 11, part: 0 }));
    }
}

#[test]
fn what_a_blocking_reload_asked_for_is_listed_or_not() {
    let m = media(&live(10..13)).unwrap();
    let at = |msn, part| PartPosition { msn, part };
    assert!(lists_part(&m, at(12, 4)), "a listed segment's part");
    assert!(lists_part(&m, at(13, 0)), "the pending segment's first part");
    assert!(!lists_part(&m, at(13, 1)), "the hinted part is not there yet");
    assert!(!lists_part(&m, at(14, 0)));
    assert_eq!(next_part_after(&m), at(13, 1), "the first blocking reload asks for the hinted part");
    assert!(!lists_part(&m, next_part_after(&m)));
    let whole =
        media(&live(10..13).replace("#EXT-X-PART:DURATION=0.2,URI=\"p13.0.m4s\",INDEPENDENT=YES\n", "")).unwrap();
    assert_eq!(next_part_after(&whole), at(13, 0), "no part of 13 yet: its first");
}

#[test]
fn the_hinted_part_with_its_range_and_a_part_as_a_segment() {
    let m = media(&live(10..13)).unwrap();
    let (uri, range) = part_hint(&m).unwrap();
    assert!(uri.path().ends_with("/p13.1.m4s"));
    assert_eq!(range, None);
    let ranged = media(&format!(
        "{}#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"f.mp4\",BYTERANGE-START=400\n",
        live(10..11).replace("#EXT-X-PRELOAD-HINT", "#X-OLD")
    ))
    .unwrap();
    assert_eq!(part_hint(&ranged).unwrap().1.as_deref(), Some("bytes=400-"));
    let mut m = m;
    let t0 = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    m.segments[0].program_date_time = Some(t0);
    fill_program_date_times(&mut m);
    assert_eq!(m.segments[2].program_date_time, Some(t0 + Duration::from_secs(2)), "extrapolated");
    let pending = parent_of(&m, 13).expect("the segment being written");
    assert_eq!((pending.sequence, pending.program_date_time), (13, Some(t0 + Duration::from_secs(3))));
    assert!(pending.map.is_some(), "the map in force carries over");
    assert!(parent_of(&m, 14).is_none());
    let part = &m.pending_parts[0];
    let s = part_as_segment(&pending, part, Duration::from_millis(400));
    assert_eq!((s.sequence, s.duration, &s.uri), (13, part.duration, &part.uri));
    assert_eq!(s.program_date_time, Some(t0 + Duration::from_millis(3400)));
}

#[test]
fn a_rendition_report_names_the_part_a_switching_viewer_can_have_at_once() {
    let m = media(&live(10..13)).unwrap();
    let other = m.rendition_reports[0].uri.clone();
    assert_eq!(reported_part(&m, &other), Some(PartPosition { msn: 13, part: 0 }));
    let unreported = base().join("../1080p/stream.m3u8").unwrap();
    assert_eq!(reported_part(&m, &unreported), None, "no report for this one");
    // LAST-MSN and LAST-PART left out: this playlist's own last part (13.0).
    let bare = media(&live(10..13).replace(",LAST-MSN=13,LAST-PART=0", "")).unwrap();
    assert_eq!(reported_part(&bare, &other), Some(PartPosition { msn: 13, part: 0 }));
    let no_pending = media(
        &live(10..13)
            .replace("#EXT-X-PART:DURATION=0.2,URI=\"p13.0.m4s\",INDEPENDENT=YES\n", "")
            .replace(",LAST-MSN=13,LAST-PART=0", ""),
    )
    .unwrap();
    assert_eq!(
        reported_part(&no_pending, &other),
        Some(PartPosition { msn: 12, part: 4 }),
        "the last segment's last part"
    );
}

/// A reload parsed with the playlist held is the playlist parsed alone: the URLs the held one resolved
/// are reused only where resolving gives them, whether the reload moved on, switched rendition (another
/// directory) or wrote its URIs another way.
#[test]
fn a_reload_parsed_with_the_playlist_held_is_the_same_playlist() {
    let held = media(&live(10..16)).unwrap();
    let other_dir = url::Url::parse("https://cdn.example/live/480p/stream.m3u8?_HLS_msn=17").unwrap();
    let reloads = [
        live(10..16),
        live(11..17),
        live(30..33),
        live(11..17).replace("URI=\"p", "URI=\"./p").replace("\ns1", "\n../720p/s1"),
        live(11..17).replace("m4s\n", "m4s?t=2\n").replace(".m4s\"", ".m4s?t=1\""),
    ];
    for body in &reloads {
        for base in [base(), other_dir.clone()] {
            let alone = parse_playlist(body.as_bytes(), &base).unwrap();
            let reusing = parse_reload(body.as_bytes(), &base, None, Some(&held)).unwrap();
            assert_eq!(reusing, alone, "{base}\n{body}");
        }
    }
}
