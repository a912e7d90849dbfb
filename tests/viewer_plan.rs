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

/// Two AES-128 segments of TS packets under one key (IV from the media sequence number, 5 and 6).
async fn play_encrypted(served_key: [u8; 16], check: bool) -> (Vec<(String, Option<String>)>, Arc<Snapshot>) {
    use hls_swarm::hls::crypto;
    let key = *b"0123456789abcdef";
    let ts: Vec<u8> = (0..4).flat_map(|_| std::iter::once(0x47u8).chain(std::iter::repeat_n(0xFF, 187))).collect();
    let segment = |sequence: u64| Bytes::from(crypto::encrypt(&key, &crypto::iv_for(None, sequence).unwrap(), &ts));
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-PLAYLIST-TYPE:VOD\n\
        #EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n#EXTINF:1,\ns5.ts\n#EXTINF:1,\ns6.ts\n#EXT-X-ENDLIST\n";
    let routes = vec![
        ("/vod.m3u8", Bytes::from(playlist)),
        ("/k.key", Bytes::copy_from_slice(&served_key)),
        ("/s5.ts", segment(5)),
        ("/s6.ts", segment(6)),
    ];
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/vod.m3u8")).unwrap();
    let mut config = common::swarm_config(url, 1, Duration::from_millis(1500), 10.0, 1);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    config.viewer.decrypt_check = check;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (seen, snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypt_check_passes_the_right_key_and_catches_a_wrong_one() {
    let (seen, snapshot) = play_encrypted(*b"0123456789abcdef", true).await;
    let run = &snapshot.windows.run;
    assert_eq!((run.errors, run.kinds[Kind::Segment].ok, run.kinds[Kind::Key].requests), (0, 2, 1), "{seen:?}");
    // A wrong key (the right length): each segment is fetched and counted, fails the check as a key
    // error, and the key is asked for again with the next segment.
    let (seen, snapshot) = play_encrypted(*b"fedcba9876543210", true).await;
    let run = &snapshot.windows.run;
    let seg = &run.kinds[Kind::Segment];
    assert_eq!(seg.errors_by_class.get(ErrorClass::Key), seg.requests, "{seen:?}");
    assert!(seg.requests >= 2 && seg.bytes > 0, "{seen:?}");
    assert_eq!(run.kinds[Kind::Key].requests, seg.requests, "a key per segment while it does not decrypt");
    // Without the check, the same wrong key goes unnoticed (a viewer does not decrypt).
    let (seen, snapshot) = play_encrypted(*b"fedcba9876543210", false).await;
    assert_eq!(snapshot.windows.run.errors, 0, "{seen:?}");
}
