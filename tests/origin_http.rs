//! The built-in origin over real HTTP on 127.0.0.1:0: routes, heads, Range, faults, and a ground truth
//! that equals what a plain client received.

mod common;

use std::time::Duration;

use common::{Client, sample};
use hls_swarm::origin::{self, FaultConfig, OriginConfig, ServedKind, VariantSpec};

fn config() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "360p".into(), height: 360, bitrate: 800_000 },
            VariantSpec { name: "720p".into(), height: 720, bitrate: 2_500_000 },
        ],
        segment_duration: Duration::from_millis(200),
        window: 5,
        ..OriginConfig::local_default()
    }
}

fn segment_uris(playlist: &str) -> Vec<String> {
    playlist.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(str::to_string).collect()
}

#[tokio::test]
async fn metrics_equal_what_the_client_received() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let (mut playlist_bytes, mut segment_bytes, mut playlists, mut segments) = (0u64, 0u64, 0u64, 0u64);
    let master = client.get("/master.m3u8").await;
    assert_eq!(master.status, 200);
    let variants = segment_uris(&master.text());
    assert_eq!(variants, ["360p/stream.m3u8", "720p/stream.m3u8"]);
    for round in 0..3 {
        for v in &variants {
            let pl = client.get(&format!("/{v}")).await;
            assert_eq!(pl.status, 200);
            playlists += 1;
            playlist_bytes += pl.body.len() as u64;
            let folder = v.trim_end_matches("stream.m3u8");
            for seg in segment_uris(&pl.text()).iter().rev().take(2) {
                let s = client.get(&format!("/{folder}{seg}")).await;
                assert_eq!(s.status, 200, "round {round} {seg}");
                segments += 1;
                segment_bytes += s.body.len() as u64;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = client.get("/metrics").await.text();
    let c = origin.counters();
    assert_eq!(c.requests(ServedKind::Multivariant, "200"), 1);
    assert_eq!(c.body_bytes(ServedKind::Multivariant), master.body.len() as u64);
    assert_eq!(c.requests(ServedKind::MediaPlaylist, "200"), playlists);
    assert_eq!(c.body_bytes(ServedKind::MediaPlaylist), playlist_bytes);
    assert_eq!(c.requests(ServedKind::Segment, "200"), segments);
    assert_eq!(c.body_bytes(ServedKind::Segment), segment_bytes);
    // The exposition says the same, on the wire.
    // Summed over the variants: each series is one variant's.
    let got = |prefix: &str, suffix: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.split(' ').next().is_some_and(|series| series.ends_with(suffix)))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(got("hls_origin_requests_total{kind=\"segment\",", "status=\"200\"}"), segments);
    assert_eq!(got("hls_origin_response_body_bytes_total{kind=\"segment\",", "}"), segment_bytes);
    assert_eq!(got("hls_origin_response_body_bytes_total{kind=\"media_playlist\",", "}"), playlist_bytes);
    assert_eq!(sample(&text, "hls_origin_connections_active"), Some(1.0));
    origin.shutdown().await;
}

#[tokio::test]
async fn heads_ranges_and_bad_requests() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let pl = client.get("/720p/stream.m3u8").await;
    assert_eq!(pl.headers["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(pl.headers["cache-control"], "max-age=0");
    let seg = segment_uris(&pl.text()).pop().unwrap();
    let full = client.get(&format!("/720p/{seg}")).await;
    assert_eq!(full.headers["content-type"], "video/mp2t");
    assert_eq!(full.headers["cache-control"], "max-age=60, immutable");
    assert_eq!(full.headers["content-length"], full.body.len().to_string().as_str());
    assert_eq!(full.body.len() % 188, 0);

    let head = client.request("HEAD", &format!("/720p/{seg}"), &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-length"], full.body.len().to_string().as_str());

    let part = client.request("GET", &format!("/720p/{seg}"), &[("range", "bytes=188-375")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(&part.body[..], &full.body[188..376]);
    let want = format!("bytes 188-375/{}", full.body.len());
    assert_eq!(part.headers["content-range"], want.as_str());
    let tail = client.request("GET", &format!("/720p/{seg}"), &[("range", "bytes=-188")]).await;
    assert_eq!(&tail.body[..], &full.body[full.body.len() - 188..]);
    let past = client.request("GET", &format!("/720p/{seg}"), &[("range", "bytes=99999999-")]).await;
    assert_eq!(past.status, 416);

    assert_eq!(client.get("/nope").await.status, 404);
    assert_eq!(client.get("/720p/seg99999.ts").await.status, 404, "future segment");
    assert_eq!(client.get("/720p/seg00000.ts?x=%zz&&=").await.status, 200, "query ignored");
    assert_eq!(client.get("/480p/stream.m3u8").await.status, 404);
    assert_eq!(client.get("/../etc/passwd").await.status, 404);
    let post = client.request("POST", "/master.m3u8", &[]).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.headers["allow"], "GET, HEAD, OPTIONS", "OPTIONS answers CORS preflights");
    let big = "x".repeat(40_000);
    let mut other = Client::connect(origin.addr()).await;
    assert_eq!(other.request("GET", "/master.m3u8", &[("x-big", &big)]).await.status, 431);
    origin.shutdown().await;
}

#[tokio::test]
async fn old_segments_leave_after_the_late_grace() {
    let origin = origin::spawn(OriginConfig { segment_duration: Duration::from_millis(100), window: 3, ..config() })
        .await
        .unwrap();
    let mut client = Client::connect(origin.addr()).await;
    assert_eq!(client.get("/360p/seg00000.ts").await.status, 200);
    // Window 3 + grace 3: segment 0 is gone once 7 segments exist, i.e. after 4 more (400 ms).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.get("/360p/seg00000.ts").await.status == 200 {
        assert!(tokio::time::Instant::now() < deadline, "segment 0 never left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listing = client.get("/360p/files/json/").await;
    let entries: serde_json::Value = serde_json::from_slice(&listing.body).unwrap();
    let names: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"seg00000.ts"));
    assert_eq!(names.len(), 6);
    assert!(entries[0]["size"].as_u64().unwrap() > 0);
    assert!(entries[0]["mtime"].as_str().unwrap().ends_with(" GMT"));
    origin.shutdown().await;
}

#[tokio::test]
async fn a_playlist_written_once_per_segment_is_what_every_request_of_that_segment_gets() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let sequence =
        |t: &str| -> u64 { t.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).unwrap().parse().unwrap() };
    let newest = |t: &str| segment_uris(t).last().unwrap().clone();
    let first = client.get("/720p/stream.m3u8").await.text();
    // Until the next segment exists the view is the same, and so is the text.
    let mut again = client.get("/720p/stream.m3u8").await.text();
    if newest(&again) == newest(&first) {
        assert_eq!(again, first);
    }
    // The next segment: a new text, one segment on (200 ms segments).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while newest(&again) == newest(&first) {
        assert!(tokio::time::Instant::now() < deadline, "the playlist never moved on");
        tokio::time::sleep(Duration::from_millis(20)).await;
        again = client.get("/720p/stream.m3u8").await.text();
    }
    assert!(sequence(&again) >= sequence(&first), "{first}\n{again}");
    let seq_no = |uri: &str| -> u64 { uri.trim_start_matches("seg").trim_end_matches(".ts").parse().unwrap() };
    assert!(seq_no(&newest(&again)) > seq_no(&newest(&first)), "{first}\n{again}");
    origin.shutdown().await;
}

