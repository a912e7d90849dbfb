use super::{live_window, media, window_text};
use crate::hls::{SequenceError, SequenceTracker, Update};

fn sequences(update: &Update) -> Vec<u64> {
    update.new.iter().map(|s| s.sequence).collect()
}

/// A tracker that started at the live edge of the 10-segment window `[100, 110)`.
fn started() -> SequenceTracker {
    let mut tracker = SequenceTracker::new();
    let first = tracker.start_at_live_edge(&live_window(100, 10));
    assert_eq!(sequences(&first), [107, 108, 109]);
    assert!(first.changed && first.skipped == 0 && !first.restarted);
    tracker
}

#[test]
fn a_sliding_window_yields_only_the_new_segments() {
    let mut tracker = started();
    let update = tracker.update(&live_window(101, 10)).unwrap();
    assert_eq!(sequences(&update), [110]);
    assert!(update.changed && update.skipped == 0);
    let update = tracker.update(&live_window(103, 10)).unwrap();
    assert_eq!(sequences(&update), [111, 112]);
    assert_eq!(tracker.next_sequence(), Some(113));
    assert_eq!((tracker.total_yielded(), tracker.total_skipped()), (6, 0));
}

#[test]
fn an_unchanged_playlist_yields_nothing() {
    let mut tracker = started();
    let update = tracker.update(&live_window(100, 10)).unwrap();
    assert_eq!(update, Update { new: vec![], skipped: 0, changed: false, restarted: false });
}

#[test]
fn a_viewer_that_fell_behind_counts_the_segments_it_missed() {
    let mut tracker = started();
    // Next expected is 110, but the window already starts at 115: 110..=114 are gone.
    let update = tracker.update(&live_window(115, 10)).unwrap();
    assert_eq!(update.skipped, 5);
    assert_eq!(sequences(&update), (115..125).collect::<Vec<_>>());
    assert_eq!((tracker.total_yielded(), tracker.total_skipped()), (13, 5));
}

#[test]
fn a_media_sequence_that_goes_backwards_is_an_error_and_changes_nothing() {
    let mut tracker = started();
    let err = tracker.update(&live_window(98, 10)).unwrap_err();
    assert_eq!(err, SequenceError::WentBackwards { previous: 100, current: 98 });
    assert_eq!(err.to_string(), "media sequence went backwards from 100 to 98");
    assert_eq!(err.kind(), "sequence_went_backwards");
    assert_eq!(tracker.next_sequence(), Some(110));
    assert_eq!(sequences(&tracker.update(&live_window(101, 10)).unwrap()), [110]);
}

#[test]
fn a_playlist_that_lost_its_last_segments_is_an_error() {
    let mut tracker = started();
    let err = tracker.update(&live_window(100, 8)).unwrap_err();
    assert_eq!(err, SequenceError::Shrank { previous_end: 110, current_end: 108 });
}

#[test]
fn discontinuities_do_not_disturb_the_sequence() {
    let with_break = |first: u64, discontinuity_sequence: u64| {
        let text = window_text(first, &[2000; 4], 2, false)
            .replace("#EXTINF:2.000,\nseg00012.ts", "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nseg00012.ts")
            .replace("#EXT-X-VERSION:3\n", &format!("#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}\n"));
        media(&text)
    };
    let mut tracker = SequenceTracker::new();
    let update = tracker.update(&with_break(10, 0)).unwrap();
    assert_eq!(sequences(&update), [10, 11, 12, 13]);
    assert!(update.new[2].discontinuity);
    let update = tracker.update(&with_break(11, 0)).unwrap();
    assert_eq!(sequences(&update), [14]);
    assert!(!update.new[0].discontinuity);
    // Segment 12 with its discontinuity slid out and the counter went up (RFC 8216 4.3.3.3).
    let update = tracker.update(&with_break(13, 1)).unwrap();
    assert_eq!(sequences(&update), [15, 16]);
    assert!(update.changed);
}

#[test]
fn endlist_is_a_change_and_a_restart_after_it_starts_over() {
    let mut tracker = started();
    let ended = media(&window_text(100, &[2000; 10], 2, true));
    let update = tracker.update(&ended).unwrap();
    assert!(update.changed && update.new.is_empty());
    let update = tracker.update(&live_window(0, 10)).unwrap();
    assert!(update.restarted && update.changed);
    assert_eq!(sequences(&update), [7, 8, 9]);
}

#[test]
fn without_a_live_edge_start_the_first_update_yields_everything() {
    let mut tracker = SequenceTracker::new();
    assert_eq!(tracker.next_sequence(), None);
    assert_eq!(sequences(&tracker.update(&live_window(5, 3)).unwrap()), [5, 6, 7]);
}

#[test]
fn an_empty_live_window_waits_at_its_media_sequence() {
    let mut tracker = SequenceTracker::new();
    let update = tracker.start_at_live_edge(&live_window(40, 0));
    assert!(update.new.is_empty());
    assert_eq!(tracker.next_sequence(), Some(40));
    assert_eq!(sequences(&tracker.update(&live_window(40, 2)).unwrap()), [40, 41]);
}
