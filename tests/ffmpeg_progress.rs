//! The `-progress` parser and the health model on output captured from Debian's FFmpeg 5.1
//! (`scripts/capture-progress.sh` writes `tests/data/ffmpeg-5.1-*`).

use std::time::{Duration, Instant};

use hls_swarm::ffmpeg::health::{Health, stall_threshold};
use hls_swarm::ffmpeg::progress::{ProgressBlock, ProgressParser};
use hls_swarm::stats::PlaybackEvent;

const LIVE: &str = include_str!("data/ffmpeg-5.1-live.txt");
const LIVE_TIMED: &str = include_str!("data/ffmpeg-5.1-live.timed");
const NO_MEDIA: &str = include_str!("data/ffmpeg-5.1-nomedia.txt");

/// Feeds `text` in pieces of 1, 2, 3, ... bytes, as a pipe may deliver it.
fn parse_in_pieces(text: &str) -> Vec<ProgressBlock> {
    let mut parser = ProgressParser::new();
    let mut blocks = Vec::new();
    let (bytes, mut at, mut size) = (text.as_bytes(), 0, 1);
    while at < bytes.len() {
        let end = (at + size).min(bytes.len());
        blocks.extend(parser.feed(&bytes[at..end]));
        at = end;
        size = size % 7 + 1;
    }
    blocks
}

#[test]
fn live_capture_parses_whole_and_in_pieces() {
    let whole = ProgressParser::new().feed(LIVE.as_bytes());
    assert_eq!(whole, parse_in_pieces(LIVE));
    assert_eq!(whole.len(), LIVE.matches("progress=").count());
    assert_eq!(whole.first().unwrap().speed, None, "speed=N/A in the first block");
    assert!(whole.last().unwrap().end, "FFmpeg ended with progress=end after SIGINT");
    let times: Vec<Duration> = whole.iter().map(|b| b.out_time.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "media time never goes back: {times:?}");
    assert!(*times.last().unwrap() >= Duration::from_secs(15));
    assert!(whole[1..].iter().all(|b| b.speed.is_some_and(|s| s > 0.5)));
}

#[test]
fn no_media_capture_has_time_zero_and_padded_speed() {
    let blocks = parse_in_pieces(NO_MEDIA);
    assert!(blocks.len() >= 3);
    assert!(blocks.iter().all(|b| b.out_time == Some(Duration::ZERO) && b.frame == Some(0) && b.total_size.is_none()));
    assert_eq!(blocks[1].speed, Some(0.0), "'speed=   0x' is read despite the padding");
    let t0 = Instant::now();
    let mut health = Health::new(t0);
    let mut events = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        health.on_progress(t0 + Duration::from_millis(500 * i as u64), b.out_time, &mut events);
    }
    assert!(events.is_empty(), "media time 0 is no startup: {events:?}");
}

/// The timed capture as (arrival, block) pairs.
fn timed_blocks() -> Vec<(Duration, ProgressBlock)> {
    let mut parser = ProgressParser::new();
    let mut out = Vec::new();
    for line in LIVE_TIMED.lines() {
        let (ms, rest) = line.split_once(' ').unwrap();
        let at = Duration::from_millis(ms.parse().unwrap());
        for block in parser.feed(format!("{rest}\n").as_bytes()) {
            out.push((at, block));
        }
    }
    out
}

/// Replays the blocks into the health model as the session does: a stall check whenever one is due
/// before the next block, then the block.
fn replay(blocks: &[(Duration, ProgressBlock)], until: Duration, target: Duration) -> Vec<PlaybackEvent> {
    let t0 = Instant::now();
    let threshold = stall_threshold(Some(target));
    let mut health = Health::new(t0);
    let mut events = Vec::new();
    for (at, block) in blocks.iter().filter(|(at, _)| *at <= until) {
        while let Some(due) = health.next_check(threshold).filter(|due| *due <= t0 + *at) {
            health.check(due, threshold, &mut events);
        }
        health.on_progress(t0 + *at, block.out_time, &mut events);
    }
    let end = t0 + until + Duration::from_secs(10);
    if let Some(due) = health.next_check(threshold).filter(|due| *due <= end) {
        health.check(due, threshold, &mut events);
    }
    health.finish(end, &mut events);
    events
}

#[test]
fn real_live_reading_stalls_only_once_the_capture_ends() {
    let blocks = timed_blocks();
    let events = replay(&blocks, Duration::from_secs(60), Duration::from_secs(1));
    assert!(matches!(events[0], PlaybackEvent::StartupComplete { .. }), "{events:?}");
    // Past the end of the capture the media time stops: the model stalls once its ~2 s are played,
    // and not before.
    assert_eq!(events.len(), 3, "startup, then one stall after the capture ends: {events:?}");
    match events[2] {
        PlaybackEvent::StallEnded { stalled_for } => assert!(stalled_for > Duration::from_secs(7), "{events:?}"),
        _ => panic!("{events:?}"),
    }
}

#[test]
fn media_that_stops_advancing_is_a_stall_after_the_buffer() {
    let blocks = timed_blocks();
    let events = replay(&blocks, Duration::from_secs(8), Duration::from_secs(1));
    let began = events.iter().filter(|e| **e == PlaybackEvent::StallBegan).count();
    assert_eq!(began, 1, "{events:?}");
    match events.last() {
        // FFmpeg held about 2 s of media when the feed stopped; the stall runs to the end of the replay.
        Some(PlaybackEvent::StallEnded { stalled_for }) => assert!(*stalled_for > Duration::from_secs(7)),
        other => panic!("the stall is closed at the end: {other:?}"),
    }
}