#[tokio::test]
async fn vod_lists_everything_with_endlist() {
    let cfg = OriginConfig { vod: Some(Duration::from_secs(2)), start_sequence: 100, ..config() };
    let origin = origin::spawn(cfg).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let text = client.get("/stream.m3u8").await.text();
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD"));
    assert!(text.trim_end().ends_with("#EXT-X-ENDLIST"));
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:100\n"));
    assert_eq!(segment_uris(&text).len(), 10);
    // The root playlist's relative URIs point into the first variant's folder.
    let first = segment_uris(&text)[0].clone();
    assert_eq!(first, "360p/seg00100.ts");
    assert_eq!(client.get(&format!("/{first}")).await.status, 200);
    assert_eq!(client.get("/360p/seg00109.ts").await.status, 200);
    assert_eq!(client.get("/360p/seg00110.ts").await.status, 404);
    assert_eq!(client.get("/360p/seg00099.ts").await.status, 404);
    origin.shutdown().await;
}

#[tokio::test]
async fn faults_are_served_and_counted() {
    let faults = FaultConfig { http_5xx: 0.3, http_404: 0.3, ..Default::default() };
    let origin = origin::spawn(OriginConfig { faults, ..config() }).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..200 {
        *statuses.entry(client.get("/360p/seg00001.ts").await.status).or_insert(0u64) += 1;
    }
    let c = origin.counters();
    assert!(statuses[&503] > 20 && statuses[&404] > 20 && statuses[&200] > 20, "{statuses:?}");
    assert_eq!(c.requests(ServedKind::Segment, "503"), statuses[&503]);
    assert_eq!(c.faults(origin::Fault::Http5xx), statuses[&503]);
    assert_eq!(c.faults(origin::Fault::Http404), statuses[&404]);
    origin.shutdown().await;
}

