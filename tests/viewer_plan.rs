//! What a viewer asks for before and instead of a segment, on a fixture of our own: the init section
//! (`EXT-X-MAP`, by its byte range) once, each key once, segments by their byte ranges, nothing for an
//! `EXT-X-GAP`; and what it counts when the answer is wrong.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hls_swarm::engine::run_swarm;
use hls_swarm::stats::{ErrorClass, Kind, Snapshot};
use tokio::sync::watch;
use url::Url;

/// A VOD of four 1 s segments cut from one file, the third a gap, under one key and one init section.
const PLAYLIST: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n\
    #EXT-X-MAP:URI=\"main.mp4\",BYTERANGE=\"720@0\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n\
    #EXTINF:1,\n#EXT-X-BYTERANGE:1000@720\nmain.mp4\n#EXTINF:1,\n#EXT-X-BYTERANGE:1000\nmain.mp4\n\
    #EXT-X-GAP\n#EXTINF:1,\ngap.mp4\n#EXTINF:1,\n#EXT-X-BYTERANGE:1000@2720\nmain.mp4\n#EXT-X-ENDLIST\n";

async fn play(key: Bytes) -> (Vec<(String, Option<String>)>, Arc<Snapshot>) {
    let routes =
        vec![("/vod.m3u8", Bytes::from(PLAYLIST)), ("/main.mp4", Bytes::from(vec![7u8; 720 + 3000])), ("/k.key", key)];
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/vod.m3u8")).unwrap();
    // One viewer for 3 s: it fetches the VOD through once (its buffer target is 2 s, the gap counts as
    // buffered), then plays it out.
    let mut config = common::swarm_config(url, 1, Duration::from_secs(3), 10.0, 1);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let outcome = run_swarm(config, std::future::pending(), tx).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (seen, outcome.snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_and_key_once_then_segments_by_their_ranges_and_no_gap() {
    let (seen, snapshot) = play(Bytes::from_static(b"0123456789abcdef")).await;
    let asked: Vec<(&str, Option<&str>)> = seen.iter().map(|(p, r)| (p.as_str(), r.as_deref())).collect();
    assert_eq!(
        &asked[..6],
        [
            ("/vod.m3u8", None),
            ("/main.mp4", Some("bytes=0-719")),
            ("/k.key", None),
            ("/main.mp4", Some("bytes=720-1719")),
            ("/main.mp4", Some("bytes=1720-2719")),
            ("/main.mp4", Some("bytes=2720-3719")),
        ],
        "{asked:?}"
    );
    assert!(!asked.iter().any(|(p, _)| *p == "/gap.mp4"), "the gap is never requested");
    let run = &snapshot.windows.run;
    assert_eq!(run.errors, 0, "{:?}", run.errors_by_class);
    assert_eq!((run.kinds[Kind::Init].ok, run.kinds[Kind::Key].ok, run.kinds[Kind::Segment].ok), (1, 1, 3));
    assert_eq!(run.kinds[Kind::Init].bytes, 720);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_16_bytes_is_a_key_error_and_its_segments_are_not_fetched() {
    let (seen, snapshot) = play(Bytes::from_static(b"<html>not a key</html>")).await;
    let run = &snapshot.windows.run;
    assert!(run.errors_by_class.get(ErrorClass::Key) > 0, "{:?}", run.errors_by_class);
    assert_eq!(run.kinds[Kind::Segment].requests, 0, "no segment without its key: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leniencies_and_keys_not_fetched_are_counted_not_silent() {
    // A FairPlay key (never fetched: counted once for the viewer), then a last #EXTINF with no URI (the
    // segment is not there yet: ignored, counted as a warning of that load).
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n\
        #EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://asset\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n\
        #EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n#EXTINF:1,\n";
    let routes = vec![
        ("/vod.m3u8", Bytes::from(playlist)),
        ("/a.ts", Bytes::from(vec![0x47u8; 188])),
        ("/b.ts", Bytes::from(vec![0x47u8; 188])),
    ];
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/vod.m3u8")).unwrap();
    let mut config = common::swarm_config(url, 1, Duration::from_millis(1500), 10.0, 1);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.iter().any(|(p, _)| p.starts_with("/asset") || p.contains("skd")), "{seen:?}");
    let p = &snapshot.totals.playback;
    assert_eq!((p.keys_skipped, p.playlist_warnings), (1, 1), "{seen:?}");
    assert_eq!(snapshot.windows.run.kinds[Kind::Segment].ok, 2);
    assert_eq!(snapshot.windows.run.errors, 0);
}
