//! Malformed playlists and unreachable targets: each is an error class on its request, the viewer
//! retries with backoff, and nothing panics.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hls_swarm::engine::run_swarm;
use hls_swarm::net::NetConfig;
use hls_swarm::stats::{ErrorClass, Snapshot};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use url::Url;

fn live(seq: u64, eol: &str) -> String {
    let mut s = format!("#EXTM3U{eol}#EXT-X-TARGETDURATION:1{eol}#EXT-X-MEDIA-SEQUENCE:{seq}{eol}");
    for n in seq..seq + 4 {
        s.push_str(&format!("#EXTINF:0.5,{eol}seg{n}.ts{eol}"));
    }
    s
}

/// A server that answers each path with a fixed (bad or odd) playlist; `/backwards.m3u8` moves its
/// media sequence back on every other load of a connection.
async fn bad_origin() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            // Per connection, so each viewer (one keep-alive connection) sees 100, 50, 100, ...
            let loads = Arc::new(AtomicU64::new(0));
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let body: Bytes = match req.uri().path() {
                        "/no-header.m3u8" => Bytes::from("#EXT-X-TARGETDURATION:1\n#EXTINF:0.5,\nseg1.ts\n"),
                        "/no-extinf.m3u8" => Bytes::from("#EXTM3U\n#EXT-X-TARGETDURATION:1\nseg1.ts\nseg2.ts\n"),
                        "/garbage.m3u8" => {
                            Bytes::from((0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>())
                        }
                        "/crlf.m3u8" => Bytes::from(live(10, "\r\n")),
                        "/bom.m3u8" => Bytes::from(format!("\u{feff}{}", live(10, "\n"))),
                        "/huge.m3u8" => {
                            let mut s = live(10, "\n");
                            s.push_str(&"#EXT-X-COMMENT:padding padding padding padding\n".repeat(50 << 20 >> 6));
                            Bytes::from(s)
                        }
                        "/empty-master.m3u8" => Bytes::from("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"),
                        "/backwards.m3u8" => {
                            let n = loads.fetch_add(1, Ordering::Relaxed);
                            Bytes::from(live(if n.is_multiple_of(2) { 100 } else { 50 }, "\n"))
                        }
                        p if p.ends_with(".ts") => Bytes::from(vec![0x47u8; 188 * 10]),
                        _ => Bytes::from("#EXTM3U\n"),
                    };
                    async move { Ok::<_, Infallible>(http::Response::new(Full::new(body))) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

async fn play(url: Url, seconds: u64) -> Arc<Snapshot> {
    let mut config = common::swarm_config(url, 2, Duration::from_secs(seconds), 100.0, 1);
    config.plan.drain_timeout = Duration::from_secs(3);
    config.viewer.net = Arc::new(NetConfig { timeout: Duration::from_secs(2), ..(*config.viewer.net).clone() });
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    run_swarm(config, std::future::pending(), tx).await.snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_playlists_are_playlist_parse_errors_and_viewers_retry() {
    let addr = bad_origin().await;
    for path in ["no-header", "no-extinf", "garbage", "huge", "empty-master", "backwards"] {
        let url = Url::parse(&format!("http://{addr}/{path}.m3u8")).unwrap();
        let s = play(url, 3).await;
        let errors = &s.windows.run.errors_by_class;
        assert!(errors.get(ErrorClass::PlaylistParse) > 0, "{path}: {errors:?}");
        assert!(s.playback().restarts > 0, "{path}: viewers did not retry");
        assert_eq!(s.gauges.active, 0, "{path}: every viewer stopped at the end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_and_bom_playlists_play() {
    let addr = bad_origin().await;
    for path in ["crlf", "bom"] {
        let url = Url::parse(&format!("http://{addr}/{path}.m3u8")).unwrap();
        let s = play(url, 2).await;
        assert_eq!(s.windows.run.errors, 0, "{path}: {:?}", s.windows.run.errors_by_class);
        assert!(s.windows.run.segments_downloaded > 0, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let s = play(Url::parse(&format!("http://{addr}/live.m3u8")).unwrap(), 2).await;
    assert!(s.windows.run.errors_by_class.get(ErrorClass::Connect) > 0);
    assert!(s.playback().restarts > 0);
}