#[tokio::test]
async fn reset_fault_cuts_the_body_and_counts_aborted() {
    let faults = FaultConfig { reset: 1.0, ..Default::default() };
    let origin = origin::spawn(OriginConfig { faults, ..config() }).await.unwrap();
    let stream = tokio::net::TcpStream::connect(origin.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, http_body_util::Empty<bytes::Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("/360p/seg00001.ts").header("host", "x").body(Default::default()).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let declared: u64 = resp.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let result = http_body_util::BodyExt::collect(resp.into_body()).await;
    assert!(result.is_err(), "body must be cut short");
    let c = origin.counters().clone();
    // The server records the abort when hyper drops the body, right after the cut.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while c.requests(ServedKind::Segment, "aborted") == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::task::yield_now().await;
    }
    let sent = c.body_bytes(ServedKind::Segment);
    assert!(sent > 0 && sent < declared, "{sent} of {declared}");
    assert_eq!(c.faults(origin::Fault::Reset), 1);
    origin.shutdown().await;
}

#[tokio::test]
async fn bandwidth_fault_slows_bodies() {
    let faults = FaultConfig { bandwidth: Some(400_000), ..Default::default() };
    let origin = origin::spawn(OriginConfig { faults, ..config() }).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let started = std::time::Instant::now();
    let seg = client.get("/720p/seg00001.ts").await; // ~62 KB at 2.5 Mbps x 0.2 s
    let took = started.elapsed().as_secs_f64();
    let floor = seg.body.len() as f64 / 400_000.0 * 0.8;
    assert!(took >= floor, "{} bytes in {took:.3} s is faster than the limit", seg.body.len());
    origin.shutdown().await;
}

