//! A low-latency viewer on a fixture of our own: a server that ignores the delivery directives and
//! answers every reload at once with the same LL-HLS playlist. The viewer joins at the part hold-back
//! on an independent part (of the playlist its first blocking reload brings), fetches each part once
//! and in order (never a segment whose parts it has), asks for the hinted part ahead, sends its reloads with `_HLS_msn`/`_HLS_part`, counts them
//! unblocked, and does not spin: no more than one reload per half part target.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hls_swarm::engine::run_swarm;
use hls_swarm::stats::{ErrorClass, Kind, Snapshot};
use tokio::sync::watch;
use url::Url;

/// Segments 10..13 of 1 s, in parts of 0.2 s (the first independent), the first part of 13 listed, the
/// second hinted; part hold-back 0.6 s (three parts).
fn playlist() -> String {
    let mut body = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-VERSION:9\n\
        #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n\
        #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        .to_owned();
    for n in 10..13 {
        body += "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n";
        for p in 0..5 {
            let independent = if p == 0 { ",INDEPENDENT=YES" } else { "" };
            body += &format!("#EXT-X-PART:DURATION=0.2,URI=\"p{n}.{p}.m4s\"{independent}\n");
        }
        body += &format!("#EXTINF:1.0,\ns{n}.m4s\n");
    }
    body += "#EXT-X-PART:DURATION=0.2,URI=\"p13.0.m4s\",INDEPENDENT=YES\n";
    body += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p13.1.m4s\"\n";
    body
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_once_in_order_the_hint_ahead_and_no_spinning_on_a_server_that_does_not_block() {
    let mut routes = vec![("/ll.m3u8", Bytes::from(playlist())), ("/init.mp4", Bytes::from_static(b"init"))];
    for n in 10..14 {
        routes.push((leak(format!("/s{n}.m4s")), Bytes::from(vec![1u8; 500])));
        for p in 0..5 {
            routes.push((leak(format!("/p{n}.{p}.m4s")), Bytes::from(vec![1u8; 100])));
        }
    }
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/ll.m3u8")).unwrap();
    let mut config = common::swarm_config(url, 1, Duration::from_secs(2), 10.0, 1);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let seen: Vec<String> = seen.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    let media: Vec<&str> = seen.iter().filter(|p| !p.contains(".m3u8")).map(String::as_str).collect();
    // 0.6 s back from the end of p13.0 is p12.3; the independent part at or before it is p12.0.
    assert_eq!(
        media,
        ["/init.mp4", "/p12.0.m4s", "/p12.1.m4s", "/p12.2.m4s", "/p12.3.m4s", "/p12.4.m4s", "/p13.0.m4s", "/p13.1.m4s"],
        "{seen:?}"
    );
    // The viewer joins on what its first blocking reload brings (the live edge of that moment), so that
    // reload goes before any part.
    let first_part = seen.iter().position(|p| p.starts_with("/p")).unwrap();
    let first_reload = seen.iter().position(|p| p.starts_with("/ll.m3u8?")).unwrap();
    assert!(first_reload < first_part, "{seen:?}");
    let reloads: Vec<&String> = seen.iter().filter(|p| p.starts_with("/ll.m3u8?")).collect();
    assert!(reloads.iter().all(|p| p.contains("_HLS_msn=13&_HLS_part=1")), "{reloads:?}");
    // 2 s at one reload per half part target at most (0.1 s), and a few more for timing.
    assert!((5..=22).contains(&reloads.len()), "{} reloads: {reloads:?}", reloads.len());
    let run = &snapshot.windows.run;
    assert_eq!(run.kinds[Kind::Part].ok, 6, "{seen:?}");
    assert_eq!(run.kinds[Kind::PreloadHint].ok, 1);
    let blocking = &run.kinds[Kind::BlockingPlaylist];
    assert_eq!(blocking.requests, reloads.len() as u64);
    assert_eq!((blocking.held, blocking.unblocked), (blocking.requests, blocking.requests), "none was held");
    assert_eq!(run.kinds[Kind::Segment].requests, 0, "no segment whose parts were fetched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_update_with_nothing_to_complete_plays_what_it_lists_and_is_counted() {
    // A first load that is a delta update (nothing held to complete it): hls.js plays the segments and
    // parts it lists; so does the viewer, and counts it among the playlist warnings.
    let delta =
        playlist().replace("#EXT-X-MEDIA-SEQUENCE:10\n", "#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n");
    let mut routes = vec![("/ll.m3u8", Bytes::from(delta)), ("/init.mp4", Bytes::from_static(b"init"))];
    for n in 10..16 {
        for p in 0..5 {
            routes.push((leak(format!("/p{n}.{p}.m4s")), Bytes::from(vec![1u8; 100])));
        }
    }
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/ll.m3u8")).unwrap();
    let mut config = common::swarm_config(url, 1, Duration::from_millis(500), 10.0, 1);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let run = &snapshot.windows.run;
    assert_eq!(run.errors, 0, "{:?} {:?}", run.errors_by_class, seen.lock().unwrap());
    assert!(run.kinds[Kind::Part].ok > 0, "{:?}", seen.lock().unwrap());
    assert!(snapshot.totals.playback.playlist_warnings >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_reload_answered_400_rejoins_and_a_hint_never_answered_times_out() {
    // Every blocking reload is a 400 (the server will not hold it); the hinted part never comes.
    let mut routes = vec![
        ("/ll.m3u8?_HLS_msn", Bytes::from_static(common::STATUS_400)),
        ("/ll.m3u8", Bytes::from(playlist())),
        ("/init.mp4", Bytes::from_static(b"init")),
        ("/p13.1.m4s", Bytes::from_static(common::HANG)),
    ];
    for n in 10..14 {
        for p in 0..5 {
            if (n, p) != (13, 1) {
                routes.push((leak(format!("/p{n}.{p}.m4s")), Bytes::from(vec![1u8; 100])));
            }
        }
    }
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/ll.m3u8")).unwrap();
    let mut config = common::swarm_config(url, 1, Duration::from_millis(2500), 10.0, 1);
    let mut net = (*config.viewer.net).clone();
    net.timeout = Duration::from_secs(1);
    config.viewer.net = Arc::new(net);
    config.viewer.entry_kind = Kind::MediaPlaylist;
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snapshot = run_swarm(config, std::future::pending(), tx).await.snapshot;
    let seen: Vec<String> = seen.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    let run = &snapshot.windows.run;
    let blocking = &run.kinds[Kind::BlockingPlaylist];
    assert!(
        blocking.requests >= 1 && blocking.errors_by_class.get(ErrorClass::Http4xx) == blocking.requests,
        "{seen:?}"
    );
    // After each 400 the next reload is a plain one, and the viewer joins anew.
    let plain = seen.iter().filter(|p| *p == "/ll.m3u8").count();
    assert!(plain as u64 >= blocking.requests, "{plain} plain loads for {} 400s: {seen:?}", blocking.requests);
    let parts: Vec<&String> = seen.iter().filter(|p| p.starts_with("/p")).collect();
    let unique: std::collections::BTreeSet<&&String> = parts.iter().collect();
    assert_eq!(parts.len(), unique.len(), "rejoining fetches no part twice: {parts:?}");
    let hint = &run.kinds[Kind::PreloadHint];
    assert_eq!((hint.requests, hint.errors_by_class.get(ErrorClass::Timeout)), (1, 1), "{seen:?}");
    assert_eq!(snapshot.totals.playback.restarts, 0, "the viewer went on: {seen:?}");
}
