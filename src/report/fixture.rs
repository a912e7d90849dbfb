//! A small low-latency run for the reports' tests, recorded through the real recorder and aggregator:
//! two viewers on a two-rung ladder, requests of every kind.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::RunMeta;
use crate::live::{RunInfo, Rung};
use crate::stats::{Aggregator, Hold, Kind, PlaybackEvent, Recorder, RequestRecord, Snapshot};

pub(super) fn request(kind: Kind, variant: Option<u16>, ttfb_ms: u64, total_ms: u64, bytes: u64) -> RequestRecord {
    let mut r = RequestRecord::ok(kind, Duration::from_millis(total_ms), bytes);
    r.timings.ttfb = Some(Duration::from_millis(ttfb_ms));
    r.timings.headers = r.timings.ttfb;
    r.variant = variant;
    r
}

/// What every viewer of the run does, in order.
fn play(recorder: &Recorder, variant: u16) {
    let v = Some(variant);
    recorder.record_playback(PlaybackEvent::Started);
    recorder.record_request(&request(Kind::Multivariant, None, 3, 4, 400));
    recorder.record_request(&request(Kind::MediaPlaylist, v, 2, 3, 2_000));
    recorder.record_request(&request(Kind::Init, v, 2, 3, 800));
    recorder.record_request(&request(Kind::Segment, v, 10, 40, 400_000));
    recorder.record_playback(PlaybackEvent::StartupComplete { startup: Duration::from_millis(600) });
    for i in 0..4 {
        recorder.record_request(&request(Kind::Part, v, 5, 12 + i, 50_000));
        let held = |kind, hold, ttfb_ms, total_ms, bytes| RequestRecord {
            hold: Some(hold),
            ..request(kind, v, ttfb_ms, total_ms, bytes)
        };
        recorder.record_request(&held(Kind::PreloadHint, Hold::Held, 180 + i, 200 + i, 50_000));
        // The last reload of each viewer comes back at once, without the part it asked for.
        let (hold, ttfb_ms) = if i == 3 { (Hold::Unblocked, 2) } else { (Hold::Held, 190 + i) };
        recorder.record_request(&held(Kind::BlockingPlaylist, hold, ttfb_ms, ttfb_ms + 2, 2_500));
    }
    for (latency_ms, parts) in [(2_000, 3), (2_400, 4), (3_000, 6)] {
        recorder.record_playback(PlaybackEvent::LiveLatency { latency: Duration::from_millis(latency_ms) });
        recorder.record_playback(PlaybackEvent::EdgeDistance { parts });
    }
}

/// The run's snapshot after its last tick, and the facts the reports name it by.
pub(super) fn ll_run() -> (Arc<Snapshot>, RunMeta) {
    let start = Instant::now();
    let recorder = Recorder::with_shards(1);
    let mut agg = Aggregator::new(recorder.clone(), start);
    play(&recorder, 0);
    agg.tick(start + Duration::from_secs(1));
    play(&recorder, 1);
    let snapshot = agg.finish(start + Duration::from_secs(2));
    let rung = |index: u16, label: &str, bandwidth| Rung {
        index,
        label: label.into(),
        bandwidth,
        uri: format!("http://o/{label}/stream.m3u8"),
        rendition: None,
    };
    let info = RunInfo {
        target: "http://o/master.m3u8".into(),
        engine: "native",
        clients_target: 2,
        duration: Some(Duration::from_secs(2)),
        ramp_rate: 1.0,
        started: start,
        started_at: SystemTime::UNIX_EPOCH,
        ladder: vec![rung(0, "360p", 800_000), rung(1, "720p", 2_500_000)],
    };
    (snapshot, RunMeta { info: Arc::new(info), abandoned: 0, origin: None, origin_metrics: None, notes: Vec::new() })
}