#[tokio::test]
async fn stale_playlist_fault_freezes_the_sequence() {
    let faults = FaultConfig { stale_playlist: Some(Duration::from_millis(300)), ..Default::default() };
    let origin =
        origin::spawn(OriginConfig { faults, segment_duration: Duration::from_millis(100), ..config() }).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let seq =
        |t: &str| -> u64 { t.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).unwrap().parse().unwrap() };
    // Poll until a whole stale phase has gone by: every fetch the origin counts as stale shows the same
    // sequence, those fetches span more than a segment, and the first fetch after the phase has moved on.
    let stale_fault = || origin.counters().faults(origin::Fault::StalePlaylist);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut stale: Vec<(tokio::time::Instant, u64)> = Vec::new();
    let mut seen_fresh = false; // a phase is whole only when a fresh fetch came before it
    let after = loop {
        assert!(tokio::time::Instant::now() < deadline, "no whole stale phase in 5 s: {stale:?}");
        let (before, at) = (stale_fault(), tokio::time::Instant::now());
        let sequence = seq(&client.get("/stream.m3u8").await.text());
        if stale_fault() == before {
            if !stale.is_empty() {
                break sequence;
            }
            seen_fresh = true;
        } else if seen_fresh {
            stale.push((at, sequence));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let frozen = stale[0].1;
    assert!(stale.iter().all(|(_, s)| *s == frozen), "the playlist advanced while stale: {stale:?}");
    let span = stale.last().unwrap().0 - stale[0].0;
    assert!(span > Duration::from_millis(150), "the stale fetches span {span:?}, more than a 100 ms segment");
    assert!(after > frozen, "the playlist moves on after the stale phase ({frozen} -> {after})");
    origin.shutdown().await;
}

/// hls.js in a browser page reads the origin only when CORS allows it; a user who appends a path to the
/// printed base URL gets a double slash.
#[tokio::test]
async fn browsers_may_play_it_and_double_slashes_are_merged() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    let page = [("origin", "http://player.example")];
    for path in ["/master.m3u8", "/720p/stream.m3u8", "/720p/seg00000.ts", "/nope"] {
        let r = client.request("GET", path, &page).await;
        assert_eq!(r.headers["access-control-allow-origin"], "*", "{path}");
        assert!(r.headers["access-control-expose-headers"].to_str().unwrap().contains("Content-Range"), "{path}");
    }
    let asked = [
        ("origin", "http://player.example"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "range"),
    ];
    let preflight = client.request("OPTIONS", "/720p/seg00000.ts", &asked).await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.headers["access-control-allow-origin"], "*");
    assert!(preflight.headers["access-control-allow-methods"].to_str().unwrap().contains("GET"));
    assert_eq!(preflight.headers["access-control-allow-headers"], "range");
    assert_eq!(origin.counters().requests(ServedKind::Other, "204"), 1, "a preflight is counted as other");
    let master = client.get("/master.m3u8").await;
    let doubled = client.get("//master.m3u8").await;
    assert_eq!((doubled.status, doubled.body), (200, master.body), "//master.m3u8 is /master.m3u8");
    assert_eq!(client.get("/720p//stream.m3u8").await.status, 200);
    assert_eq!(client.get("///720p///seg00000.ts").await.status, 200);
    origin.shutdown().await;
}

#[tokio::test]
async fn garbage_requests_get_answers_not_panics() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = origin::spawn(config()).await.unwrap();
    let long_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20_000));
    let requests: Vec<Vec<u8>> = vec![
        b"BREW /master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET /%zz%00/../seg00001.ts?%%%&=&&range=1 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET /360p/seg00001.ts HTTP/1.1\r\nHost: x\r\nRange: bytes=-\r\n\r\n".to_vec(),
        b"GET /360p/seg00001.ts HTTP/1.1\r\nHost: x\r\nRange: bytes=999999999999999999999-1\r\n\r\n".to_vec(),
        b"GET /360p/seg99999999999999999999999.ts HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET /360p/seg00000000000000000001.ts HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        long_path.into_bytes(),
    ];
    for raw in requests {
        let mut s = tokio::net::TcpStream::connect(origin.addr()).await.unwrap();
        s.write_all(&raw).await.unwrap();
        let mut buf = vec![0u8; 512];
        // Every request gets an answer (or a closed connection), within the bounded wait.
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("answered").unwrap_or(0);
        if n > 0 {
            assert!(buf.starts_with(b"HTTP/1.1 "), "{}", String::from_utf8_lossy(&buf[..n]));
        }
    }
    // And the origin still serves.
    let mut client = Client::connect(origin.addr()).await;
    assert_eq!(client.get("/master.m3u8").await.status, 200);
    origin.shutdown().await;
}

/// `hls-swarm run` without a URL starts the origin on threads of its own: it answers while the caller's
/// only thread is blocked on it, and shutting it down ends those threads.
#[tokio::test]
async fn a_dedicated_origin_runs_on_threads_of_its_own() {
    use std::io::{Read, Write};
    let origin = origin::spawn_dedicated(config(), 2).unwrap();
    // A blocking request on this current-thread runtime's only thread: only another thread can answer it.
    let mut stream = std::net::TcpStream::connect(origin.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"GET /master.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answered from the origin's own threads");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The thread that runs it and the worker that answered.
    assert!(origin_threads() >= 2, "{} origin threads", origin_threads());
    origin.shutdown().await;
    assert_eq!(origin_threads(), 0, "shutdown joins the origin's threads");
}

/// Threads of this process named `hls-swarm-origin` (Linux truncates names to 15 bytes).
fn origin_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux /proc");
    tasks
        .filter_map(Result::ok)
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == "hls-swarm-origi"))
        .count()
}
