//! Property tests: the parser never panics, and a tracker following a sliding window yields every
//! sequence number once, in order, or counts it as skipped.

use std::time::Duration;

use proptest::prelude::*;

use super::{base, live_window, media, window_text};
use crate::hls::{Playlist, SequenceTracker, live_edge_index, parse_playlist};

/// Lines that exercise every branch of the parser, with values from valid to absurd.
fn playlist_line() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(String::new()),
        "[0-9]{1,3}",
        "[0-9]{1,2}\\.[0-9]{0,4}",
        "[0-9]{18,22}",
        "[ -~]{0,12}",
        Just("2026-11-26T21:00:00.000Z".to_owned()),
        Just("1000@0".to_owned()),
        Just(r#"BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1,mp4a""#.to_owned()),
        Just(r#"METHOD=AES-128,URI="k.key""#.to_owned()),
        Just(r#"URI="init.mp4",BYTERANGE="100@0""#.to_owned()),
        Just(r#"TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="a.m3u8""#.to_owned()),
    ];
    let tag = prop_oneof![
        Just("#EXTINF"),
        Just("#EXT-X-TARGETDURATION"),
        Just("#EXT-X-MEDIA-SEQUENCE"),
        Just("#EXT-X-DISCONTINUITY-SEQUENCE"),
        Just("#EXT-X-DISCONTINUITY"),
        Just("#EXT-X-BYTERANGE"),
        Just("#EXT-X-PROGRAM-DATE-TIME"),
        Just("#EXT-X-KEY"),
        Just("#EXT-X-MAP"),
        Just("#EXT-X-ENDLIST"),
        Just("#EXT-X-PLAYLIST-TYPE"),
        Just("#EXT-X-STREAM-INF"),
        Just("#EXT-X-MEDIA"),
        Just("#EXT-X-SERVER-CONTROL"),
        Just("#EXT-X-PART-INF"),
        Just("#EXT-X-VERSION"),
    ];
    prop_oneof![
        (tag, value).prop_map(|(tag, value)| format!("{tag}:{value}")),
        "[a-z0-9./?=&%:\\[\\]-]{1,20}",
        Just(String::new()),
        Just("# comment".to_owned()),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_playlist(&bytes, &base());
        let mut with_header = b"#EXTM3U\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = parse_playlist(&with_header, &base());
    }

    #[test]
    fn arbitrary_tag_soup_never_panics_and_parses_consistently(
        lines in proptest::collection::vec(playlist_line(), 0..40),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let body = format!("#EXTM3U{eol}{}", lines.join(eol));
        match parse_playlist(body.as_bytes(), &base()) {
            Ok(Playlist::Media(playlist)) => {
                prop_assert!(playlist.target_duration >= Duration::from_secs(1));
                for (i, segment) in playlist.segments.iter().enumerate() {
                    prop_assert_eq!(segment.sequence, playlist.media_sequence + i as u64);
                }
            }
            Ok(Playlist::Multivariant(playlist)) => prop_assert!(!playlist.variants.is_empty()),
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }

    /// The live edge is the last segment with at least 3 target durations from its start to the
    /// end, or the first segment when none has.
    #[test]
    fn live_edge_leaves_three_target_durations(
        // Whole seconds too, so segment starts often land exactly on the limit.
        durations in proptest::collection::vec(prop_oneof![0u64..6000, (0u64..6).prop_map(|s| s * 1000)], 1..30),
    ) {
        let target_secs = durations.iter().max().map_or(1, |ms| ms.div_ceil(1000).max(1));
        let playlist = media(&window_text(0, &durations, target_secs, false));
        let edge = live_edge_index(&playlist).unwrap();
        let remaining = |from: usize| -> Duration { playlist.segments[from..].iter().map(|s| s.duration).sum() };
        let hold_back = playlist.target_duration * 3;
        prop_assert!(edge == 0 || remaining(edge) >= hold_back);
        prop_assert!(edge + 1 == playlist.segments.len() || remaining(edge + 1) < hold_back);
    }

    /// A live origin appends `advance` segments between reloads and keeps a window of `size`.
    #[test]
    fn a_sliding_window_yields_each_sequence_once_in_order_or_skips_it(
        start in 0u64..1_000_000,
        first_size in 1usize..8,
        steps in proptest::collection::vec((0u64..12, 1usize..8), 1..40),
        from_live_edge in any::<bool>(),
    ) {
        let mut tracker = SequenceTracker::new();
        let mut end = start + first_size as u64;
        let mut first = start;
        let initial = live_window(first, first_size);
        let mut yielded: Vec<u64> = Vec::new();
        let mut skipped = 0;
        let update = if from_live_edge {
            tracker.start_at_live_edge(&initial)
        } else {
            tracker.update(&initial).unwrap()
        };
        let origin = update.new.first().map_or(end, |s| s.sequence);
        yielded.extend(update.new.iter().map(|s| s.sequence));
        for (advance, size) in steps {
            let previous = (first, end);
            end += advance;
            // 6.2.1: the first sequence never decreases, the window only slides forward.
            first = first.max(end.saturating_sub(size as u64));
            let update = tracker.update(&live_window(first, (end - first) as usize)).unwrap();
            prop_assert_eq!(update.changed, (first, end) != previous);
            if let (Some(last), Some(next)) = (yielded.last(), update.new.first()) {
                prop_assert_eq!(next.sequence, last + 1 + update.skipped);
            }
            skipped += update.skipped;
            yielded.extend(update.new.iter().map(|s| s.sequence));
        }
        prop_assert!(yielded.windows(2).all(|w| w[0] < w[1]), "in order, each once");
        prop_assert_eq!(yielded.len() as u64 + skipped, end - origin);
        prop_assert_eq!(tracker.total_yielded() + tracker.total_skipped(), end - origin);
        prop_assert_eq!(tracker.next_sequence(), Some(end));
    }
}
