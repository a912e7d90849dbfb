use std::time::Duration;

use super::{ORIGIN_LIVE, live_window, media, window_text};
use crate::hls::{live_edge_index, reload_delay};

fn edge_sequence(text: &str) -> Option<u64> {
    let playlist = media(text);
    live_edge_index(&playlist).map(|i| playlist.segments[i].sequence)
}

#[test]
fn live_starts_three_target_durations_from_the_end() {
    // 10 x 2 s, TD 2: the end is at 20 s, so the start is the last segment starting at or before
    // 14 s: index 7, leaving exactly 3 target durations (6 s) to play.
    let playlist = live_window(100, 10);
    assert_eq!(live_edge_index(&playlist), Some(7));
    let rest: Duration = playlist.segments[7..].iter().map(|s| s.duration).sum();
    assert_eq!(rest, playlist.target_duration * 3);
}

#[test]
fn uneven_durations_count_time_not_segments() {
    // TD 2: starts at 0, 6, 7, ... 11 s; end 12 s; latest allowed start 12 - 3*2 = 6 s: index 1.
    assert_eq!(edge_sequence(&window_text(0, &[6000, 1000, 1000, 1000, 1000, 1000, 1000], 2, false)), Some(1));
    // TD 2: latest start 4 s: starts 0, 1, 2, 3.5, 4 -> the one at 4 s (index 4).
    let text = window_text(0, &[1000, 1000, 1500, 500, 2000, 2000, 2000], 2, false);
    assert_eq!(edge_sequence(&text), Some(4));
}

#[test]
fn a_window_shorter_than_three_target_durations_starts_at_the_first_segment() {
    assert_eq!(edge_sequence(ORIGIN_LIVE), Some(42)); // 6 s window, TD 2: exactly 3 TD
    assert_eq!(edge_sequence(&window_text(9, &[2000, 2000], 2, false)), Some(9));
    assert_eq!(edge_sequence(&window_text(9, &[], 2, false)), None);
    assert_eq!(edge_sequence(&window_text(9, &[0, 0, 1000], 2, false)), Some(9), "zero-length segments");
}

#[test]
fn vod_and_ended_playlists_start_at_the_first_segment() {
    assert_eq!(edge_sequence(&window_text(5, &[2000; 10], 2, true)), Some(5));
    let vod_without_endlist = window_text(5, &[2000; 10], 2, false)
        .replace("#EXT-X-MEDIA-SEQUENCE:5\n", "#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    assert_eq!(edge_sequence(&vod_without_endlist), Some(5));
    let event = vod_without_endlist.replace("VOD", "EVENT");
    assert_eq!(edge_sequence(&event), Some(12), "an open EVENT playlist is live");
}

#[test]
fn server_hold_back_replaces_three_target_durations() {
    let text = window_text(0, &[2000; 10], 2, false)
        .replace("#EXT-X-VERSION:3\n", "#EXT-X-VERSION:3\n#EXT-X-SERVER-CONTROL:HOLD-BACK=10.0\n");
    assert_eq!(edge_sequence(&text), Some(5));
}

#[test]
fn reload_waits_a_target_duration_after_a_change_and_half_after_none() {
    let playlist = live_window(0, 5);
    assert_eq!(reload_delay(true, &playlist), Duration::from_secs(2));
    assert_eq!(reload_delay(false, &playlist), Duration::from_secs(1));
    // The RFC's target duration, not the (shorter) last segment.
    let short_last = media(&window_text(0, &[6000, 6000, 1500], 6, false));
    assert_eq!(reload_delay(true, &short_last), Duration::from_secs(6));
    assert_eq!(reload_delay(false, &short_last), Duration::from_secs(3));
}
